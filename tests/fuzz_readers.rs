//! Byte-level fuzzing of the CSV and `.npy` readers and of the command-line parser: whatever the
//! input, no panic, and every error is one line of bounded length without raw control
//! characters.
//!
//! CI runs a few thousand cases per property from a fixed seed (as `tests/support_random/cases.rs`
//! does for the numerical property tests), so a run cannot pass or fail by luck. The long run is
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test --release --test fuzz_readers
//! ```
//!
//! (each property then sees 10⁶ inputs; `PROPTEST_RNG_SEED=<u64>` explores other inputs). Its
//! result is in the README, section "Command line".

use std::io::Write;

use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};

#[allow(dead_code)]
#[path = "../src/bin/cli/args.rs"]
mod args;

/// Cases per property in CI (overridden by `PROPTEST_CASES`).
const CI_CASES: u32 = 3000;
/// The fixed seed of CI runs ("fuzz" in ASCII).
const SEED: u64 = 0x6675_7a7a;
/// The longest error message accepted (characters), file path included.
const MAX_CHARS: usize = 1000;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CI_CASES);
    let mut config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    config.rng_seed = match std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => RngSeed::Fixed(seed),
        None => RngSeed::Fixed(SEED),
    };
    config
}

/// One line, bounded, no raw control characters.
fn check_message(input: &str, message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        message.chars().count() <= MAX_CHARS,
        "{input}: {} characters: {}",
        message.chars().count(),
        message.chars().take(200).collect::<String>()
    );
    prop_assert!(
        !message.chars().any(char::is_control),
        "{input}: control character in {message:?}"
    );
    Ok(())
}

/// A valid little CSV file, to be mutated.
const CSV_SEED: &[u8] = b"a,b,y\n1,2.5,3\n-4e2,5,6\n7,8,9\n";

/// A valid `.npy` file of shape (3, 2), to be mutated.
fn npy_seed() -> Vec<u8> {
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }";
    let mut h = header.as_bytes().to_vec();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h);
    for i in 0..6 {
        out.extend((i as f64 * 1.5).to_le_bytes());
    }
    out
}

/// Bytes: random, or a valid file with some bytes overwritten, inserted or cut off.
fn mutated(seed: Vec<u8>, alphabet: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    let byte = prop_oneof![
        3 => any::<u8>(),
        2 => proptest::sample::select(alphabet),
    ];
    prop_oneof![
        1 => proptest::collection::vec(byte.clone(), 0..300),
        3 => (
            proptest::collection::vec((0..len + 1, byte, 0u8..3), 0..8),
            0..len + 2,
        )
            .prop_map(move |(edits, cut)| {
                let mut v = seed.clone();
                for (pos, b, op) in edits {
                    let pos = pos.min(v.len());
                    match op {
                        0 if pos < v.len() => v[pos] = b,
                        1 => v.insert(pos, b),
                        _ if pos < v.len() => {
                            v.remove(pos);
                        }
                        _ => v.push(b),
                    }
                }
                v.truncate(cut.max(1).min(v.len() + 1));
                v
            }),
    ]
}

fn with_file(
    bytes: &[u8],
    f: impl FnOnce(&std::path::Path) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(bytes).expect("write the temporary file");
    file.flush().expect("flush the temporary file");
    f(file.path())
}

#[test]
fn csv_reader_never_panics_and_errors_are_one_bounded_line() {
    let mut runner = TestRunner::new(config());
    let strategy = (
        mutated(CSV_SEED.to_vec(), b",;\t\n\r\"\x1b\0 .-e1y"),
        prop_oneof![Just("y".to_string()), "[a-z,\u{1b}\n]{0,4}"],
    );
    runner
        .run(&strategy, |(bytes, target)| {
            with_file(&bytes, |path| {
                if let Err(e) = tikhonov::data::read_csv(path, &[target.as_str()]) {
                    check_message(&format!("{bytes:?}"), &e.to_string())?;
                }
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn npy_reader_never_panics_and_errors_are_one_bounded_line() {
    let mut runner = TestRunner::new(config());
    let strategy = mutated(
        npy_seed(),
        b"{}()[]',:0123456789 \n\x93NUMPY\x02\x03<>f8TrueFalse",
    );
    runner
        .run(&strategy, |bytes| {
            with_file(&bytes, |path| {
                if let Err(e) = tikhonov::data::read_npy_matrix(path) {
                    check_message(&format!("{bytes:?}"), &e.to_string())?;
                }
                if let Err(e) = tikhonov::data::read_npy_vector(path) {
                    check_message(&format!("{bytes:?}"), &e.to_string())?;
                }
                Ok(())
            })
        })
        .unwrap();
}

/// Words the option parser knows, and values that stress it.
const WORDS: &[&str] = &[
    "fit",
    "compare",
    "predict",
    "--model",
    "--loss",
    "logistic",
    "squared",
    "csv",
    "--solvers",
    "--solver",
    "--reference",
    "--data",
    "--target",
    "--targets",
    "--x",
    "--y",
    "--weights",
    "--lambda",
    "--no-intercept",
    "--tol",
    "--max-iter",
    "--time-limit",
    "--step",
    "--seed",
    "--n",
    "--d",
    "--condition",
    "--format",
    "--history",
    "--record-every",
    "--help",
    "--version",
    "-h",
    "--",
    "-",
    "all",
    "all,bogus",
    "qr",
    "auto",
    "json",
    "table",
    "xml",
    "1e-8",
    "-1e-8",
    "1e19",
    "1e300",
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "1,2,3",
    ",",
    "",
    "18446744073709551616",
    "=",
    "--lambda=-1",
    "--n=5",
    "\u{1b}[31m",
    "\n",
    "a\u{0}b",
    "é",
    "--solvers=qr,,cg",
];

#[test]
fn option_parser_never_panics_and_errors_are_one_bounded_line() {
    let mut runner = TestRunner::new(config());
    let word = prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(String::from),
        1 => ".{0,12}",
    ];
    let strategy = proptest::collection::vec(word, 0..8);
    runner
        .run(&strategy, |words| {
            let argv = std::iter::once("tikhonov".to_string()).chain(words.iter().cloned());
            match args::parse(argv) {
                Ok(_) => {}
                Err(line) => check_message(&format!("{words:?}"), &format!("error: {line}"))?,
            }
            Ok(())
        })
        .unwrap();
}
