//! What a microphone callback does with what the device delivered, without
//! the device: any format and channel count, downmixed to mono, resampled
//! to 48 kHz, cut into 20 ms frames.

use clinicall_media::{AudioFrame, SAMPLE_RATE};
use cpal::{FromSample, Sample};

use super::chunker::FrameChunker;
use super::convert::downmix_to_mono;
use super::resample::Resampler;

/// The capture chain for one stream. Its buffers are reused, so a callback
/// allocates only the frames it completes.
#[derive(Debug)]
pub struct CaptureChain {
    channels: usize,
    mono: Vec<f32>,
    resampled: Vec<f32>,
    resampler: Resampler,
    chunker: FrameChunker,
}

impl CaptureChain {
    /// For a device delivering `channels` interleaved channels at
    /// `device_rate` Hz.
    pub fn new(channels: u16, device_rate: u32) -> Self {
        CaptureChain {
            channels: usize::from(channels.max(1)),
            mono: Vec::new(),
            resampled: Vec::new(),
            resampler: Resampler::new(device_rate, SAMPLE_RATE),
            chunker: FrameChunker::new(),
        }
    }

    /// Takes one callback's interleaved samples; calls `emit` with every
    /// 20 ms frame they complete.
    pub fn push<T>(&mut self, interleaved: &[T], emit: impl FnMut(AudioFrame))
    where
        T: Sample,
        f32: FromSample<T>,
    {
        self.mono.clear();
        downmix_to_mono(interleaved, self.channels, &mut self.mono);
        self.resampled.clear();
        self.resampler.process(&self.mono, &mut self.resampled);
        self.chunker.push(&self.resampled, emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_media::{FRAME_SAMPLES, dominant_frequency};
    use std::f64::consts::TAU;

    /// `seconds` of a tone at `rate`, the same on every channel, as i16.
    fn interleaved_tone(freq: f64, rate: u32, channels: usize, seconds: usize) -> Vec<i16> {
        (0..rate as usize * seconds)
            .flat_map(|i| {
                let s = (0.4 * (TAU * freq * i as f64 / f64::from(rate)).sin() * 32_767.0) as i16;
                std::iter::repeat_n(s, channels)
            })
            .collect()
    }

    #[test]
    fn stereo_44_1_khz_becomes_48_khz_mono_frames_of_the_same_tone() {
        let input = interleaved_tone(440.0, 44_100, 2, 2);
        let mut chain = CaptureChain::new(2, 44_100);
        let mut frames = Vec::new();
        // 10 ms callbacks of 441 stereo frames.
        for chunk in input.chunks(882) {
            chain.push(chunk, |f| frames.push(f));
        }
        // Two seconds: 100 frames, give or take the last partial one.
        assert!((99..=100).contains(&frames.len()), "{}", frames.len());
        assert!(frames.iter().all(|f| f.samples.len() == FRAME_SAMPLES));
        let pcm: Vec<i16> = frames.into_iter().flat_map(|f| f.samples).collect();
        let found = dominant_frequency(&pcm, SAMPLE_RATE).unwrap();
        assert!((found - 440.0).abs() < 2.0, "{found}");
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((12_000..=13_500).contains(&peak), "level kept: {peak}");
    }

    #[test]
    fn float_mono_at_48_khz_passes_through_exactly() {
        let input: Vec<f32> = (0..FRAME_SAMPLES * 2)
            .map(|i| (i as f32 / 4096.0).sin() * 0.5)
            .collect();
        let mut chain = CaptureChain::new(1, 48_000);
        let mut frames = Vec::new();
        chain.push(&input, |f| frames.push(f));
        assert_eq!(frames.len(), 2);
        let expected: Vec<i16> = input
            .iter()
            .map(|&s| super::super::convert::f32_to_i16(s))
            .collect();
        let got: Vec<i16> = frames.into_iter().flat_map(|f| f.samples).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn opposite_channels_cancel_in_the_downmix() {
        // Left and right in antiphase: a mono mic would hear nothing.
        let input: Vec<i16> = (0..FRAME_SAMPLES)
            .flat_map(|i| {
                let s = ((i % 100) as i16 - 50) * 100;
                [s, -s]
            })
            .collect();
        let mut chain = CaptureChain::new(2, 48_000);
        let mut frames = Vec::new();
        chain.push(&input, |f| frames.push(f));
        assert_eq!(frames.len(), 1);
        assert!(frames[0].samples.iter().all(|&s| s == 0));
    }
}
