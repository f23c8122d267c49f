//! The database walk-through of reference/README.md, run exactly as written: the shell block
//! between its `walkthrough` markers, with `threads-node` on the `PATH` (spec/database.md,
//! [DB-2], [DB-12], [DB-17]).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The shell block of the README between the markers, without its fence lines.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let begin = readme
        .find("<!-- walkthrough:begin -->")
        .expect("begin marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("end marker");
    readme[begin..end]
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(body, _)| body.to_owned())
        .expect("a sh block between the markers")
}

#[test]
fn the_readme_database_walkthrough_runs_as_written() {
    let bin = Path::new(env!("CARGO_BIN_EXE_threads-node"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &walkthrough()])
        .env("PATH", path)
        .env("TMPDIR", tmp.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the walk-through failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .filter(|l: &Value| l.get("ready").is_none())
        .collect();
    // The declaration, three creates, the save, the refused put, the get, the query, the
    // watch, the delete and its change, the put and its change, the get, the view (the thread's
    // creation went into `T`).
    assert_eq!(lines.len(), 15, "{stdout}");
    let failures: Vec<&Value> = lines.iter().filter(|l| l["ok"] == false).collect();
    assert_eq!(failures.len(), 1, "{stdout}");
    assert_eq!(failures[0]["code"], "DB_SCHEMA_FAILED");
    let get = lines
        .iter()
        .find(|l| l.get("doc").is_some_and(Value::is_object))
        .expect("db get");
    assert_eq!(get["doc"]["caption"], "the beach at noon");
    let query = lines
        .iter()
        .find(|l| l.get("docs").is_some())
        .expect("db query");
    let ids: Vec<&str> = query["docs"]
        .as_array()
        .expect("docs")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, ["p2", "p1"], "holidays, newest first");
    let changes: Vec<&Value> = lines.iter().filter_map(|l| l.get("change")).collect();
    assert_eq!(
        changes,
        [
            &json!({"coll": "photos", "id": "p3", "doc": null}),
            &json!({"key": "cover", "value": "p2"}),
        ]
    );
    assert!(lines.iter().any(|l| l["value"] == "p2"), "kv get");
    let view = lines
        .iter()
        .find_map(|l| l.get("viewCid"))
        .expect("db view");
    assert!(view.as_str().is_some_and(|c| c.starts_with("bafyrei")));
}
