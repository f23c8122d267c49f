//! The conformance runner's reply reader [HP-3], [HP-10], [HP-53]: any bytes an adapter writes,
//! cut into bounded lines and checked against the pending request's id, give a reply or a
//! protocol violation, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads_harness::runner::client::parse_reply;
use threads_harness::runner::tail::{BoundedLine, read_bounded_line, skip_line};

/// A small bound, so that the fuzzer reaches the over-long path with small inputs.
const MAX: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let id = u64::from(first);
    let mut input = rest;
    let mut line = Vec::new();
    loop {
        match read_bounded_line(&mut input, MAX, &mut line) {
            Ok(BoundedLine::Line) => {
                assert!(line.len() <= MAX);
                let _ = parse_reply(&line, id);
            }
            Ok(BoundedLine::TooLong) => {
                assert_eq!(line.len(), MAX);
                if skip_line(&mut input).is_err() {
                    break;
                }
            }
            Ok(BoundedLine::End) | Err(_) => break,
        }
    }
});
