//! Microphone capture and speaker playback through cpal.
