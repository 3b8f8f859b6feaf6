//! Chat end to end: a real server on loopback with a real SQLite file, real
//! WebSocket clients, and real HTTP uploads.

mod common;

use clinicall_protocol::chat::{ChatMessage, ConversationSummary};
use clinicall_protocol::{
    AttachmentId, ClientEnvelope, ClientMessage, ConversationId, ErrorCode, MessageId, Role,
    ServerMessage, UserId,
};
use common::{Client, TestServer, TestUser, uuid_short};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(300);

/// Sends `msg` with a fresh `req` and returns the reply carrying it.
async fn request(client: &mut Client, msg: ClientMessage) -> ServerMessage {
    client.request(msg).await
}

async fn open(client: &mut Client, peer: UserId) -> ConversationSummary {
    match request(client, ClientMessage::ChatOpen { peer }).await {
        ServerMessage::ChatConversation { conversation } => conversation,
        other => panic!("expected chat_conversation, got {other:?}"),
    }
}

fn send_msg(conversation_id: ConversationId, id: MessageId, body: &str) -> ClientMessage {
    ClientMessage::ChatSend {
        conversation_id,
        id,
        body: body.into(),
        attachments: vec![],
    }
}

/// Sends a message and returns its acked seq.
async fn send(client: &mut Client, conversation: ConversationId, body: &str) -> (MessageId, u64) {
    let id = MessageId::random();
    match request(client, send_msg(conversation, id, body)).await {
        ServerMessage::ChatAck { id: acked, seq, .. } => {
            assert_eq!(acked, id);
            (id, seq)
        }
        other => panic!("expected chat_ack, got {other:?}"),
    }
}

async fn fetch(
    client: &mut Client,
    conversation_id: ConversationId,
    after_seq: Option<u64>,
    before_seq: Option<u64>,
    limit: u32,
) -> (Vec<ChatMessage>, bool) {
    let msg = ClientMessage::ChatFetch {
        conversation_id,
        after_seq,
        before_seq,
        limit,
    };
    match request(client, msg).await {
        ServerMessage::ChatMessages {
            messages,
            more,
            conversation_id: c,
        } => {
            assert_eq!(c, conversation_id);
            (messages, more)
        }
        other => panic!("expected chat_messages, got {other:?}"),
    }
}

async fn list(client: &mut Client) -> Vec<ConversationSummary> {
    match request(client, ClientMessage::ChatList).await {
        ServerMessage::ChatConversations { conversations } => conversations,
        other => panic!("expected chat_conversations, got {other:?}"),
    }
}

