//! VP8 encoding through libvpx, configured for realtime calls.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint, c_ulong};
use std::time::Duration;

use vpx_sys::{
    VPX_DL_REALTIME, VPX_EFLAG_FORCE_KF, VPX_ENCODER_ABI_VERSION, VPX_ERROR_RESILIENT_DEFAULT,
    VPX_FRAME_IS_KEY, vp8e_enc_control_id, vpx_codec_control_, vpx_codec_cx_pkt_kind,
    vpx_codec_enc_cfg_t, vpx_codec_enc_config_default, vpx_codec_enc_config_set,
    vpx_codec_enc_init_ver, vpx_codec_encode, vpx_codec_get_cx_data, vpx_codec_iter_t,
    vpx_codec_vp8_cx, vpx_image_t, vpx_img_fmt, vpx_img_wrap, vpx_kf_mode, vpx_rc_mode,
};

use super::vpx::CodecContext;
use super::{VideoFrame, check_dimensions, i420_len};
use crate::MediaError;

/// Timestamps handed to libvpx are in the RTP video clock (90 kHz), the unit
/// the session will put on the wire.
const TIMEBASE_HZ: u64 = 90_000;
/// Speed/quality trade-off: -6 is the realtime setting that held 720p30 on
/// two cores (PLATFORM.md). Negative means "this fixed speed", not adaptive.
const CPU_USED: c_int = -6;
/// Keyframes come on demand (a PLI); this only bounds the worst case.
const KEYFRAME_MAX_INTERVAL: c_uint = 3000;
/// Quantizer range and rate-control buffer as libwebrtc configures VP8.
const MIN_QUANTIZER: c_uint = 2;
const MAX_QUANTIZER: c_uint = 56;
const BUFFER_MS: (c_uint, c_uint, c_uint) = (1000, 500, 600);
const UNDERSHOOT_PCT: c_uint = 100;
const OVERSHOOT_PCT: c_uint = 15;
/// Cap on a keyframe's size as a percentage of an average frame (libwebrtc's
/// formula for a 600 ms optimal buffer at 30 fps), so a requested keyframe
/// does not stall the link.
const MAX_INTRA_BITRATE_PCT: c_uint = 900;
/// Bounds of [`Vp8Config::default_bitrate_kbps`].
const MIN_DEFAULT_KBPS: u64 = 150;
const MAX_DEFAULT_KBPS: u64 = 2500;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Config {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Nominal frame rate, for rate control.
    pub fps: u32,
    /// Target bitrate in kbit/s (constant bitrate).
    pub bitrate_kbps: u32,
}

impl Vp8Config {
    /// Settings with [`Vp8Config::default_bitrate_kbps`] for this size.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width,
            height,
            fps,
            bitrate_kbps: Self::default_bitrate_kbps(width, height, fps),
        }
    }

    /// A bitrate that looks good for a talking head: 0.1 bit per pixel, kept
    /// between 150 kbit/s and 2.5 Mbit/s (browsers' usual VP8 ceiling). That
    /// is 230 kbit/s at 320x240, 920 at 640x480 and 2500 at 1280x720, all at
    /// 30 fps.
    pub fn default_bitrate_kbps(width: u32, height: u32, fps: u32) -> u32 {
        let pixels_per_second = u64::from(width) * u64::from(height) * u64::from(fps);
        let kbps = pixels_per_second / 10_000 / 10 * 10;
        u32::try_from(kbps.clamp(MIN_DEFAULT_KBPS, MAX_DEFAULT_KBPS)).unwrap_or(u32::MAX)
    }
}

/// One encoded VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    /// The complete VP8 frame, ready for RTP packetization.
    pub data: Vec<u8>,
    /// Whether it is a keyframe (decodable on its own).
    pub keyframe: bool,
}

/// A realtime VP8 encoder: constant bitrate, no lookahead (each frame comes
/// out of `encode` at once), error resilient, one thread, no frame dropping,
/// keyframes on the first frame and when asked.
pub struct Vp8Encoder {
    ctx: CodecContext,
    cfg: vpx_codec_enc_cfg_t,
    config: Vp8Config,
    /// Last pts given to libvpx, which needs them strictly increasing.
    last_pts: Option<i64>,
}

// SAFETY: the context is `Send` (see `CodecContext`). The only pointers in
// the config copy are the two-pass statistics buffers, which are null in the
// one-pass realtime mode we use and never dereferenced by us.
unsafe impl Send for Vp8Encoder {}

