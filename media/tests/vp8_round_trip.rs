//! VP8 through real libvpx: stamped test frames survive encoding at the
//! default bitrate, keyframes come when expected, bad input is an error.

use std::time::{Duration, Instant, SystemTime};

use clinicall_media::{
    MediaError, TestPattern, VideoFrame, VideoSource, Vp8Config, Vp8Decoder, Vp8Encoder, read_stamp,
};

const FRAMES: u32 = 30;

fn round_trip(width: u32, height: u32) {
    let mut camera = TestPattern::new(width, height, 30).unpaced();
    let config = Vp8Config::new(width, height, 30);
    let mut encoder = Vp8Encoder::new(config).unwrap();
    let mut decoder = Vp8Decoder::new().unwrap();
    let forced = [10, 20];
    let (mut encode_time, mut decode_time) = (Duration::ZERO, Duration::ZERO);
    let mut bytes = 0;
    for counter in 0..FRAMES {
        let frame = camera.next_frame().unwrap();
        let force = forced.contains(&counter);
        let started = Instant::now();
        let encoded = encoder
            .encode(&frame, force)
            .unwrap()
            .expect("frame dropped");
        encode_time += started.elapsed();
        bytes += encoded.data.len();
        assert_eq!(
            encoded.keyframe,
            counter == 0 || force,
            "{width}x{height} frame {counter}: keyframe flag"
        );
        let started = Instant::now();
        let decoded = decoder
            .decode(&encoded.data)
            .unwrap()
            .expect("visible frame");
        decode_time += started.elapsed();
        assert_eq!((decoded.width, decoded.height), (width, height));
        let stamp = read_stamp(&decoded)
            .unwrap_or_else(|| panic!("{width}x{height} frame {counter}: stamp unreadable"));
        assert_eq!(stamp.counter, counter, "{width}x{height}");
        let latency = stamp.latency(SystemTime::now()).unwrap();
        assert!(latency.as_secs() < 10, "{latency:?}");
    }
    eprintln!(
        "{width}x{height} @ {} kbit/s: {} bytes/frame, encode {:?}/frame, decode {:?}/frame",
        config.bitrate_kbps,
        bytes / FRAMES as usize,
        encode_time / FRAMES,
        decode_time / FRAMES
    );
}

#[test]
fn stamps_survive_vp8_at_320x240() {
    round_trip(320, 240);
}

#[test]
fn stamps_survive_vp8_at_640x480() {
    round_trip(640, 480);
}

#[test]
fn stamps_survive_vp8_at_1280x720() {
    round_trip(1280, 720);
}

#[test]
fn decoded_pictures_resemble_the_input() {
    // Beyond the stamp: the whole picture comes back close to what went in.
    let mut camera = TestPattern::new(320, 240, 30).unpaced();
    let mut encoder = Vp8Encoder::new(Vp8Config::new(320, 240, 30)).unwrap();
    let mut decoder = Vp8Decoder::new().unwrap();
    for _ in 0..10 {
        let frame = camera.next_frame().unwrap();
        let encoded = encoder.encode(&frame, false).unwrap().unwrap();
        let decoded = decoder.decode(&encoded.data).unwrap().unwrap();
        let copy = decoded.to_frame(frame.pts).unwrap();
        let error: u64 = frame
            .data
            .iter()
            .zip(&copy.data)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean_error = error as f64 / frame.data.len() as f64;
        assert!(mean_error < 4.0, "mean absolute error {mean_error}");
    }
}

#[test]
fn lowering_the_bitrate_shrinks_frames() {
    let mut camera = TestPattern::new(640, 480, 30).unpaced();
    let mut encoder = Vp8Encoder::new(Vp8Config::new(640, 480, 30)).unwrap();
    let mut sizes = |encoder: &mut Vp8Encoder| -> usize {
        (0..30)
            .map(|_| {
                let frame = camera.next_frame().unwrap();
                encoder.encode(&frame, false).unwrap().unwrap().data.len()
            })
            .sum()
    };
    sizes(&mut encoder); // settle after the keyframe
    let high = sizes(&mut encoder);
    encoder.set_bitrate(100).unwrap();
    assert_eq!(encoder.config().bitrate_kbps, 100);
    sizes(&mut encoder); // let rate control react
    let low = sizes(&mut encoder);
    assert!(
        low * 2 < high,
        "{low} bytes at 100 kbit/s vs {high} at default"
    );
    assert!(encoder.set_bitrate(0).is_err());
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let mut decoder = Vp8Decoder::new().unwrap();
    assert!(matches!(
        decoder.decode(&[]),
        Err(MediaError::InvalidArgument(_))
    ));
    // Garbage that is not a VP8 frame at all.
    let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(matches!(
        decoder.decode(&garbage),
        Err(MediaError::Vpx { .. })
    ));

    // A real keyframe, truncated and damaged in various ways.
    let mut encoder = Vp8Encoder::new(Vp8Config::new(320, 240, 30)).unwrap();
    let mut camera = TestPattern::new(320, 240, 30).unpaced();
    let key = encoder
        .encode(&camera.next_frame().unwrap(), false)
        .unwrap()
        .unwrap();
    assert!(matches!(
        decoder.decode(&key.data[..5]),
        Err(MediaError::Vpx { .. })
    ));
    for cut in [key.data.len() / 4, key.data.len() / 2] {
        // Must not panic; libvpx may or may not notice a cut inside the
        // entropy-coded data, so either outcome is fine.
        let _ = decoder.decode(&key.data[..cut]);
    }
    let mut flipped = key.data.clone();
    for byte in flipped.iter_mut().step_by(3) {
        *byte ^= 0x5A;
    }
    let _ = decoder.decode(&flipped);

    // An inter frame before any keyframe has nothing to refer to.
    let mut fresh = Vp8Decoder::new().unwrap();
    let inter = encoder
        .encode(&camera.next_frame().unwrap(), false)
        .unwrap()
        .unwrap();
    assert!(!inter.keyframe);
    assert!(fresh.decode(&inter.data).is_err());

    // And after all that, the decoder still works on a good keyframe.
    let decoded = decoder.decode(&key.data).unwrap().unwrap();
    assert_eq!(read_stamp(&decoded).unwrap().counter, 0);
}

#[test]
fn encoder_and_decoder_can_move_between_threads() {
    let mut encoder = Vp8Encoder::new(Vp8Config::new(320, 240, 30)).unwrap();
    let encoded = std::thread::spawn(move || {
        encoder
            .encode(&VideoFrame::new_black(320, 240), false)
            .unwrap()
            .unwrap()
    })
    .join()
    .unwrap();
    let mut decoder = Vp8Decoder::new().unwrap();
    let size = std::thread::spawn(move || {
        let frame = decoder.decode(&encoded.data).unwrap().unwrap();
        (frame.width, frame.height)
    })
    .join()
    .unwrap();
    assert_eq!(size, (320, 240));
}
