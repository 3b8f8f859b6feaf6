//! A synthetic microphone: a pure sine tone.

use std::f64::consts::TAU;

use super::{AudioFrame, AudioSource, FRAME_DURATION, FRAME_SAMPLES, SAMPLE_RATE};
use crate::{MediaError, Pacer};

/// A continuous sine tone in 20 ms frames, paced like a microphone by default
/// (see [`ToneSource::unpaced`]). Check it on the far side with
/// [`dominant_frequency`](crate::dominant_frequency).
#[derive(Debug)]
pub struct ToneSource {
    /// Phase advance per sample, in radians.
    step: f64,
    /// Peak value in sample units.
    peak: f64,
    phase: f64,
    pacer: Pacer,
}

impl ToneSource {
    /// A tone of `freq_hz` at `amplitude` (a fraction of full scale; clamped
    /// to 0.0..=1.0).
    ///
    /// # Panics
    /// If `freq_hz` is negative, NaN or infinite.
    pub fn new(freq_hz: f32, amplitude: f32) -> Self {
        assert!(
            freq_hz.is_finite() && freq_hz >= 0.0,
            "tone frequency must be finite and non-negative, got {freq_hz}"
        );
        let amplitude = if amplitude.is_nan() {
            0.0
        } else {
            amplitude.clamp(0.0, 1.0)
        };
        Self {
            step: TAU * f64::from(freq_hz) / f64::from(SAMPLE_RATE),
            peak: f64::from(amplitude) * f64::from(i16::MAX),
            phase: 0.0,
            pacer: Pacer::new(FRAME_DURATION),
        }
    }

    /// The same tone without pacing: frames come as fast as asked for.
    pub fn unpaced(self) -> Self {
        Self {
            pacer: Pacer::unpaced(FRAME_DURATION),
            ..self
        }
    }

    /// The next `FRAME_SAMPLES` samples, continuing the phase.
    fn synthesize(&mut self) -> Vec<i16> {
        (0..FRAME_SAMPLES)
            .map(|_| {
                let sample = (self.phase.sin() * self.peak).round() as i16;
                self.phase = (self.phase + self.step) % TAU;
                sample
            })
            .collect()
    }
}

impl AudioSource for ToneSource {
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        self.pacer.wait();
        Ok(AudioFrame {
            samples: self.synthesize(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::dominant_frequency;

    #[test]
    fn frames_join_into_one_continuous_tone() {
        let mut tone = ToneSource::new(440.0, 0.5).unpaced();
        let pcm: Vec<i16> = (0..25)
            .flat_map(|_| tone.next_frame().unwrap().samples)
            .collect();
        assert_eq!(pcm.len(), 25 * FRAME_SAMPLES);
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((16_000..=16_384).contains(&peak), "{peak}");
        // A phase jump at frame edges would show up as a sharp step; a
        // 440 Hz sine at this level moves at most ~950 per sample.
        let max_step = pcm
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).unsigned_abs())
            .max()
            .unwrap();
        assert!(max_step < 1000, "{max_step}");
        let f = dominant_frequency(&pcm, SAMPLE_RATE).unwrap();
        assert!((f - 440.0).abs() < 2.0, "{f}");
    }

    #[test]
    fn paced_tone_delivers_every_20_ms() {
        let mut tone = ToneSource::new(1000.0, 0.1);
        let start = Instant::now();
        for _ in 0..6 {
            tone.next_frame().unwrap();
        }
        let elapsed = start.elapsed();
        assert!(
            (Duration::from_millis(90)..Duration::from_millis(400)).contains(&elapsed),
            "{elapsed:?}"
        );
    }
}
