//! A session's outgoing message stream: numbers every message, keeps a
//! bounded replay buffer so a client that resumes after a dropped socket
//! gets what it missed, and hands frames to the live connection if any.

use axum::extract::ws::Utf8Bytes;
use clinicall_protocol::{ServerEnvelope, ServerMessage};
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Identifies one WebSocket connection (a session may see several over its
/// life, one at a time).
pub type ConnId = u64;

/// What the hub asks a connection task to do.
#[derive(Debug)]
pub enum Outgoing {
    /// Send this text frame.
    Frame(Utf8Bytes),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, &'static str),
}

/// The sending half of a live connection.
#[derive(Debug)]
pub struct ConnTx {
    /// Which connection.
    pub id: ConnId,
    /// Its queue. Bounded: a client that cannot keep up is disconnected
    /// (it can resume) rather than growing server memory.
    pub tx: mpsc::Sender<Outgoing>,
}

/// Most messages kept for replay. Only call signaling and replies are
/// numbered and kept (presence is resent as a snapshot instead), so this
/// covers a whole negotiation with room to spare.
const REPLAY_MAX_MESSAGES: usize = 128;
/// Most bytes kept for replay: two SDPs and their candidates fit.
const REPLAY_MAX_BYTES: usize = 64 * 1024;

/// See the module docs.
#[derive(Debug)]
pub struct Outbox {
    next_seq: u64,
    replay: VecDeque<(u64, Utf8Bytes)>,
    replay_bytes: usize,
    conn: Option<ConnTx>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// An empty outbox; the first message gets `seq` 1 (0 is reserved for
    /// frames outside the stream, such as `welcome`).
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            replay: VecDeque::new(),
            replay_bytes: 0,
            conn: None,
        }
    }

    /// Serializes one frame outside the numbered stream (seq 0).
    pub fn unnumbered(req: Option<String>, msg: ServerMessage) -> Utf8Bytes {
        encode(&ServerEnvelope { seq: 0, req, msg })
    }

    /// Numbers, keeps and (if connected) sends a message. Returns its seq.
    pub fn push(&mut self, req: Option<String>, msg: ServerMessage) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = encode(&ServerEnvelope { seq, req, msg });
        self.replay_bytes += frame.len();
        self.replay.push_back((seq, frame.clone()));
        while self.replay.len() > REPLAY_MAX_MESSAGES || self.replay_bytes > REPLAY_MAX_BYTES {
            match self.replay.pop_front() {
                Some((_, old)) => self.replay_bytes -= old.len(),
                None => break,
            }
        }
        self.send(Outgoing::Frame(frame));
        seq
    }

    /// Sends to the live connection, dropping it if its queue is full or
    /// gone: the connection task then ends and the session waits for a
    /// resume.
    pub fn send(&mut self, out: Outgoing) {
        if let Some(conn) = &self.conn
            && conn.tx.try_send(out).is_err()
        {
            self.conn = None;
        }
    }

    /// Whether a client that last saw `last_seq` can resume: everything
    /// after it is still in the replay buffer.
    pub fn can_resume(&self, last_seq: u64) -> bool {
        let oldest_kept = self.replay.front().map_or(self.next_seq, |(seq, _)| *seq);
        last_seq < self.next_seq && last_seq + 1 >= oldest_kept
    }

    /// Connects a socket, first replaying everything after `last_seq` (a
    /// resume, which the caller has checked with [`Outbox::can_resume`]).
    /// Without `last_seq`, nothing is replayed.
    pub fn attach(&mut self, conn: ConnTx, last_seq: Option<u64>) {
        self.conn = Some(conn);
        if let Some(last_seq) = last_seq {
            let missed: Vec<Utf8Bytes> = self
                .replay
                .iter()
                .filter(|(seq, _)| *seq > last_seq)
                .map(|(_, frame)| frame.clone())
                .collect();
            for frame in missed {
                self.send(Outgoing::Frame(frame));
            }
        }
    }

    /// Disconnects the socket `id`, if it is the current one.
    pub fn detach(&mut self, id: ConnId) {
        if self.conn.as_ref().is_some_and(|c| c.id == id) {
            self.conn = None;
        }
    }

    /// Sends a close frame to the live connection and forgets it.
    pub fn close(&mut self, code: u16, reason: &'static str) {
        self.send(Outgoing::Close(code, reason));
        self.conn = None;
    }

    /// The seq the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

fn encode(env: &ServerEnvelope) -> Utf8Bytes {
    // Our own message types always serialize (no maps with non-string keys,
    // no failing Serialize impls).
    serde_json::to_string(env).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: ConnId) -> (ConnTx, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(1024);
        (ConnTx { id, tx }, rx)
    }

    fn seqs(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<u64> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Frame(f)) = rx.try_recv() {
            let env: ServerEnvelope = serde_json::from_str(f.as_str()).unwrap();
            out.push(env.seq);
        }
        out
    }

    #[test]
    fn resume_replays_exactly_what_was_missed() {
        let mut outbox = Outbox::new();
        let (c1, mut rx1) = conn(1);
        outbox.attach(c1, None);
        for _ in 0..3 {
            outbox.push(None, ServerMessage::Pong);
        }
        assert_eq!(seqs(&mut rx1), vec![1, 2, 3]);
        outbox.detach(1);
        outbox.push(None, ServerMessage::Pong);
        outbox.push(None, ServerMessage::Pong);
        // The client saw up to 2 (3 was lost in flight).
        let (c2, mut rx2) = conn(2);
        assert!(outbox.can_resume(2));
        outbox.attach(c2, Some(2));
        assert_eq!(seqs(&mut rx2), vec![3, 4, 5]);
    }

    #[test]
    fn resume_past_the_buffer_or_from_the_future_is_a_gap() {
        let mut outbox = Outbox::new();
        for _ in 0..(REPLAY_MAX_MESSAGES + 10) {
            outbox.push(None, ServerMessage::Pong);
        }
        assert!(!outbox.can_resume(1));
        assert!(!outbox.can_resume(10_000));
        let last = outbox.next_seq() - 1;
        assert!(outbox.can_resume(last));
        assert!(outbox.can_resume(last - 10));
    }

    #[test]
    fn a_full_queue_drops_the_connection_not_the_messages() {
        let mut outbox = Outbox::new();
        let (tx, mut rx) = mpsc::channel(2);
        outbox.attach(ConnTx { id: 1, tx }, None);
        for _ in 0..5 {
            outbox.push(None, ServerMessage::Pong);
        }
        assert_eq!(seqs(&mut rx), vec![1, 2]);
        // Resuming on a new connection recovers the rest.
        let (c2, mut rx2) = conn(2);
        assert!(outbox.can_resume(2));
        outbox.attach(c2, Some(2));
        assert_eq!(seqs(&mut rx2), vec![3, 4, 5]);
    }
}
