//! Turns received VP8 RTP packets back into whole frames (RFC 7741).
//!
//! A frame is released on the packet that carries the RTP marker bit, not
//! when the next frame's first packet arrives (what a generic sample
//! builder does), which would add a whole frame time (33 ms at 30 fps)
//! to every frame's latency. Pure: packets in, frames and keyframe
//! requests out; the session does the I/O.
//!
//! Loss handling: a gap in sequence numbers breaks the frame being
//! assembled, and every later frame refers to what was lost, so the
//! assembler drops frames until a keyframe arrives and asks for one.
//! Packets older than the newest seen (duplicates, late retransmissions)
//! are ignored.

use bytes::Bytes;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;

/// What one packet completed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Assembled {
    /// Nothing yet (mid-frame, or a packet to ignore).
    Pending,
    /// A whole frame, ready for the decoder.
    Frame {
        /// The VP8 frame.
        data: Vec<u8>,
        /// Whether it is a keyframe (decodable on its own).
        keyframe: bool,
    },
    /// Packets were lost: frames are dropped until a keyframe, so ask the
    /// sender for one (the session rate-limits the requests).
    NeedKeyframe,
}

/// Reassembles one VP8 stream.
#[derive(Debug, Default)]
pub(crate) struct FrameAssembler {
    /// The sequence number the next packet should carry.
    expected_seq: Option<u16>,
    /// The frame being assembled.
    frame: Vec<u8>,
    /// A frame's first packet was seen and no packet of it is missing.
    assembling: bool,
    /// Frames are dropped until a keyframe arrives.
    waiting_for_keyframe: bool,
    /// Packets lost so far (sequence gaps).
    lost: u64,
}

impl FrameAssembler {
    pub(crate) fn new() -> Self {
        // Until the first keyframe nothing can be decoded.
        FrameAssembler {
            waiting_for_keyframe: true,
            ..Default::default()
        }
    }

    /// Packets lost (sequence gaps) so far.
    pub(crate) fn lost(&self) -> u64 {
        self.lost
    }

    /// Whether frames are being dropped until a keyframe arrives.
    #[cfg(test)]
    pub(crate) fn waiting_for_keyframe(&self) -> bool {
        self.waiting_for_keyframe
    }

    /// Drops frames until the next keyframe (a frame was lost after
    /// assembly, e.g. the decoder could not take it).
    pub(crate) fn require_keyframe(&mut self) {
        self.waiting_for_keyframe = true;
    }

    /// Feeds one RTP packet's sequence number, marker bit and payload.
    pub(crate) fn push(&mut self, seq: u16, marker: bool, payload: &Bytes) -> Assembled {
        let mut gap = false;
        if let Some(expected) = self.expected_seq {
            let ahead = seq.wrapping_sub(expected);
            if ahead >= 0x8000 {
                return Assembled::Pending; // older than what we have: late or duplicate
            }
            if ahead > 0 {
                self.lost += u64::from(ahead);
                gap = true;
            }
        }
        self.expected_seq = Some(seq.wrapping_add(1));

        let mut descriptor = Vp8Packet::default();
        let Ok(fragment) = descriptor.depacketize(payload) else {
            // Malformed: treat it as lost.
            return self.break_frame();
        };
        let starts_frame = descriptor.s == 1 && descriptor.pid == 0;
        let mut lost_data = gap;
        if starts_frame {
            // A frame still open here lost its last packet.
            lost_data |= self.assembling;
            self.frame.clear();
            self.assembling = true;
        } else if gap {
            return self.break_frame();
        }
        if !self.assembling {
            return if lost_data {
                self.break_frame()
            } else {
                Assembled::Pending
            };
        }
        self.frame.extend_from_slice(&fragment);
        if lost_data {
            self.waiting_for_keyframe = true;
        }
        if !marker {
            return if lost_data {
                Assembled::NeedKeyframe
            } else {
                Assembled::Pending
            };
        }

        self.assembling = false;
        let data = std::mem::take(&mut self.frame);
        // VP8 payload header: bit 0 of the first byte is 0 for a keyframe.
        let keyframe = data.first().is_some_and(|b| b & 1 == 0);
        if keyframe {
            self.waiting_for_keyframe = false;
        }
        if self.waiting_for_keyframe {
            Assembled::NeedKeyframe
        } else {
            Assembled::Frame { data, keyframe }
        }
    }