impl std::fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Vp8Encoder {
    /// Creates an encoder.
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] for odd or zero sizes or a zero frame
    /// rate or bitrate; [`MediaError::Vpx`] if libvpx refuses the settings.
    pub fn new(config: Vp8Config) -> Result<Self, MediaError> {
        check_dimensions(config.width, config.height)?;
        if config.fps == 0 || config.bitrate_kbps == 0 {
            return Err(MediaError::InvalidArgument(format!(
                "VP8 encoder needs a positive frame rate and bitrate, got {config:?}"
            )));
        }
        // SAFETY: `vpx_codec_vp8_cx` returns a pointer to libvpx's static
        // VP8 encoder interface.
        let iface = unsafe { vpx_codec_vp8_cx() };
        let mut cfg = MaybeUninit::<vpx_codec_enc_cfg_t>::uninit();
        // SAFETY: `cfg` points to writable memory of the right type; libvpx
        // fills every field. (A zeroed config would hold invalid enum values,
        // which is why it starts uninitialised.)
        let status = unsafe { vpx_codec_enc_config_default(iface, cfg.as_mut_ptr(), 0) };
        if status != vpx_sys::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(MediaError::Vpx {
                operation: "default config",
                message: format!("{status:?}"),
            });
        }
        // SAFETY: `vpx_codec_enc_config_default` succeeded, so it wrote the
        // whole struct.
        let mut cfg = unsafe { cfg.assume_init() };
        apply_config(&mut cfg, &config);

        let mut ctx = CodecContext::init("encoder init", |ctx| {
            // SAFETY: `ctx` is a zeroed context (see `CodecContext::init`),
            // `iface` is the static VP8 interface and `cfg` a complete
            // config that libvpx copies during init. The ABI version is the
            // one the bindings were generated for.
            unsafe { vpx_codec_enc_init_ver(ctx, iface, &cfg, 0, VPX_ENCODER_ABI_VERSION as c_int) }
        })?;
        for (control, value) in [
            (vp8e_enc_control_id::VP8E_SET_CPUUSED, CPU_USED),
            (vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0),
            (vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1),
            (vp8e_enc_control_id::VP8E_SET_TOKEN_PARTITIONS, 0),
            (
                vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
                MAX_INTRA_BITRATE_PCT as c_int,
            ),
        ] {
            // SAFETY: the context is initialised; each of these VP8 controls
            // takes exactly one `int` (or `unsigned int`, same ABI) argument.
            let status = unsafe { vpx_codec_control_(ctx.as_mut_ptr(), control as c_int, value) };
            ctx.check(status, "encoder control")?;
        }
        Ok(Self {
            ctx,
            cfg,
            config,
            last_pts: None,
        })
    }

    /// The current settings (with the current bitrate).
    pub fn config(&self) -> Vp8Config {
        self.config
    }

    /// Encodes one frame; `force_keyframe` makes it a keyframe (answer a PLI
    /// or FIR with it).
    ///
    /// libvpx emits one frame packet per input here: there is no lookahead
    /// and no output partitioning, so the result is one complete VP8 frame
    /// (if libvpx ever split it into fragments they would be concatenated in
    /// order, which is the frame). `None` would mean libvpx dropped the frame,
    /// which frame dropping being off should prevent; callers should still
    /// treat it as "nothing to send".
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] if the frame's size differs from the
    /// encoder's, [`MediaError::Vpx`] if libvpx fails.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedVideo>, MediaError> {
        let (w, h) = (self.config.width, self.config.height);
        if (frame.width, frame.height) != (w, h) || frame.data.len() != i420_len(w, h) {
            return Err(MediaError::InvalidArgument(format!(
                "frame is {}x{} with {} bytes, encoder expects {w}x{h} I420 ({} bytes)",
                frame.width,
                frame.height,
                frame.data.len(),
                i420_len(w, h)
            )));
        }
        let pts = self.next_pts(frame.pts);
        let duration = (TIMEBASE_HZ / u64::from(self.config.fps)).max(1) as c_ulong;
        let flags = if force_keyframe {
            VPX_EFLAG_FORCE_KF as vpx_sys::vpx_enc_frame_flags_t
        } else {
            0
        };

        let mut image = MaybeUninit::<vpx_image_t>::zeroed();
        // SAFETY: `vpx_img_wrap` only fills `image` with the format, sizes,
        // strides and plane pointers into `frame.data`, which we checked holds
        // a full contiguous I420 frame of `w x h` (the layout libvpx computes
        // for alignment 1 and even sizes). libvpx reads the planes, never
        // writes them, so the `*mut` cast of a shared buffer is not used for
        // writing.
        let wrapped = unsafe {
            vpx_img_wrap(
                image.as_mut_ptr(),
                vpx_img_fmt::VPX_IMG_FMT_I420,
                w,
                h,
                1,
                frame.data.as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(MediaError::Vpx {
                operation: "wrap image",
                message: format!("vpx_img_wrap refused a {w}x{h} I420 frame"),
            });
        }
        // SAFETY: the context is initialised, `wrapped` points to the image
        // wrapping `frame.data`, which outlives this call; with no lookahead
        // (`g_lag_in_frames` 0) libvpx is done with the image when it returns.
        let status = unsafe {
            vpx_codec_encode(
                self.ctx.as_mut_ptr(),
                wrapped,
                pts,
                duration,
                flags,
                VPX_DL_REALTIME as c_ulong,
            )
        };
        self.ctx.check(status, "encode")?;
        Ok(self.collect_packets())
    }

    /// Changes the target bitrate, effective from the next frame.
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] for zero, [`MediaError::Vpx`] if
    /// libvpx refuses it.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), MediaError> {
        if kbps == 0 {
            return Err(MediaError::InvalidArgument(
                "bitrate must be positive".into(),
            ));
        }
        let mut cfg = self.cfg;
        cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is initialised and `cfg` is a complete config
        // (a copy of the one the encoder was created with); libvpx copies it.
        let status = unsafe { vpx_codec_enc_config_set(self.ctx.as_mut_ptr(), &cfg) };
        self.ctx.check(status, "set bitrate")?;
        self.cfg = cfg;
        self.config.bitrate_kbps = kbps;
        Ok(())
    }

    /// Converts the frame's media time to the 90 kHz clock, nudged forward if
    /// needed because libvpx wants strictly increasing timestamps.
    fn next_pts(&mut self, pts: Duration) -> i64 {
        let ticks = (pts.as_micros() * u128::from(TIMEBASE_HZ) / 1_000_000) as i64;
        let pts = match self.last_pts {
            Some(last) if ticks <= last => last + 1,
            _ => ticks,
        };
        self.last_pts = Some(pts);
        pts
    }

    /// Drains libvpx's output after one `vpx_codec_encode`.
    fn collect_packets(&mut self) -> Option<EncodedVideo> {
        let mut out: Option<EncodedVideo> = None;
        let mut iter: vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the context is initialised and `iter` starts null, as
            // libvpx's iteration protocol requires.
            let packet = unsafe { vpx_codec_get_cx_data(self.ctx.as_mut_ptr(), &mut iter) };
            if packet.is_null() {
                break;
            }
            // SAFETY: non-null packets point to libvpx-owned packets valid
            // until the next encode call; we only read them here.
            let packet = unsafe { &*packet };
            if packet.kind != vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: for a frame packet, `data.frame` is the active union
            // member, and `buf`/`sz` describe a readable buffer of that size.
            let (bytes, flags) = unsafe {
                let frame = packet.data.frame;
                let bytes = std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize);
                (bytes, frame.flags)
            };
            let encoded = out.get_or_insert_with(|| EncodedVideo {
                data: Vec::with_capacity(bytes.len()),
                keyframe: false,
            });
            encoded.data.extend_from_slice(bytes);
            encoded.keyframe |= flags & VPX_FRAME_IS_KEY != 0;
        }
        out
    }
}

