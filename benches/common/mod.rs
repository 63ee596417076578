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
/// (`BENCH_QUIET_WAIT` seconds, default 10; 0 disables the wait) runs out. Returns whether the
/// machine was quiet, so callers can count noisy rounds.
pub fn wait_quiet() -> bool {
    let budget = std::env::var("BENCH_QUIET_WAIT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(10.0);
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

/// CPU time counters at one instant: the whole machine's (from /proc/stat, all CPUs) and this
/// process's (from /proc/self/stat, all threads), both in clock ticks.
#[derive(Clone, Copy, Debug)]
pub struct CpuSnapshot {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSnapshot {
    /// Reads the counters; `None` where /proc is unavailable.
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
        let total: u64 = (0..8).map(field).sum();
        let busy = total - field(3) - field(4);
        let me = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after = &me[me.rfind(')')? + 1..];
        let f: Vec<u64> = after
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        // utime, stime, cutime, cstime are fields 14–17 of proc(5), 10–13 after the state.
        let own = f.get(10..14)?.iter().sum();
        Some(Self { busy, total, own })
    }

    /// The share of the machine's CPU capacity (all cores) that *other* processes used since
    /// this snapshot: 0 on an otherwise idle machine, 0.5 when another job kept one of two cores
    /// busy. NaN if /proc cannot be read or no time has passed.
    pub fn others_share(&self) -> f64 {
        match Self::now() {
            Some(now) if now.total > self.total => {
                let others = (now.busy - self.busy).saturating_sub(now.own - self.own);
                others as f64 / (now.total - self.total) as f64
            }
            _ => f64::NAN,
        }
    }
}

/// Interleaved rounds of timed candidates, keeping rounds that other processes did not disturb.
///
/// Each round waits for a quiet machine ([`wait_quiet`]), runs every candidate once, and
/// measures the share of CPU capacity other processes used meanwhile
/// ([`CpuSnapshot::others_share`]). A round is *clean* when that share is below
/// `BENCH_NOISE` (default 0.05). Rounds repeat until `reps` clean rounds or `4·reps` rounds in all.
/// Statistics then use the clean rounds if there are at least 3, otherwise all rounds (and say so).
pub struct Rounds {
    /// `times[c][r]`: seconds of candidate c in round r.
    pub times: Vec<Vec<f64>>,
    /// Share of CPU capacity used by other processes in each round.
    pub noise: Vec<f64>,
    /// Load average before the first round.
    pub load_before: String,
    threshold: f64,
}

impl Rounds {
    /// Runs the rounds (after one untimed warm-up call of each candidate).
    pub fn run(reps: usize, cands: &mut [&mut dyn FnMut()]) -> Self {
        for c in cands.iter_mut() {
            c();
        }
        let threshold = std::env::var("BENCH_NOISE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.05);
        let load_before = load_average();
        let mut times = vec![Vec::new(); cands.len()];
        let mut noise = Vec::new();
        let mut clean = 0;
        while clean < reps && noise.len() < 4 * reps.max(1) {
            wait_quiet();
            let snap = CpuSnapshot::now();
            for (i, c) in cands.iter_mut().enumerate() {
                let t = Instant::now();
                c();
                times[i].push(t.elapsed().as_secs_f64());
            }
            let share = snap.map_or(f64::NAN, |s| s.others_share());
            clean += usize::from(share < threshold);
            noise.push(share);
        }
        Self {
            times,
            noise,
            load_before,
            threshold,
        }
    }

    /// Indices of the rounds the statistics use, and a note saying which.
    pub fn used(&self) -> (Vec<usize>, String) {
        let clean: Vec<usize> = (0..self.noise.len())
            .filter(|&r| self.noise[r] < self.threshold)
            .collect();
        let mut shares = self.noise.clone();
        let note = format!(
            "{} rounds, {} clean (other processes used < {:.0}% of the CPU; median share in all \
             rounds {:.0}%); load average before {}, after {}",
            self.noise.len(),
            clean.len(),
            100.0 * self.threshold,
            100.0 * median(&mut shares),
            self.load_before,
            load_average()
        );
        if clean.len() >= 3 {
            (clean, format!("{note}; statistics over the clean rounds"))
        } else {
            (
                (0..self.noise.len()).collect(),
                format!("{note}; too few clean rounds: statistics over ALL rounds (noisy)"),
            )
        }
    }

    /// Times of candidate `c` in the used rounds.
    pub fn of(&self, c: usize) -> Vec<f64> {
        self.used().0.iter().map(|&r| self.times[c][r]).collect()
    }
}

/// The 1-minute load average, for the record.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
