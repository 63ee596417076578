//! STREAM-like memory bandwidth kernels (McCalpin's STREAM, "read" and "triad"), run on
//! `threads` scoped threads over contiguous halves, so the figure is what the cores can pull
//! from memory together. Arrays must be far larger than the last-level cache (32 MB here).

/// A fresh, untouched vector of `len` zeros that Linux is asked to back with 2 MiB transparent
/// huge pages, as the library does for its sample-major copy of X (`src/design.rs`,
/// `advise_huge_pages`): with 4 KiB pages the read kernel pays TLB misses that a pass over the
/// copy does not, and would understate what memory can deliver (it once put `gd` at 106 % of
/// the "read rate"). A hint: on another OS, or with THP off, the pages stay ordinary.
pub fn huge_zeros(len: usize) -> Vec<f64> {
    let mut v = vec![0.0f64; len];
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        const MADV_HUGEPAGE: i32 = 14;
        const PAGE: usize = 4096;
        let start = v.as_mut_ptr() as usize;
        let (first, last) = (
            start.next_multiple_of(PAGE),
            (start + 8 * len) / PAGE * PAGE,
        );
        if last > first {
            // SAFETY: [first, last) is page-aligned and inside `v`, which we own; the advice
            // changes how the kernel backs the range, never its contents.
            unsafe { madvise(first as *mut std::ffi::c_void, last - first, MADV_HUGEPAGE) };
        }
    }
    v
}

/// Sum of a slice with 8 independent accumulators, so the adds pipeline and vectorise and the
/// loop is bound by memory, not by the latency of one running sum.
pub fn sum(s: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = s.chunks_exact(8);
    let rem: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    acc.iter().sum::<f64>() + rem
}

/// Read kernel: Σ a, split over `threads` threads. Moves 8·len(a) bytes.
pub fn read(a: &[f64], threads: usize) -> f64 {
    let chunk = a.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        let parts: Vec<_> = a.chunks(chunk).map(|c| s.spawn(move || sum(c))).collect();
        parts
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::NAN))
            .sum()
    })
}

/// Triad kernel: a ← b + q·c, split over `threads` threads. STREAM counts 24 bytes per element
/// (two reads, one write; the write-allocate read of `a` is not counted).
pub fn triad(a: &mut [f64], b: &[f64], c: &[f64], q: f64, threads: usize) {
    let chunk = a.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        for ((a, b), c) in a
            .chunks_mut(chunk)
            .zip(b.chunks(chunk))
            .zip(c.chunks(chunk))
        {
            s.spawn(move || {
                for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                    *a = b + q * c;
                }
            });
        }
    });
}
