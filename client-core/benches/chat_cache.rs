//! Chat cache benchmark (docs/benchmarks.md): a resync of 100,000 messages
//! written in fetch-sized batches, then full-text search over them.
//!
//! `cargo bench -p clinicall-client-core --bench chat_cache`
//! (`-- --messages N` for another size). A real SQLCipher database in a
//! temporary directory, through the public async API, as the app uses it.

use clinicall_client_core::cache::{
    CacheConfig, CacheKey, ChatCache, MemoryKeySource, SearchOrder, SearchRequest,
};
use clinicall_client_core::protocol::chat::{ChatMessage, MAX_FETCH};
use clinicall_client_core::protocol::{ConversationId, MessageId, UserId};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Conversations the messages are spread over (a doctor's patients).
const CONVERSATIONS: u64 = 50;
/// Timed runs of each search word.
const RUNS: usize = 50;

/// Words of the generated messages: a small clinical vocabulary, so that
/// common words match thousands of messages and rare ones a few.
const VOCABULARY: &[&str] = &[
    "the",
    "and",
    "your",
    "appointment",
    "tomorrow",
    "please",
    "take",
    "medication",
    "after",
    "breakfast",
    "blood",
    "pressure",
    "results",
    "look",
    "fine",
    "call",
    "me",
    "if",
    "pain",
    "gets",
    "worse",
    "dose",
    "increase",
    "decrease",
    "headache",
    "fever",
    "since",
    "yesterday",
    "thank",
    "you",
    "doctor",
    "scan",
    "report",
    "allergy",
    "penicillin",
    "insulin",
    "glucose",
    "referral",
    "physiotherapy",
    "prescription",
    "renewed",
    "pharmacy",
    "sleep",
    "dizzy",
    "nausea",
    "rash",
    "cough",
    "week",
    "monday",
    "friday",
];

/// A deterministic pseudo-random sequence (xorshift), so every run writes
/// the same text.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 6 to 25 words; Zipf-like: early vocabulary words are more common.
    fn sentence(&mut self) -> String {
        let len = 6 + self.next() % 20;
        (0..len)
            .map(|_| {
                let a = self.next() as usize % VOCABULARY.len();
                let b = self.next() as usize % VOCABULARY.len();
                VOCABULARY[a.min(b)]
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut messages: u64 = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--messages" {
            messages = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--messages N");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(messages));
}

async fn run(total: u64) {
    let dir = tempfile::tempdir().unwrap();
    let me = UserId::random();
    let peers: Vec<(ConversationId, UserId)> = (0..CONVERSATIONS)
        .map(|_| (ConversationId::random(), UserId::random()))
        .collect();
    let keys = Arc::new(MemoryKeySource::with_key(CacheKey::generate()));
    let cache = ChatCache::open(CacheConfig::new(dir.path().join("chat"), me), keys)
        .await
        .unwrap();

    // The resync: each conversation fetched after seq 0 in pages of
    // MAX_FETCH (200), as the sync engine does after a long time offline.
    let per_conversation = total / CONVERSATIONS;
    let mut words = Words(0x9E37_79B9_7F4A_7C15);
    let mut batches = Vec::new();
    for (conversation, peer) in &peers {
        let mut seq = 0;
        while seq < per_conversation {
            let n = (per_conversation - seq).min(u64::from(MAX_FETCH));
            let batch: Vec<ChatMessage> = (seq + 1..=seq + n)
                .map(|s| ChatMessage {
                    conversation_id: *conversation,
                    seq: s,
                    id: MessageId::random(),
                    sender: if s % 2 == 0 { me } else { *peer },
                    body: words.sentence(),
                    attachments: Vec::new(),
                    sent_at_ms: 1_700_000_000_000 + s as i64 * 60_000,
                })
                .collect();
            batches.push(batch);
            seq += n;
        }
    }
    let written: usize = batches.iter().map(Vec::len).sum();
    let mut batch_times = Vec::new();
    let started = Instant::now();
    for batch in batches {
        let t = Instant::now();
        cache.apply_messages(batch).await.unwrap();
        batch_times.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    cache.checkpoint().await.unwrap();
    batch_times.sort();
    let db_size = std::fs::metadata(dir.path().join("chat/chat.db"))
        .unwrap()
        .len();
    println!(
        "resync: {written} messages in {} conversations, batches of {MAX_FETCH}",
        peers.len()
    );
    println!(
        "  {:.2} s, {:.0} messages/s; batch p50 {} p99 {}; database {:.1} MB",
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64(),
        ms(percentile(&batch_times, 0.5)),
        ms(percentile(&batch_times, 0.99)),
        db_size as f64 / 1e6
    );

    // Search: each word RUNS times, first page of 20, as the search box
    // asks; newest first (the default) and by relevance.
    let queries = [
        "appointment",
        "penicillin",
        "blood pressure",
        "physio",
        "dizzy nausea",
        "the",
    ];
    for order in [SearchOrder::Newest, SearchOrder::Relevance] {
        let mut all = Vec::new();
        println!("search ({order:?}, first page of 20, {RUNS} runs each):");
        for query in queries {
            let mut times = Vec::new();
            let mut hits = 0;
            for _ in 0..RUNS {
                let request = SearchRequest {
                    order,
                    ..SearchRequest::new(query, 20)
                };
                let t = Instant::now();
                let page = cache.search(request).await.unwrap();
                times.push(t.elapsed());
                hits = page.hits.len();
            }
            times.sort();
            println!(
                "  {query:>16}: p50 {} p99 {} ({hits} hits on the page)",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            );
            all.extend(times);
        }
        all.sort();
        println!(
            "  all words: p50 {} p99 {}",
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.99))
        );
    }
    cache.close().await.unwrap();
}