async fn error_of(client: &mut Client, msg: ClientMessage) -> ErrorCode {
    match request(client, msg).await {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn delivered(client: &mut Client) -> ChatMessage {
    client
        .recv_until(|m| match m {
            ServerMessage::ChatMessage { message } => Some(message.clone()),
            _ => None,
        })
        .await
}

/// Reads until a ping round trip, returning the chat messages that came
/// before it.
async fn delivered_until_pong(client: &mut Client) -> Vec<ChatMessage> {
    let req = format!("fence-{}", uuid_short());
    client
        .send_env(ClientEnvelope::with_req(req.clone(), ClientMessage::Ping))
        .await;
    let mut out = Vec::new();
    loop {
        let env = client.recv().await;
        match env.msg {
            ServerMessage::ChatMessage { message } => out.push(message),
            ServerMessage::Pong if env.req.as_deref() == Some(req.as_str()) => return out,
            _ => {}
        }
    }
}

/// A server, and a doctor and a patient who know each other.
async fn chat_pair() -> (TestServer, TestUser, TestUser) {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    (server, doctor, patient)
}

/// A doctor and a patient, each with one device, and their conversation.
async fn connected_pair() -> (
    (TestServer, TestUser, TestUser),
    Client,
    Client,
    ConversationSummary,
) {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let d = server.connect(&doctor).await;
    let conv = open(&mut p, doctor.id()).await;
    ((server, doctor, patient), p, d, conv)
}

#[tokio::test]
async fn a_message_is_acked_to_the_sender_and_delivered_to_every_other_device() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p1 = server.connect(&patient).await;
    let mut p2 = server.connect(&patient).await;
    let mut d1 = server.connect(&doctor).await;
    let mut d2 = server.connect(&doctor).await;

    let conv = open(&mut p1, doctor.id()).await;
    assert_eq!(conv.peer.id, doctor.id());
    assert_eq!((conv.last_seq, conv.unread), (0, 0));
    // The doctor opening it finds the same conversation.
    assert_eq!(open(&mut d1, patient.id()).await.id, conv.id);

    let (id, seq) = send(&mut p1, conv.id, "My rash is spreading").await;
    assert_eq!(seq, 1);
    for device in [&mut p2, &mut d1, &mut d2] {
        let m = delivered(device).await;
        assert_eq!((m.id, m.seq, m.sender), (id, 1, patient.id()));
        assert_eq!(m.body, "My rash is spreading");
        assert_eq!(m.conversation_id, conv.id);
    }
    // The sending device gets the ack, not a copy.
    assert!(delivered_until_pong(&mut p1).await.is_empty());

    // And the other way round.
    let (_, seq) = send(&mut d2, conv.id, "Send me a photo").await;
    assert_eq!(seq, 2);
    for device in [&mut p1, &mut p2, &mut d1] {
        assert_eq!(delivered(device).await.seq, 2);
    }
    assert!(delivered_until_pong(&mut d2).await.is_empty());
}

#[tokio::test]
async fn a_resent_message_is_stored_once_and_acked_with_its_first_seq() {
    let ((server, _doctor, patient), mut p, mut d, conv) = connected_pair().await;
    send(&mut p, conv.id, "first").await;

    let id = MessageId::random();
    let first = request(&mut p, send_msg(conv.id, id, "again")).await;
    let second = request(&mut p, send_msg(conv.id, id, "again")).await;
    assert_eq!(first, second, "a resend is acked exactly like the original");
    let ServerMessage::ChatAck { seq, .. } = first else {
        panic!("expected an ack, got {first:?}");
    };
    assert_eq!(seq, 2);
    // Delivered once.
    let got = delivered_until_pong(&mut d).await;
    assert_eq!(
        got.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![1, 2],
        "{got:?}"
    );
    let (stored, more) = fetch(&mut p, conv.id, Some(0), None, 50).await;
    assert!(!more);
    assert_eq!(stored.iter().filter(|m| m.id == id).count(), 1);
    assert_eq!(stored.len(), 2);

    // The same id from the other party, or into another conversation, is
    // refused and stores nothing.
    assert_eq!(
        error_of(&mut d, send_msg(conv.id, id, "hijack")).await,
        ErrorCode::InvalidField
    );
    let other_doctor = server.user(Role::Doctor, "Other").await;
    server.relate(&other_doctor, &patient).await;
    let other = open(&mut p, other_doctor.id()).await;
    assert_ne!(other.id, conv.id);
    assert_eq!(
        error_of(&mut p, send_msg(other.id, id, "elsewhere")).await,
        ErrorCode::InvalidField
    );
    assert!(fetch(&mut p, other.id, None, None, 10).await.0.is_empty());
    assert_eq!(fetch(&mut p, conv.id, None, None, 10).await.0.len(), 2);
}

#[tokio::test]
async fn concurrent_senders_get_gapless_seqs_delivered_in_order() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let d = server.connect(&doctor).await;
    let mut watcher = server.connect(&doctor).await;
    let conv = open(&mut p, doctor.id()).await;

    const EACH: usize = 40;
    let burst = |mut client: Client, who: &'static str| async move {
        for i in 0..EACH {
            let msg = send_msg(conv.id, MessageId::random(), &format!("{who} {i}"));
            client.send(msg).await;
        }
        let mut acked = Vec::new();
        while acked.len() < EACH {
            if let ServerMessage::ChatAck { seq, .. } = client.recv().await.msg {
                acked.push(seq);
            }
        }
        (client, acked)
    };
    let ((_p, p_acks), (_d, d_acks)) = tokio::join!(burst(p, "patient"), burst(d, "doctor"));
    // Each sender's own messages get increasing seqs, in the order sent.
    for acks in [&p_acks, &d_acks] {
        assert!(acks.windows(2).all(|w| w[0] < w[1]), "{acks:?}");
    }
    let mut all: Vec<u64> = p_acks.iter().chain(&d_acks).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=2 * EACH as u64).collect::<Vec<_>>());

    // A third device sees every message exactly once, in seq order.
    let mut seen = Vec::new();
    while seen.len() < 2 * EACH {
        seen.push(delivered(&mut watcher).await.seq);
    }
    assert_eq!(seen, (1..=2 * EACH as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn fetch_pages_forward_and_back_with_more() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let conv = open(&mut p, doctor.id()).await;
    for i in 1..=7 {
        assert_eq!(send(&mut p, conv.id, &format!("m{i}")).await.1, i);
    }
    let seqs = |ms: &[ChatMessage]| ms.iter().map(|m| m.seq).collect::<Vec<_>>();

    // Catching up after seq 2, three at a time, oldest first.
    let (page, more) = fetch(&mut p, conv.id, Some(2), None, 3).await;
    assert_eq!((seqs(&page), more), (vec![3, 4, 5], true));
    let (page, more) = fetch(&mut p, conv.id, Some(5), None, 3).await;
    assert_eq!((seqs(&page), more), (vec![6, 7], false));
    assert_eq!(page[1].body, "m7");
    let (page, more) = fetch(&mut p, conv.id, Some(7), None, 3).await;
    assert_eq!((seqs(&page), more), (vec![], false));

    // Newest, then paging back, newest first.
    let (page, more) = fetch(&mut p, conv.id, None, None, 3).await;
    assert_eq!((seqs(&page), more), (vec![7, 6, 5], true));
    let (page, more) = fetch(&mut p, conv.id, None, Some(5), 3).await;
    assert_eq!((seqs(&page), more), (vec![4, 3, 2], true));
    let (page, more) = fetch(&mut p, conv.id, None, Some(2), 3).await;
    assert_eq!((seqs(&page), more), (vec![1], false));
}

#[tokio::test]
async fn read_receipts_move_forward_and_unread_counts_follow() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let mut d = server.connect(&doctor).await;
    let mut d2 = server.connect(&doctor).await;
    let conv = open(&mut p, doctor.id()).await;
    for i in 0..3 {
        send(&mut p, conv.id, &format!("p{i}")).await;
    }
    send(&mut d, conv.id, "d0").await;

    let of = |list: Vec<ConversationSummary>| list.into_iter().find(|c| c.id == conv.id).unwrap();
    let mine = of(list(&mut d).await);
    assert_eq!(
        (mine.last_seq, mine.read_seq, mine.unread, mine.peer.id),
        (4, 0, 3, patient.id())
    );
    // The patient's own messages never count as unread for them.
    let theirs = of(list(&mut p).await);
    assert_eq!((theirs.unread, theirs.peer_read_seq), (1, 0));

    let read = |up_to_seq| ClientMessage::ChatRead {
        conversation_id: conv.id,
        up_to_seq,
    };
    assert_eq!(
        request(&mut d, read(2)).await,
        ServerMessage::ChatRead {
            conversation_id: conv.id,
            reader: doctor.id(),
            up_to_seq: 2
        }
    );
    // Both parties' other devices hear it.
    for device in [&mut p, &mut d2] {
        let up_to = device
            .recv_until(|m| match m {
                ServerMessage::ChatRead {
                    reader, up_to_seq, ..
                } if *reader == doctor.id() => Some(*up_to_seq),
                _ => None,
            })
            .await;
        assert_eq!(up_to, 2);
    }
    assert_eq!(of(list(&mut d).await).unread, 1);
    assert_eq!(of(list(&mut p).await).peer_read_seq, 2);

    // Never backwards, never past the newest message.
    let ServerMessage::ChatRead { up_to_seq, .. } = request(&mut d, read(1)).await else {
        panic!("expected chat_read");
    };
    assert_eq!(up_to_seq, 2);
    let ServerMessage::ChatRead { up_to_seq, .. } = request(&mut d, read(1_000)).await else {
        panic!("expected chat_read");
    };
    assert_eq!(up_to_seq, 4);
    let mine = of(list(&mut d).await);
    assert_eq!((mine.read_seq, mine.unread), (4, 0));
}

