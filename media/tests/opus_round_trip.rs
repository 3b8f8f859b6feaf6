//! Opus through real libopus: tones keep their pitch, loss is concealed,
//! stereo packets decode to mono.

use clinicall_media::{
    AudioSource, FRAME_SAMPLES, OpusDecoder, OpusEncoder, SAMPLE_RATE, ToneSource,
    dominant_frequency,
};

/// One second of a tone through the codec, returned as decoded PCM.
fn round_trip(freq: f32) -> Vec<i16> {
    let mut tone = ToneSource::new(freq, 0.3).unpaced();
    let mut encoder = OpusEncoder::new(32_000).unwrap();
    let mut decoder = OpusDecoder::new().unwrap();
    let mut decoded = Vec::new();
    for _ in 0..50 {
        let frame = tone.next_frame().unwrap();
        assert_eq!(frame.samples.len(), FRAME_SAMPLES);
        let packet = encoder.encode(&frame.samples).unwrap();
        assert!(
            packet.len() < 200,
            "{} bytes for 20 ms at 32 kbit/s",
            packet.len()
        );
        let pcm = decoder.decode(Some(&packet)).unwrap();
        assert_eq!(pcm.len(), FRAME_SAMPLES);
        decoded.extend_from_slice(pcm);
    }
    decoded
}

fn assert_tone(pcm: &[i16], freq: f32) {
    let found = dominant_frequency(pcm, SAMPLE_RATE).expect("decoded audio is silent");
    assert!(
        (found - freq).abs() <= 5.0,
        "sent {freq} Hz, got {found} Hz"
    );
}

#[test]
fn a_440_hz_tone_keeps_its_pitch() {
    assert_tone(&round_trip(440.0), 440.0);
}

#[test]
fn a_1000_hz_tone_keeps_its_pitch() {
    assert_tone(&round_trip(1000.0), 1000.0);
}

#[test]
fn lost_packets_are_concealed() {
    let mut tone = ToneSource::new(440.0, 0.3).unpaced();
    let mut encoder = OpusEncoder::new(32_000).unwrap();
    let mut decoder = OpusDecoder::new().unwrap();
    for _ in 0..25 {
        let packet = encoder.encode(&tone.next_frame().unwrap().samples).unwrap();
        decoder.decode(Some(&packet)).unwrap();
    }
    // The next packet is lost: concealment continues the tone for 20 ms.
    let concealed = decoder.decode(None).unwrap().to_vec();
    assert_eq!(concealed.len(), FRAME_SAMPLES);
    let peak = concealed.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 1000, "concealment is near-silent (peak {peak})");
    assert_tone(&concealed, 440.0);
    // Decoding resumes normally after the gap.
    let _ = tone.next_frame().unwrap();
    let packet = encoder.encode(&tone.next_frame().unwrap().samples).unwrap();
    assert_eq!(decoder.decode(Some(&packet)).unwrap().len(), FRAME_SAMPLES);
}

#[test]
fn concealment_before_any_packet_is_20_ms_of_silence() {
    let mut decoder = OpusDecoder::new().unwrap();
    let pcm = decoder.decode(None).unwrap();
    assert_eq!(pcm.len(), FRAME_SAMPLES);
    assert!(pcm.iter().all(|&s| s == 0));
}

#[test]
fn stereo_packets_decode_to_mono() {
    // What a browser sends for opus/48000/2: a stereo stream.
    let mut stereo =
        opus::Encoder::new(48_000, opus::Channels::Stereo, opus::Application::Voip).unwrap();
    let mut tone = ToneSource::new(1000.0, 0.3).unpaced();
    let mut decoder = OpusDecoder::new().unwrap();
    let mut decoded = Vec::new();
    for _ in 0..50 {
        let mono = tone.next_frame().unwrap().samples;
        let interleaved: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let packet = stereo.encode_vec(&interleaved, 4000).unwrap();
        let pcm = decoder.decode(Some(&packet)).unwrap();
        assert_eq!(pcm.len(), FRAME_SAMPLES);
        decoded.extend_from_slice(pcm);
    }
    assert_tone(&decoded, 1000.0);
}
