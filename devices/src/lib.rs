//! Real media devices for the desktop app, behind the same
//! [`clinicall_media`] source and sink traits as the synthetic and file
//! sources the headless client and tests use:
//!
//! - [`audio`]: microphones and speakers through cpal (device lists, the
//!   default and a chosen device, format negotiation, resampling to the
//!   pipeline's 48 kHz mono);
//! - [`camera`]: cameras through nokhwa (device list, resolution and
//!   frame rate choice, pixel format conversion to the encoder's I420).
//!
//! A missing, busy or forbidden device is an error the caller shows and
//! works around (a call goes on with what works), never a panic.
//!
//! Kept apart from `clinicall-client-core` so the headless client and the
//! server's tests do not build ALSA and V4L2 bindings they never use.
#![warn(missing_docs)]

pub mod audio;
pub mod camera;