#[tokio::test]
async fn typing_reaches_the_peer_live_and_is_never_stored() {
    let ((_server, _doctor, patient), mut p, mut d, conv) = connected_pair().await;
    p.send(ClientMessage::ChatTyping {
        conversation_id: conv.id,
        typing: true,
    })
    .await;
    let env = common::next_frame(&mut d.ws).await.unwrap();
    assert_eq!(
        env.msg,
        ServerMessage::ChatTyping {
            conversation_id: conv.id,
            user_id: patient.id(),
            typing: true
        }
    );
    assert_eq!(env.seq, 0, "typing is outside the replayable stream");
    // Not echoed to the typist, not stored as a message.
    assert!(delivered_until_pong(&mut p).await.is_empty());
    let (stored, _) = fetch(&mut d, conv.id, None, None, 10).await;
    assert!(stored.is_empty());
    assert_eq!(
        list(&mut d).await[0].last_seq,
        0,
        "typing does not advance the conversation"
    );
}

#[tokio::test]
async fn messages_survive_a_server_restart() {
    let (mut server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let conv = open(&mut p, doctor.id()).await;
    let (id1, _) = send(&mut p, conv.id, "before restart 1").await;
    let (id2, _) = send(&mut p, conv.id, "before restart 2").await;
    p.close().await;
    server.restart().await;

    // Tokens are signed with the configured secret: still valid.
    let mut d = server.connect(&doctor).await;
    let (stored, _) = fetch(&mut d, conv.id, Some(0), None, 10).await;
    assert_eq!(
        stored.iter().map(|m| (m.id, m.seq)).collect::<Vec<_>>(),
        vec![(id1, 1), (id2, 2)]
    );
    assert_eq!(list(&mut d).await[0].unread, 2);
    // Numbering carries on.
    assert_eq!(send(&mut d, conv.id, "after restart").await.1, 3);
    // The same conversation is found again.
    assert_eq!(open(&mut d, patient.id()).await.id, conv.id);
}

#[tokio::test]
async fn a_resumed_session_gets_the_messages_it_missed() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let d = server.connect(&doctor).await;
    let conv = open(&mut p, doctor.id()).await;
    let (session, last_seq) = d.drop_abruptly();
    let (id, _) = send(&mut p, conv.id, "while you were away").await;
    let mut d = Client::connect(
        server.addr,
        &doctor.token,
        Some(clinicall_protocol::Resume {
            session_id: session,
            last_seq,
        }),
    )
    .await;
    assert!(d.resumed());
    d.last_seq = last_seq;
    assert_eq!(delivered(&mut d).await.id, id);
}

