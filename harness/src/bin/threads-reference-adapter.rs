//! `threads-reference-adapter`: the reference implementation behind the harness protocol
//! (spec/harness-protocol.md), on stdin and stdout. `threads-conform reference-adapter` is the same.

fn main() -> std::process::ExitCode {
    threads_harness::adapter::serve_stdio()
}
