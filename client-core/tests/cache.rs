//! The chat cache on real SQLCipher files in temporary directories.

use clinicall_client_core::cache::{
    CacheConfig, CacheError, CacheKey, CachedMessage, ChatCache, DATABASE_FILE, KeySource,
    MemoryKeySource, MessageState, SearchOrder, SearchRequest, wipe_dir,
};
use clinicall_client_core::protocol::chat::{
    AttachmentMeta, ChatMessage, ConversationSummary, MAX_CHAT_BODY,
};
use clinicall_client_core::protocol::{
    AttachmentId, ConversationId, MessageId, Role, UserId, UserSummary,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Fixture {
    dir: tempfile::TempDir,
    keys: Arc<MemoryKeySource>,
    me: UserId,
    peer: UserId,
    conversation: ConversationId,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            keys: Arc::new(MemoryKeySource::empty()),
            me: UserId::random(),
            peer: UserId::random(),
            conversation: ConversationId::random(),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("chat")
    }

    fn config(&self) -> CacheConfig {
        CacheConfig::new(self.cache_dir(), self.me)
    }

    async fn open(&self) -> ChatCache {
        ChatCache::open(self.config(), self.keys.clone())
            .await
            .unwrap()
    }

    /// A cache holding one message, closed; every file's bytes.
    async fn closed_cache_with_a_message(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let cache = self.open().await;
        cache
            .apply_messages(vec![self.peer_says(1, "private")])
            .await
            .unwrap();
        cache.close().await.unwrap();
        snapshot(&self.cache_dir())
    }

    fn peer_says(&self, seq: u64, body: &str) -> ChatMessage {
        message(self.conversation, seq, self.peer, body)
    }
}

fn message(conversation: ConversationId, seq: u64, sender: UserId, body: &str) -> ChatMessage {
    ChatMessage {
        conversation_id: conversation,
        seq,
        id: MessageId::random(),
        sender,
        body: body.to_owned(),
        attachments: Vec::new(),
        sent_at_ms: 1_764_547_200_000 + seq as i64 * 1000,
    }
}

fn seqs(messages: &[CachedMessage]) -> Vec<Option<u64>> {
    messages.iter().map(CachedMessage::seq).collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_new_cache_is_created_and_migrated_in_an_empty_file() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.cache_dir()).unwrap();
    // An empty file holds no cache: it is migrated, not refused.
    std::fs::write(f.cache_dir().join(DATABASE_FILE), b"").unwrap();
    let cache = f.open().await;
    assert!(
        f.keys.load().unwrap().is_some(),
        "a key was generated and stored"
    );
    assert!(cache.conversations().await.unwrap().is_empty());
    assert!(cache.outbox().await.unwrap().is_empty());
    cache
        .apply_messages(vec![f.peer_says(1, "hello")])
        .await
        .unwrap();
    cache.close().await.unwrap();
    assert!(
        std::fs::metadata(f.cache_dir().join(DATABASE_FILE))
            .unwrap()
            .len()
            > 0
    );

    // Reopening runs no migration twice and keeps the data.
    let cache = f.open().await;
    let page = cache.messages_page(f.conversation, None, 10).await.unwrap();
    assert_eq!(page.messages[0].body, "hello");
    cache.close().await.unwrap();
}

#[tokio::test]
async fn incoming_messages_are_stored_once_in_seq_order() {
    let f = Fixture::new();
    let cache = f.open().await;
    let one = f.peer_says(1, "one");
    let two = f.peer_says(2, "two");
    let three = f.peer_says(3, "three");

    let outcome = cache
        .apply_messages(vec![three.clone(), one.clone()])
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (2, 0));
    assert_eq!(outcome.cursors[0].contiguous_seq, 1);

    // The same message again (a push, then the same in a fetch page).
    let outcome = cache
        .apply_messages(vec![two.clone(), two.clone(), three.clone()])
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (1, 2));
    assert_eq!(outcome.cursors[0].contiguous_seq, 3);

    let page = cache.messages_page(f.conversation, None, 10).await.unwrap();
    assert_eq!(seqs(&page.messages), [Some(3), Some(2), Some(1)]);
    assert_eq!(
        page.messages[1],
        CachedMessage {
            conversation_id: f.conversation,
            id: two.id,
            sender: f.peer,
            body: "two".into(),
            attachments: Vec::new(),
            state: MessageState::Sent {
                seq: 2,
                sent_at_ms: two.sent_at_ms,
            },
        }
    );

    // A different id claiming a held seq is kept out.
    let impostor = f.peer_says(2, "impostor");
    let outcome = cache.apply_messages(vec![impostor]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.conflicts), (0, 1));
    let page = cache.messages_page(f.conversation, None, 10).await.unwrap();
    assert_eq!(page.messages[1].body, "two");
    cache.close().await.unwrap();
}

