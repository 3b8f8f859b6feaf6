//! `AttachmentClient` against a real server: upload, download and
//! thumbnail with the login's token, the server's refusals as clear
//! errors, and one refresh when the access token has expired.

mod common;

use clinicall_client_core::signaling::{
    AttachmentClient, AttachmentError, AuthSession, SignalingClient,
};
use clinicall_protocol::{AttachmentId, ClientMessage, ConversationId, ServerMessage};
use common::{Events, TestServer};
use std::sync::Arc;
use std::time::Duration;

/// A 4×4 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26, 0x93, 0x09,
    0x29, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x38, 0xa1, 0xa1, 0x01,
    0x47, 0x0c, 0xc4, 0x71, 0x00, 0xd1, 0x43, 0x11, 0x81, 0x48, 0xd2, 0xc1, 0xeb, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// The conversation of a related doctor and patient, opened by the
/// patient over the WebSocket; the patient's and doctor's transfers; and
/// the patient's login.
async fn conversation(
    server: &TestServer,
) -> (
    ConversationId,
    AttachmentClient,
    AttachmentClient,
    Arc<AuthSession>,
) {
    let (doctor, patient) = server.pair().await;
    let pat_auth = server.sign_in(&patient).await;
    let doc_auth = server.sign_in(&doctor).await;
    let (client, events) =
        SignalingClient::start(server.client_config(), pat_auth.clone()).unwrap();
    Events(events).connected().await;
    let reply = client
        .request(ClientMessage::ChatOpen { peer: doctor.id })
        .await
        .expect("chat_open answered");
    let ServerMessage::ChatConversation { conversation } = reply.msg else {
        panic!("not a conversation: {:?}", reply.msg)
    };
    client.shutdown().await;
    (
        conversation.id,
        AttachmentClient::new(pat_auth.clone()).unwrap(),
        AttachmentClient::new(doc_auth).unwrap(),
        pat_auth,
    )
}

#[tokio::test]
async fn a_photo_goes_up_and_the_other_party_downloads_it_and_its_thumbnail() {
    let server = TestServer::start().await;
    let (conv, patient, doctor, _) = conversation(&server).await;

    let meta = patient
        .upload(conv, "rash photo.png", "image/png", PNG.to_vec())
        .await
        .expect("upload");
    assert_eq!(meta.name, "rash photo.png");
    assert_eq!(meta.content_type, "image/png");
    assert_eq!(meta.size, PNG.len() as u64);
    assert!(meta.has_thumbnail);

    assert_eq!(doctor.download(&meta).await.unwrap(), PNG);
    let thumb = doctor.thumbnail(meta.id).await.unwrap();
    assert_eq!(&thumb[..3], &[0xff, 0xd8, 0xff], "a JPEG");
}

#[tokio::test]
async fn refusals_are_clear_errors() {
    let server = TestServer::start_with(|c| c.chat.max_attachment_bytes = 64).await;
    let (conv, patient, _, _) = conversation(&server).await;

    let too_big = patient
        .upload(conv, "scan.png", "image/png", PNG.to_vec())
        .await;
    assert!(
        matches!(too_big, Err(AttachmentError::TooLarge(_))),
        "{too_big:?}"
    );

    let mismatch = patient
        .upload(conv, "fake.pdf", "application/pdf", PNG[..60].to_vec())
        .await;
    assert!(
        matches!(mismatch, Err(AttachmentError::UnsupportedType(_))),
        "{mismatch:?}"
    );

    let elsewhere = patient
        .upload(
            ConversationId::random(),
            "x.pdf",
            "application/pdf",
            PDF[..40].to_vec(),
        )
        .await;
    assert!(
        matches!(elsewhere, Err(AttachmentError::NotFound)),
        "{elsewhere:?}"
    );

    let missing = patient.thumbnail(AttachmentId::random()).await;
    assert!(
        matches!(missing, Err(AttachmentError::NotFound)),
        "{missing:?}"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_upload_goes_through() {
    let server = TestServer::start_with(|c| {
        c.auth.access_token_ttl = Duration::from_secs(1);
    })
    .await;
    let (conv, patient, _, auth) = conversation(&server).await;
    let first = patient
        .upload(conv, "a.pdf", "application/pdf", PDF.to_vec())
        .await
        .unwrap();
    let stale = auth.access_token().await.unwrap();
    server.until_expired(&stale).await;
    let second = patient
        .upload(conv, "b.pdf", "application/pdf", PDF.to_vec())
        .await
        .expect("uploaded after refreshing");
    assert_ne!(first.id, second.id);
    assert_ne!(auth.access_token().await.unwrap(), stale, "refreshed");
    assert_eq!(second.sha256, first.sha256);
}