/// Our realtime settings on top of libvpx's defaults (see PLATFORM.md).
fn apply_config(cfg: &mut vpx_codec_enc_cfg_t, config: &Vp8Config) {
    cfg.g_w = config.width;
    cfg.g_h = config.height;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = TIMEBASE_HZ as c_int;
    // One thread: on two cores a second encoder thread was slower.
    cfg.g_threads = 1;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = vpx_rc_mode::VPX_CBR;
    cfg.rc_target_bitrate = config.bitrate_kbps;
    cfg.rc_dropframe_thresh = 0;
    cfg.rc_resize_allowed = 0;
    cfg.rc_min_quantizer = MIN_QUANTIZER;
    cfg.rc_max_quantizer = MAX_QUANTIZER;
    cfg.rc_undershoot_pct = UNDERSHOOT_PCT;
    cfg.rc_overshoot_pct = OVERSHOOT_PCT;
    (cfg.rc_buf_sz, cfg.rc_buf_initial_sz, cfg.rc_buf_optimal_sz) = BUFFER_MS;
    cfg.kf_mode = vpx_kf_mode::VPX_KF_AUTO;
    cfg.kf_min_dist = 0;
    cfg.kf_max_dist = KEYFRAME_MAX_INTERVAL;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bitrates_scale_with_size() {
        assert_eq!(Vp8Config::default_bitrate_kbps(320, 240, 30), 230);
        assert_eq!(Vp8Config::default_bitrate_kbps(640, 480, 30), 920);
        assert_eq!(Vp8Config::default_bitrate_kbps(1280, 720, 30), 2500);
        assert_eq!(Vp8Config::default_bitrate_kbps(16, 16, 1), 150);
    }

    #[test]
    fn refuses_bad_configs_and_frames() {
        assert!(Vp8Encoder::new(Vp8Config::new(321, 240, 30)).is_err());
        assert!(Vp8Encoder::new(Vp8Config::new(320, 240, 0)).is_err());
        let mut enc = Vp8Encoder::new(Vp8Config::new(320, 240, 30)).unwrap();
        let wrong = VideoFrame::new_black(640, 480);
        assert!(matches!(
            enc.encode(&wrong, false),
            Err(MediaError::InvalidArgument(_))
        ));
        let mut short = VideoFrame::new_black(320, 240);
        short.data.truncate(100);
        assert!(enc.encode(&short, false).is_err());
    }

    #[test]
    fn timestamps_are_forced_to_increase() {
        let mut enc = Vp8Encoder::new(Vp8Config::new(320, 240, 30)).unwrap();
        assert_eq!(enc.next_pts(Duration::from_millis(100)), 9000);
        assert_eq!(enc.next_pts(Duration::from_millis(100)), 9001);
        assert_eq!(enc.next_pts(Duration::from_millis(50)), 9002);
        assert_eq!(enc.next_pts(Duration::from_millis(200)), 18000);
    }
}