#[tokio::test]
async fn the_cursor_stops_at_a_gap_until_it_is_filled() {
    let f = Fixture::new();
    let cache = f.open().await;
    let outcome = cache
        .apply_messages(vec![
            f.peer_says(1, "a"),
            f.peer_says(2, "b"),
            f.peer_says(4, "d"),
            f.peer_says(5, "e"),
        ])
        .await
        .unwrap();
    let cursor = outcome.cursors[0];
    assert_eq!((cursor.contiguous_seq, cursor.known_seq), (2, 5));
    assert!(cursor.needs_fetch());

    // The server reports a newer last_seq than anything held.
    cache
        .upsert_conversations(vec![summary(&f, 9, 0, 0)])
        .await
        .unwrap();
    let cursor = cache.sync_cursor(f.conversation).await.unwrap();
    assert_eq!((cursor.contiguous_seq, cursor.known_seq), (2, 9));

    let outcome = cache
        .apply_messages(vec![f.peer_says(3, "c")])
        .await
        .unwrap();
    assert_eq!(outcome.cursors[0].contiguous_seq, 5);
    assert!(outcome.cursors[0].needs_fetch(), "6 to 9 are still missing");
    let more: Vec<_> = (6..=9).map(|s| f.peer_says(s, "more")).collect();
    let outcome = cache.apply_messages(more).await.unwrap();
    assert_eq!(outcome.cursors[0].contiguous_seq, 9);
    assert!(!outcome.cursors[0].needs_fetch());
    assert_eq!(cache.sync_cursors().await.unwrap(), outcome.cursors);
    cache.close().await.unwrap();
}

fn summary(f: &Fixture, last_seq: u64, read_seq: u64, unread: u64) -> ConversationSummary {
    ConversationSummary {
        id: f.conversation,
        peer: UserSummary {
            id: f.peer,
            display_name: "Dr. Quinn".into(),
            role: Role::Doctor,
        },
        last_seq,
        read_seq,
        peer_read_seq: 0,
        unread,
    }
}

