//! The versioned byte layout of [`Moments`], for shipping partial statistics between threads,
//! processes or machines and merging them anywhere ([`Moments::merge`] is exact and
//! order-independent up to rounding). docs/DISTRIBUTED.md describes where it is used.
//!
//! **Layout, version 1** (all numbers little-endian; f64 as IEEE-754 binary64):
//!
//! | bytes | field |
//! | --- | --- |
//! | 8 | magic `TKMOMNTS` |
//! | 2 | version (u16) = 1 |
//! | 1 | centred (0 or 1) |
//! | 1 | reserved, 0 |
//! | 4 | d, features (u32) |
//! | 4 | k, targets (u32) |
//! | 8 | S = Σ sᵢ |
//! | 8·d | x̄ (the f64 nearest the mean) |
//! | 8·d | x̄ₗ (what that rounding drops) |
//! | 8·k | ȳ |
//! | 8·k | ȳₗ |
//! | 8·d(d+1)/2 | C_xx, lower triangle packed column by column: (0,0), (1,0), …, (d−1,0), (1,1), … |
//! | 8·d·k | C_xy, column-major |
//! | 8·k | C_yy |
//!
//! So a state is 20 + 8·(1 + 2d + 2k + d(d+1)/2 + d·k + k) bytes ([`state_len`]): about 4·d²
//! bytes, 43 KB at d = 100 and k = 1, 400 MB at d = 10 000, whatever the number of rows it
//! summarises. A reader refuses another
//! version, a wrong length, and values a merge could not have produced (a negative or
//! non-finite S, non-finite statistics, a negative diagonal).

use faer::{Col, Mat};

use crate::error::{Error, Result};
use crate::moments::Moments;

const MAGIC: &[u8; 8] = b"TKMOMNTS";
/// The layout this build writes and reads.
pub const VERSION: u16 = 1;
const HEADER: usize = 8 + 2 + 1 + 1 + 4 + 4;

/// The length in bytes of a version-1 state of d features and k targets.
pub fn state_len(d: usize, k: usize) -> usize {
    HEADER + 8 * (1 + 2 * d + 2 * k + d * (d + 1) / 2 + d * k + k)
}

/// [`state_len`] without overflow, for sizes read from an untrusted header.
fn state_len_wide(d: u128, k: u128) -> u128 {
    HEADER as u128 + 8 * (1 + 2 * d + 2 * k + d * (d + 1) / 2 + d * k + k)
}

