//! The pre-call sound check, from a terminal: lists the sound devices,
//! plays a short tone on the speaker and reports the microphone's level.
//!
//! `cargo run -p clinicall-devices --example audio_check -- [INPUT] [OUTPUT]`
//! (device ids or names; the defaults without).

use clinicall_devices::audio::{
    Microphone, input_devices, measure, output_devices, play_test_tone,
};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (input, output) = (args.next(), args.next());
    for (label, devices) in [("input", input_devices()?), ("output", output_devices()?)] {
        for d in devices {
            let default = if d.is_default { " (default)" } else { "" };
            println!("{label}: {} [{}]{default}", d.name, d.id);
        }
    }
    match play_test_tone(output.as_deref(), 440.0, Duration::from_secs(1)) {
        Ok(opened) => println!("played a tone on {opened:?}"),
        Err(e) => println!("speaker: {e} ({})", e.detail()),
    }
    match Microphone::open(input.as_deref()) {
        Ok(mut microphone) => {
            println!("listening on {:?}", microphone.device());
            let (level, _) = measure(&mut microphone, 50)?;
            println!(
                "microphone level: RMS {:.1} dBFS, peak {:.1} dBFS",
                level.rms_dbfs, level.peak_dbfs
            );
        }
        Err(e) => println!("microphone: {e} ({})", e.detail()),
    }
    Ok(())
}
