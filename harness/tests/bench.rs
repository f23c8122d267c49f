//! `threads-conform bench` [HP-94] through the real program: the reference measured against
//! itself prints three positive rates per side and their ratios; an adapter without `"nodes"` is
//! refused with a message that says so (exit 2), not measured as zero.

use std::process::Command;

fn conform(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_threads-conform"))
        .args(args)
        .output()
        .expect("threads-conform starts")
}

#[test]
fn the_reference_against_itself_gives_positive_rates_and_ratios() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let json = dir.path().join("bench.json");
    let me = env!("CARGO_BIN_EXE_threads-conform");
    let adapter = format!("{me} reference-adapter");
    let out = conform(&[
        "bench",
        "--impl",
        &adapter,
        "--records",
        "40",
        "--body",
        "100",
        "--repeats",
        "1",
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "writer appends (log.append)",
        "a fresh follower catches up",
        "a fresh reader catches up",
    ] {
        let line = text.lines().find(|l| l.starts_with(row)).expect(row);
        assert!(line.trim_end().ends_with('x'), "{line}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON")).expect("JSON");
    for side in ["reference", "implementation"] {
        for rate in ["appendPerSecond", "followerPerSecond", "readerPerSecond"] {
            let value = report[side][rate].as_f64().expect(rate);
            assert!(value > 0.0, "{side}.{rate} = {value}");
        }
    }
    assert_eq!(report["records"], 40);
}

#[test]
fn an_adapter_without_nodes_is_refused_saying_why() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python/threads_adapter.py");
    let adapter = shell_words::join(["python3", script.to_str().expect("utf-8 path")]);
    let out = conform(&[
        "bench",
        "--impl",
        &adapter,
        "--records",
        "10",
        "--repeats",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("\"nodes\""), "{err}");
}
