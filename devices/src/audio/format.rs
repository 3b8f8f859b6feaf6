//! Which of a device's supported stream configurations to open.
//!
//! Pure: it ranks the ranges a device reports and never touches the
//! device. In order of importance:
//!
//! 1. the sample rate: 48 kHz (the pipeline's rate: no resampling), else
//!    44.1 kHz, else the supported rate nearest to 48 kHz;
//! 2. a sample format we convert (every integer and float PCM format up to
//!    32 bits, and f64); f32 and i16 first since they are native almost
//!    everywhere, so the driver converts nothing;
//! 3. channels: mono for capture (the device or sound server downmixes),
//!    stereo for playback (we copy the mono signal to both sides, where a
//!    raw mono stream on a stereo card may play on the left only); then
//!    the fewest channels.

use clinicall_media::SAMPLE_RATE;
use cpal::{BufferSize, SampleFormat, SupportedBufferSize, SupportedStreamConfigRange};

/// Capture or playback: they prefer different channel counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A microphone.
    Capture,
    /// A speaker.
    Playback,
}

/// The configuration to open a device with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamChoice {
    /// Interleaved channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// The sample type the device exchanges.
    pub sample_format: SampleFormat,
    /// Frames per callback: [`PERIOD`] when the device allows it, else its
    /// own default.
    pub buffer_size: BufferSize,
}

impl StreamChoice {
    /// cpal's form of it.
    pub fn stream_config(&self) -> cpal::StreamConfig {
        cpal::StreamConfig {
            channels: self.channels,
            sample_rate: self.sample_rate,
            buffer_size: self.buffer_size,
        }
    }
}

/// The callback period asked for: one pipeline frame. Shorter periods wake
/// the audio thread more often for nothing (the pipeline works in 20 ms
/// frames) and underrun more easily on a loaded two-core machine; longer
/// ones add latency.
pub const PERIOD: std::time::Duration = clinicall_media::FRAME_DURATION;

/// The 44.1 kHz fallback rate (CD audio, common on older hardware).
const CD_RATE: u32 = 44_100;

/// Picks the configuration to open, or `None` when no range has a sample
/// format we can convert.
pub fn choose(ranges: &[SupportedStreamConfigRange], direction: Direction) -> Option<StreamChoice> {
    ranges
        .iter()
        .filter(|r| r.channels() > 0 && format_rank(r.sample_format()).is_some())
        .map(|r| (r, rate_for(r)))
        .min_by_key(|(r, rate)| {
            (
                rate_cost(*rate),
                format_rank(r.sample_format()),
                channel_cost(r.channels(), direction),
            )
        })
        .map(|(r, rate)| StreamChoice {
            channels: r.channels(),
            sample_rate: rate,
            sample_format: r.sample_format(),
            buffer_size: buffer_size(r.buffer_size(), rate),
        })
}

/// The best rate inside one range.
fn rate_for(range: &SupportedStreamConfigRange) -> u32 {
    if range.contains_rate(SAMPLE_RATE) {
        SAMPLE_RATE
    } else if range.contains_rate(CD_RATE) {
        CD_RATE
    } else {
        SAMPLE_RATE.clamp(range.min_sample_rate(), range.max_sample_rate())
    }
}

/// 0 for 48 kHz, 1 for 44.1 kHz, then the distance from 48 kHz.
fn rate_cost(rate: u32) -> u32 {
    match rate {
        SAMPLE_RATE => 0,
        CD_RATE => 1,
        other => 2 + other.abs_diff(SAMPLE_RATE),
    }
}

/// Lower is better; `None` for formats we do not convert (DSD, 64-bit
/// integers, and any format cpal adds later).
fn format_rank(format: SampleFormat) -> Option<u8> {
    Some(match format {
        SampleFormat::F32 => 0,
        SampleFormat::I16 => 1,
        SampleFormat::I32 => 2,
        SampleFormat::I24 => 3,
        SampleFormat::U16 => 4,
        SampleFormat::F64 => 5,
        SampleFormat::U32 => 6,
        SampleFormat::I8 => 7,
        SampleFormat::U8 => 8,
        _ => return None,
    })
}

fn channel_cost(channels: u16, direction: Direction) -> u16 {
    let preferred = match direction {
        Direction::Capture => 1,
        Direction::Playback => 2,
    };
    if channels == preferred { 0 } else { channels }
}

/// [`PERIOD`] in frames when the device's range allows it.
fn buffer_size(supported: &SupportedBufferSize, rate: u32) -> BufferSize {
    let frames = (u64::from(rate) * PERIOD.as_millis() as u64 / 1000) as u32;
    match supported {
        SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&frames) => {
            BufferSize::Fixed(frames)
        }
        // Unknown ranges are common (PulseAudio's plugin reports none up
        // front); asking anyway could fail the open, the default cannot.
        _ => BufferSize::Default,
    }
}

