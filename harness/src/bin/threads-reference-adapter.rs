//! `threads-reference-adapter`: the reference implementation behind the harness protocol
//! (spec/harness-protocol.md), on stdin and stdout.

use std::io;
use std::process::ExitCode;

use threads_harness::adapter::{Adapter, serve};

fn main() -> ExitCode {
    let mut adapter = Adapter::default();
    match serve(io::stdin().lock(), io::stdout().lock(), &mut adapter) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("threads-reference-adapter: {e}");
            ExitCode::from(2)
        }
    }
}