    fn break_frame(&mut self) -> Assembled {
        self.assembling = false;
        self.frame.clear();
        self.waiting_for_keyframe = true;
        Assembled::NeedKeyframe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 RTP payload: a 1-byte descriptor (S bit on a frame's first
    /// packet) and the fragment.
    fn packet(start: bool, fragment: &[u8]) -> Bytes {
        let mut p = vec![if start { 0x10 } else { 0x00 }];
        p.extend_from_slice(fragment);
        Bytes::from(p)
    }

    /// A frame split in packets of the given fragments; the first byte
    /// decides key/delta.
    fn frame_packets(keyframe: bool, parts: usize) -> (Vec<u8>, Vec<Bytes>) {
        let mut whole = Vec::new();
        let mut packets = Vec::new();
        for i in 0..parts {
            let mut fragment = vec![(i as u8) << 1, 0xAB, 0xCD, i as u8];
            if i == 0 {
                fragment[0] = if keyframe { 0x10 } else { 0x11 };
            }
            whole.extend_from_slice(&fragment);
            packets.push(packet(i == 0, &fragment));
        }
        (whole, packets)
    }

    fn feed(a: &mut FrameAssembler, seq: &mut u16, packets: &[Bytes]) -> Vec<Assembled> {
        let n = packets.len();
        packets
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let out = a.push(*seq, i + 1 == n, p);
                *seq = seq.wrapping_add(1);
                out
            })
            .collect()
    }

    #[test]
    fn a_frame_is_released_on_its_marker_packet() {
        let mut a = FrameAssembler::new();
        let (whole, packets) = frame_packets(true, 3);
        let mut seq = 100;
        let out = feed(&mut a, &mut seq, &packets);
        assert_eq!(out[0], Assembled::Pending);
        assert_eq!(out[1], Assembled::Pending);
        assert_eq!(
            out[2],
            Assembled::Frame {
                data: whole,
                keyframe: true
            }
        );
    }

    #[test]
    fn delta_frames_before_the_first_keyframe_ask_for_one() {
        let mut a = FrameAssembler::new();
        let mut seq = 7;
        let (_, delta) = frame_packets(false, 2);
        let out = feed(&mut a, &mut seq, &delta);
        assert_eq!(out[1], Assembled::NeedKeyframe);
        let (key, packets) = frame_packets(true, 2);
        let out = feed(&mut a, &mut seq, &packets);
        assert_eq!(
            out[1],
            Assembled::Frame {
                data: key,
                keyframe: true
            }
        );
    }

    #[test]
    fn a_lost_packet_drops_frames_until_a_keyframe() {
        let mut a = FrameAssembler::new();
        let mut seq = 65_534; // across the wrap
        let (_, key) = frame_packets(true, 2);
        feed(&mut a, &mut seq, &key);

        let (_, delta) = frame_packets(false, 3);
        // Lose the middle packet.
        assert_eq!(a.push(seq, false, &delta[0]), Assembled::Pending);
        assert_eq!(
            a.push(seq.wrapping_add(2), true, &delta[2]),
            Assembled::NeedKeyframe
        );
        seq = seq.wrapping_add(3);
        assert_eq!(a.lost(), 1);
        assert!(a.waiting_for_keyframe());

        // A complete delta frame is still undecodable.
        let (_, delta) = frame_packets(false, 2);
        let out = feed(&mut a, &mut seq, &delta);
        assert_eq!(out[1], Assembled::NeedKeyframe);

        let (key_data, key) = frame_packets(true, 2);
        let out = feed(&mut a, &mut seq, &key);
        assert_eq!(
            out[1],
            Assembled::Frame {
                data: key_data,
                keyframe: true
            }
        );
        let (delta_data, delta) = frame_packets(false, 1);
        let out = feed(&mut a, &mut seq, &delta);
        assert_eq!(
            out[0],
            Assembled::Frame {
                data: delta_data,
                keyframe: false
            }
        );
    }

    #[test]
    fn a_lost_marker_packet_breaks_the_frame_when_the_next_one_starts() {
        let mut a = FrameAssembler::new();
        let mut seq = 1;
        let (_, key) = frame_packets(true, 1);
        feed(&mut a, &mut seq, &key);
        let (_, delta) = frame_packets(false, 2);
        // Deliver only the first packet; the marker packet is lost and
        // the next frame starts one sequence number later than expected.
        a.push(seq, false, &delta[0]);
        seq += 2;
        let (_, next) = frame_packets(false, 1);
        assert_eq!(a.push(seq, true, &next[0]), Assembled::NeedKeyframe);
    }

    #[test]
    fn duplicates_and_late_packets_are_ignored() {
        let mut a = FrameAssembler::new();
        let mut seq = 10;
        let (whole, key) = frame_packets(true, 2);
        assert_eq!(a.push(seq, false, &key[0]), Assembled::Pending);
        // The same packet again (a retransmission that crossed the original).
        assert_eq!(a.push(seq, false, &key[0]), Assembled::Pending);
        seq += 1;
        assert_eq!(
            a.push(seq, true, &key[1]),
            Assembled::Frame {
                data: whole,
                keyframe: true
            }
        );
        assert_eq!(a.lost(), 0);
    }

    #[test]
    fn malformed_payloads_do_not_panic() {
        let mut a = FrameAssembler::new();
        for (seq, bytes) in [&[][..], &[0x90][..], &[0x80, 0x80][..], &[0xff; 3][..]]
            .iter()
            .enumerate()
        {
            let out = a.push(seq as u16, true, &Bytes::copy_from_slice(bytes));
            assert_eq!(out, Assembled::NeedKeyframe);
        }
    }
}
