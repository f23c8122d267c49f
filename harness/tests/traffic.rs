//! Checks real traffic against the JSON Schemas of `harness/schemas/`: a whole `threads-conform`
//! run against the reference adapter, every request line and reply line recorded on the way
//! (spec/harness-protocol.md, H.1, [HP-7] to [HP-9], [HP-14], [HP-31]).
//!
//! Replies are held to the exact members of the schemas here, although the runner ignores extra
//! members [HP-10]: the reference must send what the spec says and nothing else.

use std::fs;
use std::process::Command;

use serde_json::Value;
use threads_harness::schema::{Members, schemas};

const CONFORM: &str = env!("CARGO_BIN_EXE_threads-conform");
const REFERENCE_ADAPTER: &str = env!("CARGO_BIN_EXE_threads-reference-adapter");

fn lines(path: &std::path::Path) -> Vec<Value> {
    fs::read_to_string(path)
        .expect("the recording exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every recorded line is JSON"))
        .collect()
}

#[test]
fn every_request_and_reply_of_a_reference_run_fits_the_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (requests, replies) = (dir.path().join("requests"), dir.path().join("replies"));
    // The adapter between two `tee`s: what the harness wrote and what the adapter answered. They
    // append: the `handshake` scenario starts a second process of the command while the run's
    // own one waits, and its one request and reply follow the run's in the recordings.
    let script = format!(
        "tee -a {} | {} | tee -a {}",
        shell_words::quote(&requests.to_string_lossy()),
        shell_words::quote(REFERENCE_ADAPTER),
        shell_words::quote(&replies.to_string_lossy()),
    );
    let command = shell_words::join(["sh", "-c", &script]);
    let output = Command::new(CONFORM)
        // One adapter process's traffic: the liveness group's simulators would write to the same
        // recordings.
        .args(["run", "--no-liveness", "--impl", &command])
        .output()
        .expect("threads-conform starts");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let schemas = schemas().expect("the schemas compile");
    let (requests, replies) = (lines(&requests), lines(&replies));
    assert_eq!(
        requests.len(),
        replies.len(),
        "one reply per request [HP-6]"
    );
    let mut methods = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for (request, reply) in requests.iter().zip(&replies) {
        let method = request["method"].as_str().unwrap_or_default();
        methods.insert(method.to_string());
        if let Err(why) = schemas.check_request(request) {
            problems.push(format!("request {request}: {why}"));
        }
        if let Err(why) = schemas.check_reply(reply, Members::Exact) {
            problems.push(format!("reply {reply} to {method}: {why}"));
        }
        if let Some(result) = reply.get("result")
            && let Err(why) = schemas.check_result(method, result, Members::Exact)
        {
            problems.push(format!("result {result} of {method}: {why}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The run exercised every method but `node.tick`, which no scenario of the harness sends.
    for method in threads_harness::protocol::Call::METHODS {
        assert!(
            methods.contains(method) || method == "node.tick",
            "no {method} in the run"
        );
    }
}

/// `node.tick`, which the simulator sends but no scenario of the harness does [HP-51], and a few
/// error replies, straight from the reference adapter.
#[test]
fn tick_and_error_replies_fit_the_schemas() {
    use threads_harness::adapter::Adapter;
    let schemas = schemas().expect("the schemas compile");
    let mut adapter = Adapter::default();
    let seed = "00".repeat(32);
    let requests = [
        r#"{"id":1,"method":"hello","params":{"protocol":1,"harness":"test"}}"#.to_string(),
        format!(r#"{{"id":2,"method":"node.create","params":{{"node":"a","seed":"{seed}"}}}}"#),
        r#"{"id":3,"method":"node.tick","params":{"node":"a","time":5}}"#.into(),
        r#"{"id":4,"method":"node.tick","params":{"node":"b","time":5}}"#.into(),
        r#"{"id":5,"method":"node.fly","params":{}}"#.into(),
        r#"{"id":6,"method":"hello","params":{"protocol":2,"harness":"test"}}"#.into(),
        r#"{"id":"x"}"#.into(),
        "not json".into(),
    ];
    let mut codes = Vec::new();
    for line in &requests {
        let reply = serde_json::to_value(adapter.handle_line(line)).expect("a reply is JSON");
        if let Err(why) = schemas.check_reply(&reply, Members::Exact) {
            panic!("reply {reply} to {line}: {why}");
        }
        let request: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let method = request["method"].as_str().unwrap_or_default();
        if let Some(result) = reply.get("result") {
            schemas
                .check_result(method, result, Members::Exact)
                .unwrap_or_else(|why| panic!("result {result} of {method}: {why}"));
        }
        codes.push(reply["error"]["code"].as_str().map(String::from));
    }
    let codes: Vec<Option<&str>> = codes.iter().map(Option::as_deref).collect();
    assert_eq!(
        codes,
        [
            None,
            None,
            None,
            Some("BAD_REQUEST"),
            Some("UNSUPPORTED"),
            Some("BAD_REQUEST"),
            Some("BAD_REQUEST"),
            Some("BAD_REQUEST"),
        ]
    );
}
