//! Helpers shared by the bench targets: medians, and waiting for a quiet machine.
//!
//! The machine the figures come from is shared (other jobs compile and test on the same two
//! cores) and Linux's autogroup scheduling shares the CPU between sessions regardless of `nice`,
//! so a two-thread timing that overlaps another job measures the other job. Interleaved rounds
//! (every candidate once per round) make the *ratios* fair; [`wait_quiet`] before each round
//! makes the absolute rates meaningful too, by waiting until nothing else is runnable.

#![allow(dead_code)] // Each bench target uses a subset.

pub mod stream;

use std::time::{Duration, Instant};

/// Median of a sample (sorted in place); NaN for an empty one.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Runnable tasks right now (`procs_running` in /proc/stat, which counts the reader itself);
/// `None` where /proc/stat is unavailable.
fn procs_running() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until no other task is runnable in 5 readings 20 ms apart, or until the budget
/// (`BENCH_QUIET_WAIT` seconds, default 30; 0 disables the wait) runs out. Returns whether the
/// machine was quiet, so callers can count noisy rounds.
pub fn wait_quiet() -> bool {
    let budget = std::env::var("BENCH_QUIET_WAIT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(30.0);
    if budget <= 0.0 {
        return false;
    }
    let start = Instant::now();
    let mut calm = 0;
    while start.elapsed().as_secs_f64() < budget {
        match procs_running() {
            None => return false,
            Some(r) if r <= 1 => calm += 1,
            Some(_) => calm = 0,
        }
        if calm >= 5 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The 1-minute load average, for the record.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
