//! The two page-cache calls of the streamed reader (src/stream.rs, `PageCache`): whether a
//! file's data are already cached, and handing the pages of data already read back to the
//! kernel. Linux only (`posix_fadvise`, `preadv2`); elsewhere the first says "unknown" and the
//! second does nothing, so a stream then reads exactly as a plain buffered reader does.
//!
//! Why release at all: a single pass over a file larger than memory gains nothing from the page
//! cache and evicts everything else there. It also matters for speed on virtual machines that
//! return free memory to their host. On the development machine (README, "Data beyond
//! memory"), reading a cold 4 GB file with the pages released every 16–64 MiB took 1.9–2.2 s
//! of which 0.7–0.8 s in the kernel, against 3.8–6.9 s (2.9–6.2 s in the kernel) without
//! release: every new page-cache page of an unreleased read was fresh memory the host had to
//! back, where a released one is reused at once. Releasing every 512 KiB was slower than never
//! (4.5–6.5 s), every 3.2 MiB in between (2.3–2.7 s).

use std::fs::File;

/// Hands the cached pages wholly inside the bytes `start .. end` of `file` back to the kernel
/// (`POSIX_FADV_DONTNEED`; the partial pages at either end stay). A hint: an error is ignored,
/// since the data are read correctly either way.
pub(crate) fn release(file: &File, start: u64, end: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (
            libc::off_t::try_from(start),
            libc::off_t::try_from(end.saturating_sub(start)),
        ) else {
            return;
        };
        if len > 0 {
            // SAFETY: posix_fadvise reads no memory of ours; the descriptor is open while
            // `file` is borrowed.
            unsafe {
                libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED)
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, start, end);
}

/// Pages sampled by [`resident_fraction`].
const SAMPLES: u64 = 32;

/// The fraction of [`SAMPLES`] pages, evenly spread over the bytes `start .. start + len` of
/// `file`, that are in the page cache: each is probed with a one-byte `preadv2(RWF_NOWAIT)`,
/// which fails with `EAGAIN` instead of reading from the disk. `None` where this cannot be
/// told (another OS, a kernel or file system without `RWF_NOWAIT`, an empty range).
pub(crate) fn resident_fraction(file: &File, start: u64, len: u64) -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return None;
        }
        let mut hits = 0;
        for s in 0..SAMPLES {
            let offset = libc::off_t::try_from(start + len / SAMPLES * s).ok()?;
            let mut byte = [0u8; 1];
            let iov = libc::iovec {
                iov_base: byte.as_mut_ptr().cast(),
                iov_len: byte.len(),
            };
            // SAFETY: `iov` describes `byte`, which outlives the call; the descriptor is open
            // while `file` is borrowed.
            let read =
                unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
            if read >= 0 {
                hits += 1;
            } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                return None;
            }
        }
        Some(f64::from(hits) / SAMPLES as f64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, start, len);
        None
    }
}