impl Moments {
    /// The statistics in the version-1 layout ([module docs](crate::state)).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (d, k) = (self.n_features(), self.n_targets());
        let mut out = Vec::with_capacity(state_len(d, k));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(u8::from(self.centred));
        out.push(0);
        // d and k come from matrices that fit in memory; a state of more than 2³² features
        // would be 2⁶⁵ bytes.
        out.extend_from_slice(&u32::try_from(d).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&u32::try_from(k).unwrap_or(u32::MAX).to_le_bytes());
        let mut put = |v: f64| out.extend_from_slice(&v.to_le_bytes());
        put(self.weight_sum);
        self.x_mean.iter().for_each(|&v| put(v));
        self.x_mean_lo.iter().for_each(|&v| put(v));
        self.y_mean.iter().for_each(|&v| put(v));
        self.y_mean_lo.iter().for_each(|&v| put(v));
        for j in 0..d {
            (j..d).for_each(|i| put(self.xx[(i, j)]));
        }
        for t in 0..k {
            (0..d).for_each(|j| put(self.xy[(j, t)]));
        }
        self.yy.iter().for_each(|&v| put(v));
        out
    }

    /// Reads a state written by [`Moments::to_bytes`] (this or another process, any machine).
    pub fn from_bytes(bytes: &[u8]) -> Result<Moments> {
        let bad = |reason: String| Error::InvalidState { reason };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(bad(format!(
                "{} bytes that do not start with the magic `TKMOMNTS`: not a state written by \
                 Moments::to_bytes",
                bytes.len()
            )));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let version = u16_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "layout version {version}, but this build reads version {VERSION}; write the \
                 states with the same tikhonov version that merges them"
            )));
        }
        let centred = match bytes[10] {
            0 => false,
            1 => true,
            other => return Err(bad(format!("the centred flag is {other}, not 0 or 1"))),
        };
        let (d, k) = (u32_at(12) as usize, u32_at(16) as usize);
        let expected = state_len_wide(d as u128, k as u128);
        if expected != bytes.len() as u128 {
            return Err(bad(format!(
                "{} bytes, but a version-1 state of d = {d} features and k = {k} targets has \
                 {expected}; the state is truncated or corrupt",
                bytes.len()
            )));
        }
        let mut at = HEADER;
        let mut next = || {
            let v = f64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
            at += 8;
            v
        };
        let weight_sum = next();
        let x_mean = Col::from_fn(d, |_| next());
        let x_mean_lo = Col::from_fn(d, |_| next());
        let y_mean = Col::from_fn(k, |_| next());
        let y_mean_lo = Col::from_fn(k, |_| next());
        let mut xx = Mat::zeros(d, d);
        for j in 0..d {
            for i in j..d {
                xx[(i, j)] = next();
            }
        }
        let xy = Mat::from_fn(d, k, |_, _| next());
        let yy = Col::from_fn(k, |_| next());
        let m = Moments {
            weight_sum,
            x_mean,
            x_mean_lo,
            y_mean,
            y_mean_lo,
            xx,
            xy,
            yy,
            centred,
        };
        if !(weight_sum.is_finite() && weight_sum >= 0.0) {
            return Err(bad(format!(
                "the total weight is {weight_sum}, not finite and ≥ 0"
            )));
        }
        let finite = m.x_mean.is_all_finite()
            && m.x_mean_lo.is_all_finite()
            && m.y_mean.is_all_finite()
            && m.y_mean_lo.is_all_finite()
            && m.xx.is_all_finite()
            && m.xy.is_all_finite()
            && m.yy.is_all_finite();
        let diagonal_ok = (0..d).all(|j| m.xx[(j, j)] >= 0.0) && m.yy.iter().all(|&v| v >= 0.0);
        if !(finite && diagonal_ok) {
            return Err(bad(
                "non-finite statistics or a negative sum of squares: the state is corrupt".into(),
            ));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Par;

    fn sample() -> Moments {
        let x = Mat::from_fn(50, 3, |i, j| ((i * (j + 3)) % 11) as f64 + 1e6 * j as f64);
        let y = Mat::from_fn(50, 2, |i, t| ((i * 7 + t) % 5) as f64);
        let s = Col::from_fn(50, |i| 0.5 + (i % 3) as f64);
        Moments::compute(x.as_ref(), y.as_ref(), Some(s.as_ref()), true, Par::Seq)
    }

    #[test]
    fn a_state_round_trips_bit_for_bit_and_has_the_documented_length() {
        let m = sample();
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), state_len(3, 2));
        let back = Moments::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.weight_sum(), m.weight_sum());
        assert_eq!(back.xx(), m.xx());
    }

    #[test]
    fn corrupt_states_are_errors_that_say_why() {
        let bytes = sample().to_bytes();
        let message = |b: &[u8]| Moments::from_bytes(b).unwrap_err().to_string();
        assert!(message(&bytes[..bytes.len() - 1]).contains("truncated"));
        assert!(message(b"not a state").contains("magic"));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(message(&v2).contains("version 2"));
        let mut nan = bytes.clone();
        nan[HEADER..HEADER + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        assert!(message(&nan).contains("total weight"));
        // A header claiming 2³² features is refused before anything is allocated.
        let mut huge = bytes.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(message(&huge).contains("truncated"));
    }
}
