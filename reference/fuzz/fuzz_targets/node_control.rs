//! The node's control channel (`threads-node` stdin): any bytes, cut into lines by the bounded
//! reader and parsed as commands, give a command or a registry error per line, never a panic
//! and never a line longer than the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::node::control::{Command, read_line};

/// A small bound, so that the fuzzer reaches the over-long path with small inputs.
const MAX: usize = 256;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let mut lines = 0;
    while let Ok(Some(line)) = read_line(&mut input, MAX) {
        lines += 1;
        if let Ok(line) = line {
            assert!(line.len() <= MAX);
            let _ = line.parse::<Command>();
        }
    }
    // Every line feed ends a line, and a last line without one counts too.
    assert!(lines <= data.len());
});
