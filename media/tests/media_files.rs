//! Y4M and WAV files: written, read back, looped, and refused when wrong.

use std::path::PathBuf;
use std::time::Duration;

use clinicall_media::{
    AudioSource, FRAME_SAMPLES, MediaError, SAMPLE_RATE, TestPattern, VideoFormat, VideoFrame,
    VideoSource, WavSource, Y4mSource, dominant_frequency, read_stamp, write_wav, write_y4m,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "clinicall-media-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pattern_frames(count: usize) -> Vec<VideoFrame> {
    let mut pattern = TestPattern::new(320, 240, 30).unpaced();
    (0..count).map(|_| pattern.next_frame().unwrap()).collect()
}

#[test]
fn y4m_frames_come_back_identical_and_loop() {
    let dir = TempDir::new("y4m");
    let path = dir.file("clip.y4m");
    let frames = pattern_frames(5);
    write_y4m(&path, 25, &frames).unwrap();

    let mut source = Y4mSource::open(&path).unwrap().unpaced();
    assert_eq!(
        source.format(),
        VideoFormat {
            width: 320,
            height: 240,
            fps: 25
        }
    );
    for round in 0..2 {
        for (i, original) in frames.iter().enumerate() {
            let frame = source.next_frame().unwrap();
            assert_eq!(frame.data, original.data, "round {round} frame {i}");
            assert_eq!(read_stamp(&frame.view()).unwrap().counter, i as u32);
            let n = (round * frames.len() + i) as u32;
            assert_eq!(frame.pts, Duration::from_millis(40) * n, "pts keep going");
        }
    }
}

#[test]
fn y4m_is_paced_at_the_file_rate() {
    let dir = TempDir::new("y4m-paced");
    let path = dir.file("clip.y4m");
    write_y4m(&path, 50, &pattern_frames(2)).unwrap();
    let mut source = Y4mSource::open(&path).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..6 {
        source.next_frame().unwrap();
    }
    // Frame 5 is due at 100 ms.
    let elapsed = start.elapsed();
    assert!(
        (Duration::from_millis(90)..Duration::from_millis(400)).contains(&elapsed),
        "{elapsed:?}"
    );
}

#[test]
fn y4m_reads_headers_from_other_writers() {
    let dir = TempDir::new("y4m-other");
    let path = dir.file("ntsc.y4m");
    let mut bytes = b"YUV4MPEG2 W4 H2 F30000:1001 It A0:0 C420mpeg2 XYSCSS=420MPEG2\n".to_vec();
    bytes.extend_from_slice(b"FRAME Ixyz\n");
    bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    std::fs::write(&path, bytes).unwrap();
    let mut source = Y4mSource::open(&path).unwrap().unpaced();
    assert_eq!(source.format().fps, 30);
    assert_eq!(
        source.next_frame().unwrap().data,
        (1..=12).collect::<Vec<u8>>()
    );
}

#[test]
fn bad_y4m_files_give_clear_errors() {
    let dir = TempDir::new("y4m-bad");
    let cases: [(&str, &[u8], &str); 5] = [
        ("wav.y4m", b"RIFF\0\0\0\0WAVEfmt ", "not a YUV4MPEG2 file"),
        (
            "444.y4m",
            b"YUV4MPEG2 W4 H2 F30:1 C444\nFRAME\n",
            "unsupported Y4M file: colour space C444",
        ),
        ("norate.y4m", b"YUV4MPEG2 W4 H2\n", "missing frame rate"),
        ("odd.y4m", b"YUV4MPEG2 W3 H2 F30:1\n", "size 3x2"),
        ("binary.y4m", &[0xFF; 4096], "not a YUV4MPEG2 file"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.file(name);
        std::fs::write(&path, bytes).unwrap();
        let message = Y4mSource::open(&path).unwrap_err().to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains(name), "error names the file: {message}");
    }
    let missing = Y4mSource::open(dir.file("absent.y4m")).unwrap_err();
    assert!(matches!(missing, MediaError::Io { .. }), "{missing}");
}

