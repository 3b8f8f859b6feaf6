//! Cutting a stream of 48 kHz mono samples into the pipeline's 20 ms
//! frames, whatever size the device's callbacks come in.

use clinicall_media::{AudioFrame, FRAME_SAMPLES};

use super::convert::f32_to_i16;

/// Collects samples until a whole frame is there.
#[derive(Debug, Default)]
pub struct FrameChunker {
    pending: Vec<i16>,
}

impl FrameChunker {
    /// An empty chunker.
    pub fn new() -> Self {
        FrameChunker {
            pending: Vec::with_capacity(FRAME_SAMPLES),
        }
    }

    /// Adds samples (f32, -1..=1); calls `emit` with each frame completed.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(AudioFrame)) {
        for &sample in samples {
            self.pending.push(f32_to_i16(sample));
            if self.pending.len() == FRAME_SAMPLES {
                let samples =
                    std::mem::replace(&mut self.pending, Vec::with_capacity(FRAME_SAMPLES));
                emit(AudioFrame { samples });
            }
        }
    }

    /// Samples waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_callback_size_gives_whole_frames_in_order() {
        for callback in [1, 64, 441, 959, 960, 961, 4096] {
            let mut chunker = FrameChunker::new();
            let mut frames = Vec::new();
            // A ramp, so order and continuity can be checked.
            let total = FRAME_SAMPLES * 5 + 17;
            let ramp: Vec<f32> = (0..total).map(|i| (i % 1000) as f32 / 32_767.0).collect();
            for chunk in ramp.chunks(callback) {
                chunker.push(chunk, |f| frames.push(f));
            }
            assert_eq!(frames.len(), 5, "callback {callback}");
            assert_eq!(chunker.pending(), 17);
            let joined: Vec<i16> = frames.into_iter().flat_map(|f| f.samples).collect();
            let expected: Vec<i16> = (0..FRAME_SAMPLES * 5).map(|i| (i % 1000) as i16).collect();
            assert_eq!(joined, expected, "callback {callback}");
        }
    }
}