#[tokio::test]
async fn the_outbox_survives_a_restart_and_clears_on_ack() {
    let f = Fixture::new();
    let other = ConversationId::random();
    let cache = f.open().await;
    let attachment = AttachmentMeta {
        id: AttachmentId::random(),
        name: "scan.pdf".into(),
        content_type: "application/pdf".into(),
        size: 1234,
        sha256: "ab".repeat(32),
        has_thumbnail: true,
    };
    let first = cache
        .enqueue(f.conversation, "first".into(), vec![attachment.clone()])
        .await
        .unwrap();
    let second = cache
        .enqueue(other, "second".into(), Vec::new())
        .await
        .unwrap();
    let third = cache
        .enqueue(f.conversation, "third".into(), Vec::new())
        .await
        .unwrap();
    assert_eq!(first.attachments, [attachment.id]);
    // What the server would refuse never enters the outbox.
    let too_long = "x".repeat(MAX_CHAT_BODY + 1);
    for body in [too_long, "  ".to_owned()] {
        assert!(matches!(
            cache.enqueue(f.conversation, body, Vec::new()).await,
            Err(CacheError::InvalidMessage(_))
        ));
    }
    cache.close().await.unwrap();

    let cache = f.open().await;
    let outbox = cache.outbox().await.unwrap();
    assert_eq!(outbox, [first.clone(), second.clone(), third.clone()]);
    let page = cache.messages_page(f.conversation, None, 10).await.unwrap();
    assert_eq!(seqs(&page.messages), [None, None], "both pending");
    assert_eq!(page.messages[0].body, "third", "newest pending first");
    assert_eq!(page.messages[1].attachments, [attachment]);

    let cursor = cache.ack(first.id, 1, 1_764_547_201_000).await.unwrap();
    assert_eq!(cursor.contiguous_seq, 1);
    // Acked twice (a resend raced the ack): harmless.
    cache.ack(first.id, 1, 1_764_547_201_000).await.unwrap();
    assert_eq!(cache.outbox().await.unwrap(), [second, third.clone()]);
    let sent = cache.message(first.id).await.unwrap().unwrap();
    assert_eq!(
        sent.state,
        MessageState::Sent {
            seq: 1,
            sent_at_ms: 1_764_547_201_000
        }
    );
    assert!(matches!(
        cache.ack(MessageId::random(), 2, 0).await,
        Err(CacheError::UnknownMessage(_))
    ));
    // The server cannot give `third` the seq `first` holds.
    assert!(matches!(
        cache.ack(third.id, 1, 0).await,
        Err(CacheError::SeqConflict { seq: 1, .. })
    ));
    cache.close().await.unwrap();

    let cache = f.open().await;
    assert_eq!(cache.outbox().await.unwrap().len(), 2);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn an_own_message_echoed_by_the_server_is_not_stored_twice() {
    let f = Fixture::new();
    let cache = f.open().await;
    let pending = cache
        .enqueue(f.conversation, "on my way".into(), Vec::new())
        .await
        .unwrap();
    // The echo (chat_message to our devices) arrives before the ack.
    let echo = ChatMessage {
        conversation_id: f.conversation,
        seq: 1,
        id: pending.id,
        sender: f.me,
        body: "on my way".into(),
        attachments: Vec::new(),
        sent_at_ms: 1_764_547_205_000,
    };
    let outcome = cache.apply_messages(vec![echo.clone()]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.confirmed), (0, 1));
    assert!(cache.outbox().await.unwrap().is_empty());
    // Then the ack, and the echo again from a fetch.
    cache.ack(pending.id, 1, echo.sent_at_ms).await.unwrap();
    let outcome = cache.apply_messages(vec![echo]).await.unwrap();
    assert_eq!(outcome.duplicates, 1);

    // A message we sent from another device arrives as a normal message.
    let from_laptop = message(f.conversation, 2, f.me, "sent from my laptop");
    cache.apply_messages(vec![from_laptop]).await.unwrap();
    let page = cache.messages_page(f.conversation, None, 10).await.unwrap();
    assert_eq!(seqs(&page.messages), [Some(2), Some(1)]);
    let list = cache.conversations().await.unwrap();
    assert_eq!(list[0].unread, 0, "own messages are never unread");
    cache.close().await.unwrap();
}

