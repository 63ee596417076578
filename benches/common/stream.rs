//! STREAM-like memory bandwidth kernels (McCalpin's STREAM, "read" and "triad"), run on
//! `threads` scoped threads over contiguous halves, so the figure is what the cores can pull
//! from memory together. Arrays must be far larger than the last-level cache (32 MB here).

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
