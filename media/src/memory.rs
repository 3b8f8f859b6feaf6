//! Keeping a process that makes call after call from holding on to memory
//! it has freed.
//!
//! A call allocates frame-sized buffers (hundreds of KiB to MiBs: raw
//! frames, libvpx's reference frames) on threads that live for that call.
//! glibc serves blocks above its mmap threshold with `mmap` and returns
//! them on free, but it *raises* that threshold to the size of each such
//! block freed. After the first call, frame buffers therefore come from
//! per-thread heap arenas, which keep the memory: RSS rose ~55 MB over the
//! first ~16 calls before levelling off (one arena per new thread, up to
//! 8 x cores). Fixing the threshold at glibc's own starting value (128 KiB)
//! keeps large buffers on `mmap`, so a call's memory goes back when it ends
//! (measured: ~2 MB over 50 calls; docs/benchmarks.md). The cost is one
//! mmap/munmap pair per large buffer.
#![allow(unsafe_code)]

/// glibc's initial (and here permanent) mmap threshold.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Makes freed frame-sized memory return to the OS (see the module docs).
/// Call once at startup, before other threads exist. Returns whether the
/// setting took; a no-op (returning `false`) where the C library is not
/// glibc.
pub fn return_large_blocks_to_os() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; M_MMAP_THRESHOLD
        // with a value within glibc's documented range (0..=HEAP_MAX/2) has
        // no other effect. It is thread-safe in glibc, and called at startup.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_setting() {
        assert!(super::return_large_blocks_to_os());
    }
}