/// A short description of what a device offered, for
/// [`AudioError::NoUsableFormat`](super::AudioError::NoUsableFormat).
pub fn describe(ranges: &[SupportedStreamConfigRange]) -> String {
    if ranges.is_empty() {
        return "the device reported no configurations".into();
    }
    let offers: Vec<String> = ranges
        .iter()
        .map(|r| {
            format!(
                "{:?} {} ch {}-{} Hz",
                r.sample_format(),
                r.channels(),
                r.min_sample_rate(),
                r.max_sample_rate()
            )
        })
        .collect();
    format!("offered only: {}", offers.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(
        channels: u16,
        min: u32,
        max: u32,
        format: SampleFormat,
    ) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(
            channels,
            min,
            max,
            SupportedBufferSize::Range { min: 64, max: 8192 },
            format,
        )
    }

    #[test]
    fn prefers_48_khz_even_in_a_worse_format() {
        let ranges = [
            range(2, 44_100, 44_100, SampleFormat::F32),
            range(2, 48_000, 48_000, SampleFormat::U8),
        ];
        let choice = choose(&ranges, Direction::Capture).unwrap();
        assert_eq!(
            (choice.sample_rate, choice.sample_format),
            (48_000, SampleFormat::U8)
        );
    }

    #[test]
    fn takes_48_khz_from_inside_a_range() {
        let ranges = [range(2, 8_000, 192_000, SampleFormat::I16)];
        let choice = choose(&ranges, Direction::Playback).unwrap();
        assert_eq!(choice.sample_rate, 48_000);
        // One 20 ms period of 48 kHz.
        assert_eq!(choice.buffer_size, BufferSize::Fixed(960));
    }

    #[test]
    fn falls_back_to_44_1_then_the_nearest_rate() {
        let cd = [range(1, 32_000, 44_100, SampleFormat::I16)];
        assert_eq!(choose(&cd, Direction::Capture).unwrap().sample_rate, 44_100);
        let odd = [
            range(1, 8_000, 16_000, SampleFormat::I16),
            range(1, 88_200, 96_000, SampleFormat::I16),
        ];
        // 96 kHz is 48 kHz from 48 kHz, 16 kHz only 32 kHz away.
        assert_eq!(
            choose(&odd, Direction::Capture).unwrap().sample_rate,
            16_000
        );
    }

    #[test]
    fn format_then_channels_break_ties() {
        let ranges = [
            range(1, 48_000, 48_000, SampleFormat::I16),
            range(2, 48_000, 48_000, SampleFormat::F32),
            range(1, 48_000, 48_000, SampleFormat::F32),
            range(6, 48_000, 48_000, SampleFormat::F32),
        ];
        let capture = choose(&ranges, Direction::Capture).unwrap();
        assert_eq!(
            (capture.channels, capture.sample_format),
            (1, SampleFormat::F32)
        );
        let playback = choose(&ranges, Direction::Playback).unwrap();
        assert_eq!(
            (playback.channels, playback.sample_format),
            (2, SampleFormat::F32)
        );
        // Without the preferred count, the fewest channels.
        let surround = [
            range(6, 48_000, 48_000, SampleFormat::I16),
            range(4, 48_000, 48_000, SampleFormat::I16),
        ];
        assert_eq!(choose(&surround, Direction::Playback).unwrap().channels, 4);
    }

    #[test]
    fn unusable_formats_and_empty_lists_give_none() {
        let dsd = [
            range(2, 48_000, 48_000, SampleFormat::DsdU8),
            range(2, 48_000, 48_000, SampleFormat::I64),
        ];
        assert_eq!(choose(&dsd, Direction::Playback), None);
        assert_eq!(choose(&[], Direction::Capture), None);
        assert!(describe(&dsd).contains("DsdU8 2 ch 48000-48000 Hz"));
    }

    #[test]
    fn unknown_or_narrow_buffer_ranges_use_the_device_default() {
        let unknown = [SupportedStreamConfigRange::new(
            2,
            48_000,
            48_000,
            SupportedBufferSize::Unknown,
            SampleFormat::F32,
        )];
        assert_eq!(
            choose(&unknown, Direction::Playback).unwrap().buffer_size,
            BufferSize::Default
        );
        let tiny = [SupportedStreamConfigRange::new(
            2,
            44_100,
            44_100,
            SupportedBufferSize::Range { min: 16, max: 256 },
            SampleFormat::F32,
        )];
        assert_eq!(
            choose(&tiny, Direction::Playback).unwrap().buffer_size,
            BufferSize::Default
        );
    }
}
