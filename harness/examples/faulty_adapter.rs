//! Deliberately faulty implementations, built only with the tests (`cargo test` builds examples):
//! the reference adapter with one bug switched on by `--fault NAME`. `harness/tests/faults.rs` runs
//! the harness against each and checks that it fails, naming the cases that caught it.
//!
//! Faults here: short-random, wrong-error-codes, and misbehaviour at the protocol level: crash,
//! hang, garbage, endless-reply, huge-reply, stderr-flood. Any other name is a fault of the bug
//! catalogue (`threads_harness::catalogue`, HP-86), served as `threads-reference-adapter --fault`
//! serves it: forged-signatures, ignore-associated-data, skip-link-check, leak-plaintext,
//! ignore-revocation, exit-after-reply, arrival-order-fold, patch-replaces,
//! unstable-query-order, unauthorised-delete, skips-remote-reducers, arrival-order and the rest.

use std::io::{self, BufRead, Write};

use serde_json::{Value, json};
use threads_harness::adapter::Adapter;
use threads_harness::catalogue;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let fault = match args.iter().position(|a| a == "--fault") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => String::new(),
    };
    if catalogue::find(&fault).is_some() {
        return catalogue::serve_stdio(&fault);
    }
    let mut adapter = Adapter::default();
    let stdout = io::stdout();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let request: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let reply = match reply(&fault, &request) {
            Some(reply) => reply,
            None => serde_json::to_value(adapter.handle_line(&line)).unwrap_or(Value::Null),
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
        if adapter.done() {
            break;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Faults that answer in place of the reference.
fn reply(fault: &str, request: &Value) -> Option<Value> {
    let id = request["id"].clone();
    let params = request["params"].as_object()?;
    let operation = params
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let honest =
        || serde_json::to_value(Adapter::default().handle(request.clone())).unwrap_or(Value::Null);
    match (fault, request["method"].as_str()?) {
        ("short-random", "vector") => {
            let reply = honest();
            (reply["error"]["code"] == "TID_SHORT_RANDOM")
                .then(|| json!({"id": id, "result": {"variant": "raw"}}))
        }
        ("wrong-error-codes", "vector") => {
            let mut reply = honest();
            if reply.get("error").is_some() {
                reply["error"]["code"] = "BLOCK_MALFORMED".into();
            }
            Some(reply)
        }
        ("crash", "vector") if operation == "keyset.decode" => std::process::exit(101),
        ("hang", "vector") if operation == "logId.decodeBytes" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        ("garbage", "vector") if operation == "logAddr.decode" => {
            Some(json!("this is not a reply"))
        }
        // A reply line that never ends: the harness must stop reading it [HP-53].
        ("endless-reply", "vector") if operation == "logAddr.decode" => {
            let chunk = vec![b'x'; 1 << 16];
            let mut out = io::stdout().lock();
            while out.write_all(&chunk).is_ok() {}
            std::process::exit(0)
        }
        // A 1 GiB reply line, then its end: still over the bound [HP-53].
        ("huge-reply", "vector") if operation == "logAddr.decode" => {
            let chunk = vec![b'x'; 1 << 20];
            let mut out = io::stdout().lock();
            for _ in 0..1024 {
                if out.write_all(&chunk).is_err() {
                    std::process::exit(0);
                }
            }
            let _ = out.write_all(b"\n").and_then(|()| out.flush());
            std::process::exit(0)
        }
        // 1 GiB of log in one line on stderr, then garbage, so that the report shows the tail:
        // the harness drains it all but keeps a bounded part [HP-4].
        ("stderr-flood", "vector") if operation == "logAddr.decode" => {
            let chunk = vec![b'e'; 1 << 20];
            let mut err = io::stderr().lock();
            for _ in 0..1024 {
                let _ = err.write_all(&chunk);
            }
            let _ = err.write_all(b"\nflood over\n");
            Some(json!("this is not a reply"))
        }
        _ => None,
    }
}
