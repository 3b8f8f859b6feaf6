//! What the VP8 encoder and decoder share: an owned libvpx codec context and
//! the translation of libvpx status codes into [`MediaError`].
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::mem::MaybeUninit;

use vpx_sys::{vpx_codec_ctx_t, vpx_codec_destroy, vpx_codec_err_t};

use crate::MediaError;

/// An initialised libvpx codec context, destroyed on drop.
///
/// Boxed so its address never changes after libvpx has seen it.
pub(crate) struct CodecContext {
    ctx: Box<vpx_codec_ctx_t>,
}

// SAFETY: a libvpx context is plain heap state with no thread affinity; it
// may be used from any one thread at a time. `CodecContext` is not `Sync`
// and every use goes through `&mut self`, so that is all we allow.
unsafe impl Send for CodecContext {}

impl CodecContext {
    /// Runs `init` (one of the `vpx_codec_*_init_ver` functions) on a fresh
    /// context and keeps the context if it succeeded.
    pub(crate) fn init(
        operation: &'static str,
        init: impl FnOnce(*mut vpx_codec_ctx_t) -> vpx_codec_err_t,
    ) -> Result<Self, MediaError> {
        // SAFETY: every field of `vpx_codec_ctx_t` is a pointer, an integer,
        // or the `vpx_codec_err_t` enum, for which all-zero is valid
        // (null, 0, VPX_CODEC_OK). libvpx's init functions expect exactly
        // this: they fill the struct and need no prior initialisation.
        let mut ctx = Box::new(unsafe { MaybeUninit::<vpx_codec_ctx_t>::zeroed().assume_init() });
        let status = init(&mut *ctx);
        if status != vpx_codec_err_t::VPX_CODEC_OK {
            // A failed init leaves nothing allocated that destroy could free,
            // and `ctx.priv_` is null, so it is simply dropped.
            return Err(MediaError::Vpx {
                operation,
                message: describe(status, None),
            });
        }
        Ok(Self { ctx })
    }

    /// The raw context, for libvpx calls.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut vpx_codec_ctx_t {
        &mut *self.ctx
    }

    /// Turns a libvpx status into a result, with libvpx's own message.
    pub(crate) fn check(
        &mut self,
        status: vpx_codec_err_t,
        operation: &'static str,
    ) -> Result<(), MediaError> {
        if status == vpx_codec_err_t::VPX_CODEC_OK {
            return Ok(());
        }
        // SAFETY: `err_detail` is null or a NUL-terminated string owned by
        // the context, valid until the next call on it; we copy it at once.
        let detail = unsafe { c_str(self.ctx.err_detail) };
        Err(MediaError::Vpx {
            operation,
            message: describe(status, detail),
        })
    }
}

impl Drop for CodecContext {
    fn drop(&mut self) {
        // SAFETY: the context was initialised successfully (see `init`) and
        // is destroyed exactly once, here. The status is ignored: there is
        // nothing to do about a failed free.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

fn describe(status: vpx_codec_err_t, detail: Option<String>) -> String {
    // SAFETY: `vpx_codec_err_to_string` returns a pointer to a static
    // NUL-terminated string for every status value.
    let text = unsafe { c_str(vpx_sys::vpx_codec_err_to_string(status)) }
        .unwrap_or_else(|| format!("{status:?}"));
    match detail {
        Some(detail) if !detail.is_empty() => format!("{text} ({detail})"),
        _ => text,
    }
}

/// Copies a C string, `None` for null.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that stays valid
/// for the duration of the call.
unsafe fn c_str(ptr: *const std::os::raw::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated by this function's contract.
    Some(
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned(),
    )
}