#[tokio::test]
async fn a_third_user_can_do_nothing_with_the_conversation() {
    let ((server, doctor, patient), mut p, mut d, conv) = connected_pair().await;
    send(&mut p, conv.id, "private").await;

    let stranger = server.user(Role::Patient, "Stranger").await;
    let other_doctor = server.user(Role::Doctor, "Unrelated doctor").await;
    let mut s = server.connect(&stranger).await;
    let mut o = server.connect(&other_doctor).await;

    // Patients cannot open chats with patients; doctors only with their
    // own patients.
    assert_eq!(
        error_of(&mut s, ClientMessage::ChatOpen { peer: patient.id() }).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(&mut o, ClientMessage::ChatOpen { peer: patient.id() }).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(&mut o, ClientMessage::ChatOpen { peer: doctor.id() }).await,
        ErrorCode::NotFound
    );
    assert_eq!(
        error_of(&mut p, ClientMessage::ChatOpen { peer: patient.id() }).await,
        ErrorCode::NotFound,
        "nobody chats with themselves"
    );
    for intruder in [&mut s, &mut o] {
        let attempts = [
            send_msg(conv.id, MessageId::random(), "let me in"),
            ClientMessage::ChatFetch {
                conversation_id: conv.id,
                after_seq: Some(0),
                before_seq: None,
                limit: 10,
            },
            ClientMessage::ChatRead {
                conversation_id: conv.id,
                up_to_seq: 1,
            },
            ClientMessage::ChatTyping {
                conversation_id: conv.id,
                typing: true,
            },
        ];
        for attempt in attempts {
            assert_eq!(
                error_of(intruder, attempt.clone()).await,
                ErrorCode::NotFound,
                "{attempt:?}"
            );
        }
        assert!(list(intruder).await.is_empty());
    }
    // Nothing reached or changed for the parties.
    let got = delivered_until_pong(&mut d).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let mine = list(&mut d).await;
    assert_eq!((mine[0].last_seq, mine[0].peer_read_seq), (1, 0));
    d.expect_silence(QUIET).await;
}