#[tokio::test]
async fn read_state_unread_counts_and_last_messages() {
    let f = Fixture::new();
    let quiet = ConversationId::random();
    let cache = f.open().await;
    // The server says: 3 messages, 2 unread (read up to 1).
    cache
        .upsert_conversations(vec![
            summary(&f, 3, 1, 2),
            ConversationSummary {
                id: quiet,
                ..summary(&f, 0, 0, 0)
            },
        ])
        .await
        .unwrap();
    let list = cache.conversations().await.unwrap();
    let view = list.iter().find(|v| v.id == f.conversation).unwrap();
    assert_eq!((view.unread, view.last_seq), (2, 3));
    assert_eq!(view.peer.as_ref().unwrap().display_name, "Dr. Quinn");

    // Messages 1 to 3 arrive, then a new one (4) and one of ours (5).
    let mut batch: Vec<_> = (1..=4).map(|s| f.peer_says(s, "news")).collect();
    batch.push(message(f.conversation, 5, f.me, "thanks"));
    cache.apply_messages(batch).await.unwrap();
    let list = cache.conversations().await.unwrap();
    assert_eq!(list[0].id, f.conversation, "recent activity first");
    assert_eq!(list[0].unread, 3, "2 from the server's count, 1 new");
    assert_eq!(list[0].last_message.as_ref().unwrap().body, "thanks");
    assert_eq!(list[1].id, quiet);
    assert_eq!(list[1].last_message, None);

    cache.mark_read(f.conversation, 2).await.unwrap();
    assert_eq!(cache.conversations().await.unwrap()[0].unread, 2);
    cache.mark_read(f.conversation, 5).await.unwrap();
    // Lowering the mark is ignored.
    cache.mark_read(f.conversation, 1).await.unwrap();
    let list = cache.conversations().await.unwrap();
    assert_eq!((list[0].unread, list[0].read_seq), (0, 5));

    cache.apply_read(f.conversation, f.peer, 5).await.unwrap();
    assert_eq!(cache.conversations().await.unwrap()[0].peer_read_seq, 5);
    cache
        .apply_messages(vec![f.peer_says(6, "?")])
        .await
        .unwrap();
    assert_eq!(cache.conversations().await.unwrap()[0].unread, 1);
    // Read on another of our devices.
    cache.apply_read(f.conversation, f.me, 6).await.unwrap();
    assert_eq!(cache.conversations().await.unwrap()[0].unread, 0);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn the_thread_pages_from_newest_to_oldest_pending_first() {
    let f = Fixture::new();
    let cache = f.open().await;
    let batch: Vec<_> = (1..=5).map(|s| f.peer_says(s, &format!("m{s}"))).collect();
    cache.apply_messages(batch).await.unwrap();
    let p1 = cache
        .enqueue(f.conversation, "p1".into(), Vec::new())
        .await
        .unwrap();
    let p2 = cache
        .enqueue(f.conversation, "p2".into(), Vec::new())
        .await
        .unwrap();

    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = cache
            .messages_page(f.conversation, before, 3)
            .await
            .unwrap();
        pages.push(
            page.messages
                .iter()
                .map(|m| m.body.clone())
                .collect::<Vec<_>>(),
        );
        match page.older {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [vec!["p2", "p1", "m5"], vec!["m4", "m3", "m2"], vec!["m1"]]
    );
    assert_eq!((p1.body, p2.body), ("p1".to_owned(), "p2".to_owned()));

    // A page boundary inside the pending messages.
    let page = cache.messages_page(f.conversation, None, 1).await.unwrap();
    let page = cache
        .messages_page(f.conversation, page.older, 2)
        .await
        .unwrap();
    assert_eq!(seqs(&page.messages), [None, Some(5)]);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_the_file_left_untouched() {
    let f = Fixture::new();
    let before = f.closed_cache_with_a_message().await;
    assert!(!before.is_empty());

    let wrong = Arc::new(MemoryKeySource::with_key(CacheKey::generate()));
    let error = ChatCache::open(f.config(), wrong.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, CacheError::WrongKey { .. }), "{error}");
    assert!(error.to_string().contains("left untouched"), "{error}");
    assert_eq!(snapshot(&f.cache_dir()), before, "byte for byte");

    // The right key still opens it.
    let cache = f.open().await;
    assert_eq!(
        cache
            .messages_page(f.conversation, None, 5)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    cache.close().await.unwrap();
}

#[tokio::test]
async fn a_missing_key_for_an_existing_cache_is_refused_and_nothing_is_created() {
    let f = Fixture::new();
    let before = f.closed_cache_with_a_message().await;

    let empty = Arc::new(MemoryKeySource::empty());
    let error = ChatCache::open(f.config(), empty.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, CacheError::KeyMissing { .. }), "{error}");
    assert_eq!(snapshot(&f.cache_dir()), before, "byte for byte");
    assert_eq!(empty.load().unwrap(), None, "no new key was made for it");
}

#[tokio::test]
async fn message_text_is_not_on_disk_in_clear() {
    let f = Fixture::new();
    let cache = f.open().await;
    let sentence = "Zebras quietly audit the thyroid results of Mr Featherstonehaugh";
    cache
        .apply_messages(vec![f.peer_says(1, sentence)])
        .await
        .unwrap();
    cache
        .enqueue(f.conversation, format!("{sentence} (pending)"), Vec::new())
        .await
        .unwrap();

    // Before a checkpoint the new pages are in the WAL.
    let files = snapshot(&f.cache_dir());
    let wal = files
        .iter()
        .find(|(p, _)| p.to_string_lossy().ends_with("-wal"))
        .expect("a WAL file");
    assert!(wal.1.len() > 4096, "the writes are in the WAL");
    for (path, bytes) in &files {
        assert!(
            !contains(bytes, sentence.as_bytes()),
            "{} has the text",
            path.display()
        );
        assert!(
            !contains(bytes, b"Featherstonehaugh"),
            "{} has a word",
            path.display()
        );
    }
    // And after it, in the database file.
    cache.checkpoint().await.unwrap();
    for (path, bytes) in snapshot(&f.cache_dir()) {
        assert!(
            !contains(&bytes, b"Featherstonehaugh"),
            "{} has a word",
            path.display()
        );
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "{} has a plain header",
            path.display()
        );
    }
    // The text is there, for whoever holds the key.
    let hits = cache
        .search(SearchRequest::new("featherstonehaugh", 10))
        .await
        .unwrap();
    assert_eq!(hits.hits.len(), 2);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn search_finds_words_pages_stably_and_takes_any_input_literally() {
    let f = Fixture::new();
    let cache = f.open().await;
    let other = ConversationId::random();
    let mut batch: Vec<_> = (1..=25)
        .map(|s| {
            f.peer_says(
                s,
                &format!("Reminder {s}: take the medication after breakfast"),
            )
        })
        .collect();
    batch.push(f.peer_says(26, "Your blood pressure was fine"));
    batch.push(f.peer_says(27, "Café opens at nine; say \"OR\" (twice) * NEAR"));
    batch.push(message(
        other,
        1,
        f.peer,
        "Medication list for the other clinic",
    ));
    cache.apply_messages(batch).await.unwrap();

    let page = cache.search(SearchRequest::new("blood", 10)).await.unwrap();
    assert_eq!(page.hits.len(), 1);
    assert_eq!(page.hits[0].seq, Some(26));
    let marked: Vec<_> = page.hits[0]
        .snippet
        .iter()
        .filter(|p| p.highlighted)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(marked, ["blood"]);
    // Accents folded, and the last word is a prefix.
    assert_eq!(
        cache
            .search(SearchRequest::new("cafe", 5))
            .await
            .unwrap()
            .hits
            .len(),
        1
    );
    assert_eq!(
        cache
            .search(SearchRequest::new("medic", 50))
            .await
            .unwrap()
            .hits
            .len(),
        26
    );
    let only_this = SearchRequest {
        conversation: Some(other),
        ..SearchRequest::new("medication", 50)
    };
    assert_eq!(cache.search(only_this).await.unwrap().hits.len(), 1);

    // Newest first, in pages of 10; a message arriving between pages does
    // not shift them.
    let first = cache
        .search(SearchRequest::new("reminder", 10))
        .await
        .unwrap();
    let first_seqs: Vec<_> = first.hits.iter().map(|h| h.seq.unwrap()).collect();
    assert_eq!(first_seqs, (16..=25).rev().collect::<Vec<_>>());
    cache
        .apply_messages(vec![f.peer_says(28, "Reminder: new one")])
        .await
        .unwrap();
    let mut all = first_seqs;
    let mut after = first.next;
    while let Some(cursor) = after {
        let page = cache
            .search(SearchRequest {
                after: Some(cursor),
                ..SearchRequest::new("reminder", 10)
            })
            .await
            .unwrap();
        all.extend(page.hits.iter().map(|h| h.seq.unwrap()));
        after = page.next;
    }
    assert_eq!(
        all,
        (1..=25).rev().collect::<Vec<_>>(),
        "no hit lost or repeated"
    );

    // By relevance, paged: every hit once.
    let mut ranked = Vec::new();
    let mut after = None;
    loop {
        let page = cache
            .search(SearchRequest {
                order: SearchOrder::Relevance,
                after,
                ..SearchRequest::new("medication", 7)
            })
            .await
            .unwrap();
        ranked.extend(page.hits.iter().map(|h| h.message_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    ranked.sort();
    ranked.dedup();
    assert_eq!(ranked.len(), 26);

    // Hostile input is text, never FTS syntax.
    for hostile in [
        "\"",
        "*",
        "OR (",
        "\"OR\"",
        "NEAR(",
        "body:",
        "a AND",
        "-",
        "^x",
        "(",
        ")",
        "'",
        "\u{E000}",
        "\"unterminated",
        "x\" OR \"y",
        "* OR *",
        "",
    ] {
        let result = cache.search(SearchRequest::new(hostile, 10)).await;
        assert!(result.is_ok(), "{hostile:?}: {result:?}");
    }
    let quoted = cache
        .search(SearchRequest::new("\"OR\" (twice", 10))
        .await
        .unwrap();
    assert_eq!(
        quoted.hits.len(),
        1,
        "quoted words are still found as words"
    );
    assert_eq!(quoted.hits[0].seq, Some(27));
    cache.close().await.unwrap();
}

#[tokio::test]
async fn wipe_removes_the_files_and_the_key() {
    let f = Fixture::new();
    let cache = f.open().await;
    cache
        .apply_messages(vec![f.peer_says(1, "bye")])
        .await
        .unwrap();
    let bytes = b"x-ray".to_vec();
    cache
        .store_attachment(sha256_hex(&bytes), bytes)
        .await
        .unwrap();
    assert!(!snapshot(&f.cache_dir()).is_empty());
    cache.wipe(f.keys.clone()).await.unwrap();
    assert_eq!(snapshot(&f.cache_dir()), BTreeMap::new(), "no file left");
    assert_eq!(f.keys.load().unwrap(), None, "key removed");

    // A cache that cannot be opened (key missing) can still be wiped.
    let cache = f.open().await;
    cache
        .apply_messages(vec![f.peer_says(1, "again")])
        .await
        .unwrap();
    cache.close().await.unwrap();
    let lost = MemoryKeySource::empty();
    wipe_dir(&f.cache_dir(), &lost).unwrap();
    assert_eq!(snapshot(&f.cache_dir()), BTreeMap::new());
    // And the next login starts a fresh cache.
    let cache = ChatCache::open(f.config(), Arc::new(lost)).await.unwrap();
    assert!(cache.conversations().await.unwrap().is_empty());
    cache.close().await.unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn attachment_files_are_checked_and_evicted_least_recently_used_first() {
    let f = Fixture::new();
    let config = CacheConfig {
        attachment_budget: 100,
        ..f.config()
    };
    let cache = ChatCache::open(config, f.keys.clone()).await.unwrap();
    let files: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a' + i; 40]).collect();
    let names: Vec<String> = files.iter().map(|b| sha256_hex(b)).collect();

    cache
        .store_attachment(names[0].clone(), files[0].clone())
        .await
        .unwrap();
    assert_eq!(
        cache.attachment(names[0].clone()).await.unwrap(),
        Some(files[0].clone())
    );
    cache
        .store_attachment(names[1].clone(), files[1].clone())
        .await
        .unwrap();
    // Opening the first makes the second the least recently used.
    assert!(cache.attachment(names[0].clone()).await.unwrap().is_some());
    cache
        .store_attachment(names[2].clone(), files[2].clone())
        .await
        .unwrap();
    assert_eq!(cache.attachment_bytes().await.unwrap(), 80);
    assert!(cache.attachment(names[1].clone()).await.unwrap().is_none());
    assert!(!f.cache_dir().join("attachments").join(&names[1]).exists());
    assert!(cache.attachment(names[0].clone()).await.unwrap().is_some());
    assert_eq!(
        cache.attachment(names[2].clone()).await.unwrap(),
        Some(files[2].clone())
    );

    // Bytes that do not match their hash are not kept.
    let forged = vec![b'z'; 10];
    let error = cache
        .store_attachment(names[1].clone(), forged)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CacheError::AttachmentHashMismatch { .. }),
        "{error}"
    );
    assert!(!f.cache_dir().join("attachments").join(&names[1]).exists());
    let big = vec![0u8; 101];
    assert!(matches!(
        cache.store_attachment(sha256_hex(&big), big).await,
        Err(CacheError::AttachmentTooLarge {
            size: 101,
            budget: 100
        })
    ));
    assert!(matches!(
        cache.attachment("../../etc/passwd".into()).await,
        Err(CacheError::BadSha256(_))
    ));
    assert_eq!(cache.attachment_bytes().await.unwrap(), 80);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn attachment_files_are_encrypted_and_a_tampered_file_is_dropped() {
    let f = Fixture::new();
    let cache = f.open().await;
    let photo = b"rash on the left forearm, photographed 1 December".repeat(20);
    let name = sha256_hex(&photo);
    cache
        .store_attachment(name.clone(), photo.clone())
        .await
        .unwrap();
    let file = f.cache_dir().join("attachments").join(&name);
    let on_disk = std::fs::read(&file).unwrap();
    assert!(
        !on_disk
            .windows(16)
            .any(|w| photo.windows(16).any(|p| p == w)),
        "the file holds the attachment in clear"
    );
    // The same bytes stored again are sealed under a fresh nonce.
    cache
        .store_attachment(name.clone(), photo.clone())
        .await
        .unwrap();
    assert_ne!(std::fs::read(&file).unwrap(), on_disk);

    // Reopened (key from the database), it still decrypts.
    cache.close().await.unwrap();
    let cache = f.open().await;
    assert_eq!(cache.attachment(name.clone()).await.unwrap(), Some(photo));

    // One flipped bit: not served, removed, counted out.
    let mut tampered = std::fs::read(&file).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&file, tampered).unwrap();
    assert_eq!(cache.attachment(name.clone()).await.unwrap(), None);
    assert!(!file.exists());
    assert_eq!(cache.attachment_bytes().await.unwrap(), 0);
    cache.close().await.unwrap();
}

#[tokio::test]
async fn concurrent_writers_and_readers_share_one_cache() {
    let f = Fixture::new();
    let cache = Arc::new(f.open().await);
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let cache = cache.clone();
        let conversation = f.conversation;
        let peer = f.peer;
        tasks.push(tokio::spawn(async move {
            for i in 0..25u64 {
                let seq = task * 25 + i + 1;
                cache
                    .apply_messages(vec![message(conversation, seq, peer, "busy")])
                    .await
                    .unwrap();
                cache.messages_page(conversation, None, 5).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let cursor = cache.sync_cursor(f.conversation).await.unwrap();
    assert_eq!(cursor.contiguous_seq, 200);
    Arc::into_inner(cache).unwrap().close().await.unwrap();
}

#[tokio::test]
async fn search_orders_by_message_time_not_by_arrival() {
    let f = Fixture::new();
    let cache = f.open().await;
    // The newest message first (a push), then older history (a fetch).
    cache
        .apply_messages(vec![f.peer_says(10, "insulin dose")])
        .await
        .unwrap();
    let older: Vec<_> = (1..=3).map(|s| f.peer_says(s, "insulin check")).collect();
    cache.apply_messages(older).await.unwrap();
    let page = cache
        .search(SearchRequest::new("insulin", 10))
        .await
        .unwrap();
    let order: Vec<_> = page.hits.iter().map(|h| h.seq).collect();
    assert_eq!(order, [Some(10), Some(3), Some(2), Some(1)]);

    // A pending message sorts by its local time, then by the server's
    // once acknowledged (here: older than seq 10).
    let pending = cache
        .enqueue(f.conversation, "insulin pen".into(), Vec::new())
        .await
        .unwrap();
    let page = cache
        .search(SearchRequest::new("insulin", 10))
        .await
        .unwrap();
    assert_eq!(page.hits[0].message_id, pending.id, "now is newest");
    let sent_at = f.peer_says(5, "").sent_at_ms;
    cache.ack(pending.id, 5, sent_at).await.unwrap();
    let page = cache
        .search(SearchRequest::new("insulin", 10))
        .await
        .unwrap();
    let order: Vec<_> = page.hits.iter().map(|h| h.seq).collect();
    assert_eq!(order, [Some(10), Some(5), Some(3), Some(2), Some(1)]);
    cache.close().await.unwrap();
}
