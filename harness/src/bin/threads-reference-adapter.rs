//! `threads-reference-adapter`: the reference implementation behind the harness protocol
//! (spec/harness-protocol.md), on stdin and stdout. `threads-conform reference-adapter` is the same.
//! With `--fault NAME` it is the reference with one bug of the catalogue [HP-86].

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => threads_harness::adapter::serve_stdio(),
        [flag, name] if flag == "--fault" => threads_harness::catalogue::serve_stdio(name),
        _ => {
            eprintln!("usage: threads-reference-adapter [--fault NAME]");
            std::process::ExitCode::from(2)
        }
    }
}