#[tokio::test]
async fn bad_chat_input_gets_an_error_and_the_connection_lives_on() {
    let (server, doctor, patient) = chat_pair().await;
    let mut p = server.connect(&patient).await;
    let conv = open(&mut p, doctor.id()).await;

    // Over the body limit (but under the frame limit).
    let long = "x".repeat(clinicall_protocol::chat::MAX_CHAT_BODY + 1);
    assert_eq!(
        error_of(&mut p, send_msg(conv.id, MessageId::random(), &long)).await,
        ErrorCode::InvalidField
    );
    // Over the frame limit.
    let huge = "x".repeat(clinicall_protocol::MAX_MESSAGE_BYTES + 1);
    let text = serde_json::to_string(&ClientEnvelope::new(send_msg(
        conv.id,
        MessageId::random(),
        &huge,
    )))
    .unwrap();
    p.send_raw(&text).await;
    assert_eq!(p.expect_error().await.0, ErrorCode::MessageTooLarge);
    // An unknown conversation.
    assert_eq!(
        error_of(
            &mut p,
            send_msg(ConversationId::random(), MessageId::random(), "hello?")
        )
        .await,
        ErrorCode::NotFound
    );
    // An attachment that does not exist.
    let with_attachment = ClientMessage::ChatSend {
        conversation_id: conv.id,
        id: MessageId::random(),
        body: String::new(),
        attachments: vec![AttachmentId::random()],
    };
    assert_eq!(error_of(&mut p, with_attachment).await, ErrorCode::NotFound);
    // A fetch with a bad limit.
    let bad_fetch = ClientMessage::ChatFetch {
        conversation_id: conv.id,
        after_seq: None,
        before_seq: None,
        limit: 0,
    };
    assert_eq!(error_of(&mut p, bad_fetch).await, ErrorCode::InvalidField);

    // Still connected, and nothing was stored.
    p.ping_pong().await;
    assert!(fetch(&mut p, conv.id, None, None, 10).await.0.is_empty());
    assert_eq!(send(&mut p, conv.id, "fine now").await.1, 1);
}