#[test]
fn truncated_or_empty_y4m_errors_when_read() {
    let dir = TempDir::new("y4m-short");
    let empty = dir.file("empty.y4m");
    std::fs::write(&empty, b"YUV4MPEG2 W4 H2 F30:1\n").unwrap();
    let err = Y4mSource::open(&empty)
        .unwrap()
        .unpaced()
        .next_frame()
        .unwrap_err();
    assert!(err.to_string().contains("no frames"), "{err}");

    let short = dir.file("short.y4m");
    std::fs::write(&short, b"YUV4MPEG2 W4 H2 F30:1\nFRAME\n\x01\x02").unwrap();
    let err = Y4mSource::open(&short)
        .unwrap()
        .unpaced()
        .next_frame()
        .unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn stereo_44k1_wav_becomes_a_48k_mono_tone() {
    let dir = TempDir::new("wav");
    let path = dir.file("tone.wav");
    let rate = 44_100;
    // One second of 1000 Hz: louder on the left, in phase on the right, so
    // the downmix is the average of the two levels.
    let interleaved: Vec<i16> = (0..rate)
        .flat_map(|i| {
            let s = (std::f64::consts::TAU * 1000.0 * f64::from(i) / f64::from(rate)).sin();
            [(s * 12_000.0) as i16, (s * 6_000.0) as i16]
        })
        .collect();
    write_wav(&path, rate, 2, &interleaved).unwrap();

    let mut source = WavSource::open(&path).unwrap().unpaced();
    assert_eq!(
        source.len_samples(),
        SAMPLE_RATE as usize,
        "one second at 48 kHz"
    );
    let pcm: Vec<i16> = (0..50)
        .flat_map(|_| source.next_frame().unwrap().samples)
        .collect();
    assert_eq!(pcm.len(), 50 * FRAME_SAMPLES);
    let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(
        (8_800..=9_000).contains(&peak),
        "downmix averages channels: peak {peak}"
    );
    let found = dominant_frequency(&pcm, SAMPLE_RATE).unwrap();
    assert!((found - 1000.0).abs() <= 5.0, "{found}");
}

#[test]
fn wav_loops_at_the_end() {
    let dir = TempDir::new("wav-loop");
    let path = dir.file("ramp.wav");
    // 1500 mono samples at 48 kHz: a ramp, so positions are recognisable.
    let ramp: Vec<i16> = (0..1500).collect();
    write_wav(&path, SAMPLE_RATE, 1, &ramp).unwrap();
    let mut source = WavSource::open(&path).unwrap().unpaced();
    let first = source.next_frame().unwrap().samples;
    assert_eq!(first, (0..960).collect::<Vec<i16>>());
    let second = source.next_frame().unwrap().samples;
    let expected: Vec<i16> = (960..1500).chain(0..420).collect();
    assert_eq!(second, expected);
}

#[test]
fn bad_wav_files_give_clear_errors() {
    let dir = TempDir::new("wav-bad");
    let mut float = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x03\0\x01\0".to_vec();
    float.extend_from_slice(&48_000u32.to_le_bytes());
    float.extend_from_slice(&192_000u32.to_le_bytes());
    float.extend_from_slice(b"\x04\0\x20\0data\x04\0\0\0\0\0\0\0");
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "video.wav",
            b"YUV4MPEG2 W4 H2 F30:1\n",
            "not a RIFF WAVE file",
        ),
        (
            "float.wav",
            &float,
            "unsupported WAV file: format tag 0x0003",
        ),
        ("nodata.wav", b"RIFF\x04\0\0\0WAVE", "no fmt chunk"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.file(name);
        std::fs::write(&path, bytes).unwrap();
        let message = WavSource::open(&path).unwrap_err().to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.contains(name), "error names the file: {message}");
    }
}