// ---- Attachments over REST ----

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb([180, 60, 60]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

async fn upload(
    server: &TestServer,
    token: &str,
    conversation: ConversationId,
    (name, content_type): (&str, &str),
    bytes: Vec<u8>,
) -> reqwest::Response {
    server
        .http
        // Test names need no percent-encoding.
        .post(server.url(&format!(
            "/api/v1/conversations/{conversation}/attachments?name={name}"
        )))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

fn stored_files(server: &TestServer) -> Vec<std::path::PathBuf> {
    clinicall_signaling_server::attachments::files_under(&server.config.attachments_dir())
}

#[tokio::test]
async fn an_uploaded_photo_is_sent_downloaded_and_thumbnailed_by_the_parties() {
    let ((server, doctor, patient), mut p, mut d, conv) = connected_pair().await;
    let photo = png(800, 400);
    let resp = upload(
        &server,
        &patient.token,
        conv.id,
        ("rash.png", "image/png"),
        photo.clone(),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let meta: clinicall_protocol::chat::AttachmentMeta = resp.json().await.unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.content_type.as_str(), meta.size),
        ("rash.png", "image/png", photo.len() as u64)
    );
    assert!(meta.has_thumbnail);
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&photo)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(meta.sha256, digest);

    // The same bytes again: a new attachment, one stored file (+ thumbnail).
    let again = upload(
        &server,
        &patient.token,
        conv.id,
        ("copy.png", "image/png"),
        photo.clone(),
    )
    .await;
    assert_eq!(again.status(), 201);
    assert_eq!(
        stored_files(&server).len(),
        2,
        "{:?}",
        stored_files(&server)
    );

    let msg = ClientMessage::ChatSend {
        conversation_id: conv.id,
        id: MessageId::random(),
        body: String::new(),
        attachments: vec![meta.id],
    };
    assert!(matches!(
        request(&mut p, msg).await,
        ServerMessage::ChatAck { .. }
    ));
    let got = delivered(&mut d).await;
    assert_eq!(got.attachments, vec![meta.clone()]);

    // The doctor downloads it and its thumbnail.
    let file = server
        .get(
            &format!("/api/v1/attachments/{}", meta.id),
            Some(&doctor.token),
        )
        .await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/png");
    // Streamed from disk, with its length announced up front.
    assert_eq!(file.content_length(), Some(photo.len() as u64));
    assert_eq!(file.bytes().await.unwrap().as_ref(), &photo[..]);
    let thumb = server
        .get(
            &format!("/api/v1/attachments/{}/thumbnail", meta.id),
            Some(&doctor.token),
        )
        .await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 128));

    // The doctor may not send the patient's upload as their own.
    let reuse = ClientMessage::ChatSend {
        conversation_id: conv.id,
        id: MessageId::random(),
        body: "look".into(),
        attachments: vec![meta.id],
    };
    assert_eq!(error_of(&mut d, reuse).await, ErrorCode::NotFound);

    // A PDF has no thumbnail.
    let resp = upload(
        &server,
        &doctor.token,
        conv.id,
        ("plan.pdf", "application/pdf"),
        PDF.to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let pdf: clinicall_protocol::chat::AttachmentMeta = resp.json().await.unwrap();
    assert!(!pdf.has_thumbnail);
    let none = server
        .get(
            &format!("/api/v1/attachments/{}/thumbnail", pdf.id),
            Some(&patient.token),
        )
        .await;
    assert_eq!(none.status(), 404);
    let file = server
        .get(
            &format!("/api/v1/attachments/{}", pdf.id),
            Some(&patient.token),
        )
        .await;
    assert_eq!(file.bytes().await.unwrap().as_ref(), PDF);

    let metrics = server.get("/metrics", None).await.text().await.unwrap();
    for counter in [
        "clinicall_chat_messages_stored_total",
        "clinicall_chat_attachments_stored_total",
        "clinicall_chat_attachments_sent_total",
    ] {
        assert!(metrics.contains(counter), "{counter} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn a_third_user_cannot_upload_to_or_download_from_the_conversation() {
    let ((server, _doctor, patient), mut p, _d, conv) = connected_pair().await;
    let resp = upload(
        &server,
        &patient.token,
        conv.id,
        ("a.png", "image/png"),
        png(10, 10),
    )
    .await;
    let meta: clinicall_protocol::chat::AttachmentMeta = resp.json().await.unwrap();
    let files_before = stored_files(&server).len();

    for stranger in [
        server.user(Role::Patient, "Stranger").await,
        server.user(Role::Doctor, "Other doctor").await,
    ] {
        let resp = upload(
            &server,
            &stranger.token,
            conv.id,
            ("x.pdf", "application/pdf"),
            PDF.to_vec(),
        )
        .await;
        assert_eq!(resp.status(), 404);
        assert_eq!(common::error_code(resp).await, ErrorCode::NotFound);
        for path in [
            format!("/api/v1/attachments/{}", meta.id),
            format!("/api/v1/attachments/{}/thumbnail", meta.id),
        ] {
            let resp = server.get(&path, Some(&stranger.token)).await;
            assert_eq!(resp.status(), 404, "{path}");
        }
        let mut s = server.connect(&stranger).await;
        let msg = ClientMessage::ChatSend {
            conversation_id: conv.id,
            id: MessageId::random(),
            body: String::new(),
            attachments: vec![meta.id],
        };
        assert_eq!(error_of(&mut s, msg).await, ErrorCode::NotFound);
    }
    // Without a token at all.
    let resp = server
        .get(&format!("/api/v1/attachments/{}", meta.id), None)
        .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(stored_files(&server).len(), files_before);
    assert!(fetch(&mut p, conv.id, None, None, 10).await.0.is_empty());
}

#[tokio::test]
async fn mislabelled_uploads_are_refused_and_leave_nothing_on_disk() {
    let ((server, _doctor, patient), _p, _d, conv) = connected_pair().await;
    let cases: [(&str, Vec<u8>); 4] = [
        ("application/pdf", png(4, 4)),
        (
            "image/png",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec(),
        ),
        (
            "image/png",
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        ),
        (
            "image/svg+xml",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
        ),
    ];
    for (declared, bytes) in cases {
        let resp = upload(&server, &patient.token, conv.id, ("f", declared), bytes).await;
        assert_eq!(resp.status(), 415, "{declared}");
        assert_eq!(
            common::error_code(resp).await,
            ErrorCode::UnsupportedMediaType
        );
    }
    assert!(
        stored_files(&server).is_empty(),
        "{:?}",
        stored_files(&server)
    );
}

/// Writes a raw HTTP request and returns the status line of the reply.
async fn raw_http_status(server: &TestServer, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before the body is all written.
    let _ = tcp.write_all(body).await;
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(common::PROMPT, tcp.read(&mut reply))
        .await
        .expect("the server answers without waiting for the body")
        .unwrap();
    String::from_utf8_lossy(&reply[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn oversized_uploads_are_refused_before_or_while_they_are_read() {
    let server = TestServer::start_with(|c| c.chat.max_attachment_bytes = 1024).await;
    let (doctor, patient) = server.pair().await;
    let mut p = server.connect(&patient).await;
    let conv = open(&mut p, doctor.id()).await;
    let path = format!("/api/v1/conversations/{}/attachments?name=big.pdf", conv.id);

    // A declared size over the limit, and no body at all: answered at once.
    let started = std::time::Instant::now();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/pdf\r\nContent-Length: 1000000000000\r\n\r\n",
        server.addr, patient.token
    );
    let status = raw_http_status(&server, &head, b"").await;
    assert!(status.contains(" 413 "), "{status}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Chunked, so no size up front: cut off once it passes the limit.
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.addr, patient.token
    );
    let mut body = Vec::new();
    let mut chunk = PDF.to_vec();
    chunk.resize(600, b' ');
    for _ in 0..3 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    let status = raw_http_status(&server, &head, &body).await;
    assert!(status.contains(" 413 "), "{status}");

    // Through a normal client too, with the error body.
    let resp = upload(
        &server,
        &patient.token,
        conv.id,
        ("big.pdf", "application/pdf"),
        vec![b'%'; 2048],
    )
    .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(common::error_code(resp).await, ErrorCode::PayloadTooLarge);
    assert!(
        stored_files(&server).is_empty(),
        "{:?}",
        stored_files(&server)
    );

    // At the limit is fine.
    let mut small = PDF.to_vec();
    small.resize(1024, b' ');
    let resp = upload(
        &server,
        &patient.token,
        conv.id,
        ("ok.pdf", "application/pdf"),
        small,
    )
    .await;
    assert_eq!(resp.status(), 201);
}
