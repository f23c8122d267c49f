//! Deliberately faulty implementations, built only with the tests (`cargo test` builds examples):
//! the reference adapter with one bug switched on by `--fault NAME`. `harness/tests/faults.rs` runs
//! the harness against each and checks that it fails, naming the cases that caught it.
//!
//! Faults: forged-signatures, ignore-associated-data, short-random, skip-link-check,
//! leak-plaintext, ignore-revocation, wrong-error-codes, crash, hang, garbage, endless-reply,
//! huge-reply, stderr-flood, exit-after-reply, serves-strangers, and for the database (chapter 8):
//! arrival-order-fold, patch-replaces, unstable-query-order, unauthorised-delete.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, Write};
use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::db::{DbEvent, DbRecord, DbView, Op, Query, Value as DbValue};
use threads::envelope::Envelope;
use threads::id::ThreadId;
use threads::keys::{FollowKey, KeySet};
use threads::seal::{self, Layer};
use threads::sync::Message;
use threads::verify;
use threads_harness::adapter::Adapter;
use threads_harness::protocol::Reply;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fault = match args.iter().position(|a| a == "--fault") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => String::new(),
    };
    let mut adapter = Adapter::default();
    // unauthorised-delete: the documents some node deleted, by (thread, collection, id).
    let mut deleted = BTreeSet::new();
    let mut serves = ServesStrangers::default();
    let stdout = io::stdout();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let request: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let doc = |p: &Value| {
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (text("thread"), text("collection"), text("id"))
        };
        let reply = match faulty(&fault, &request) {
            Some(Action::Reply(reply)) => reply,
            Some(Action::Forward(changed)) => json_of(adapter.handle(changed)),
            // Every peer applies every delete it holds, whether or not the ACL refuses its
            // record: a deleted document is gone for every node.
            None if fault == "unauthorised-delete"
                && request["method"] == "db.get"
                && deleted.contains(&doc(&request["params"])) =>
            {
                json!({"id": request["id"], "result": {"doc": null}})
            }
            None => {
                let mut reply = json_of(adapter.handle_line(&line));
                if request["method"] == "db.delete" && reply.get("result").is_some() {
                    deleted.insert(doc(&request["params"]));
                }
                if fault == "serves-strangers" {
                    serves.watch(&request, &mut reply);
                }
                reply
            }
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
        if adapter.done() {
            break;
        }
        // Replies correctly, then exits before the next request: the exit is that case's, not
        // the next one's [HP-82].
        if fault == "exit-after-reply" && operation(&request) == "keyset.encode" {
            std::process::exit(0);
        }
    }
}

/// A reply as JSON, which the faults below change by hand.
fn json_of(reply: Reply) -> Value {
    serde_json::to_value(reply).unwrap_or(Value::Null)
}

/// What a fault does with a request.
enum Action {
    /// Answer this instead of the reference.
    Reply(Value),
    /// Let the reference answer this changed request.
    Forward(Value),
}

/// The faulty handling of `request`, or `None` to let the reference answer it as it is.
fn faulty(fault: &str, request: &Value) -> Option<Action> {
    reply(fault, request)
        .map(Action::Reply)
        .or_else(|| rewrite(fault, request).map(Action::Forward))
}

/// Faults that change a request before the reference sees it.
fn rewrite(fault: &str, request: &Value) -> Option<Value> {
    match (fault, request["method"].as_str()?) {
        // Hands a follower the reader's keys.
        ("leak-plaintext", "invite.export") => {
            let mut request = request.clone();
            request["params"]["role"] = "reader".into();
            Some(request)
        }
        // Never takes write away: revocations are silently dropped.
        // Folds in arrival order: as if each event's clock were its place in the arrival order.
        ("arrival-order-fold", "vector") if operation(request).starts_with("db.") => {
            rewrite_events(request, |i, event| {
                DbEvent::new(i as u64 + 1, event.ops).ok()
            })
        }
        // A save replaces the document by the patch's `set` instead of patching it.
        ("patch-replaces", "vector") if operation(request).starts_with("db.") => {
            rewrite_events(request, |_, event| {
                let ops = event.ops.into_iter().flat_map(|op| match op {
                    Op::Save { coll, id, patch } => vec![
                        Op::Delete {
                            coll: coll.clone(),
                            id: id.clone(),
                        },
                        Op::Create {
                            coll,
                            id,
                            doc: patch.set,
                        },
                    ],
                    op => vec![op],
                });
                DbEvent::new(event.clock, ops.collect()).ok()
            })
        }
        ("ignore-revocation", "acl.set") => {
            let mut request = request.clone();
            let roles = request["params"]["roles"].as_array_mut()?;
            if !roles.iter().any(|r| r == "write") {
                roles.retain(|r| r == "delete");
                roles.push("write".into());
            }
            Some(request)
        }
        _ => None,
    }
}

/// Faults that answer in place of the reference.
fn reply(fault: &str, request: &Value) -> Option<Value> {
    let id = request["id"].clone();
    let params = request["params"].as_object()?;
    let operation = params
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let inputs = params.get("inputs").and_then(Value::as_object);
    let honest = || json_of(Adapter::default().handle(request.clone()));
    match (fault, request["method"].as_str()?) {
        ("forged-signatures", "vector") => {
            let reply = honest();
            // Accepts what only a bad signature rejected.
            (reply["error"]["code"] == "SIGNATURE_INVALID").then(|| json!({"id": id, "result": {}}))
        }
        ("ignore-associated-data", "vector") if operation.starts_with("seal.open") => {
            let inputs = inputs?;
            let key: [u8; 32] = hex::decode(inputs["key"].as_str()?).ok()?.try_into().ok()?;
            let sealed = hex::decode(inputs["sealed"].as_str()?).ok()?;
            Some(match seal::open(Layer::Body, &key, &[], &sealed) {
                Ok(plain) => json!({"id": id, "result": {"plaintext": hex::encode(plain)}}),
                Err(_) => {
                    json!({"id": id, "error": {"code": "BODY_DECRYPT_FAILED", "message": "tag"}})
                }
            })
        }
        ("short-random", "vector") => {
            let reply = honest();
            (reply["error"]["code"] == "TID_SHORT_RANDOM")
                .then(|| json!({"id": id, "result": {"variant": "raw"}}))
        }
        ("skip-link-check", "vector") if operation == "log.replay" => {
            Some(replay_without_links(id, inputs?))
        }
        ("wrong-error-codes", "vector") => {
            let mut reply = honest();
            if reply.get("error").is_some() {
                reply["error"]["code"] = "BLOCK_MALFORMED".into();
            }
            Some(reply)
        }
        ("unstable-query-order", "vector") if operation == "db.query" => {
            let ids = query_without_tie_break(inputs?)?;
            Some(json!({"id": id, "result": {"ids": ids}}))
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

fn operation(request: &Value) -> &str {
    request["params"]["operation"].as_str().unwrap_or_default()
}

/// The request with each database event of its `events` input replaced by `change(index, event)`;
/// bodies that are no valid database event, and events `change` gives up on, stay as they are.
fn rewrite_events(
    request: &Value,
    change: impl Fn(usize, DbEvent) -> Option<DbEvent>,
) -> Option<Value> {
    let mut request = request.clone();
    let events = request["params"]["inputs"]["events"].as_array_mut()?;
    for (i, event) in events.iter_mut().enumerate() {
        let body = event["body"].as_str().and_then(|b| hex::decode(b).ok());
        let parsed = body.and_then(|b| DbEvent::classify(&b).ok().flatten());
        if let Some(changed) = parsed.and_then(|e| change(i, e)) {
            event["body"] = hex::encode(changed.to_bytes()).into();
        }
    }
    Some(request)
}

/// `db.query` whose sort leaves ties in an order of its own (here: reversed) instead of breaking
/// them by document ID; `None` to let the reference answer (malformed inputs, invalid queries).
fn query_without_tie_break(inputs: &Map<String, Value>) -> Option<Vec<String>> {
    let records = inputs["events"]
        .as_array()?
        .iter()
        .map(|e| {
            Some(DbRecord {
                cid: threads::Cid::from_str(e["record"].as_str()?).ok()?,
                log: threads::id::LogId::from_str(e["log"].as_str()?).ok()?,
                seq: e["seq"].as_u64()?,
                body: hex::decode(e["body"].as_str()?).ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let view = DbView::from_records(&records);
    let query = Query::from_bytes(&hex::decode(inputs["query"].as_str()?).ok()?).ok()?;
    let all = Query {
        skip: None,
        limit: None,
        ..query.clone()
    };
    let docs = all.run(view.collection(&query.coll).ok()?).docs;
    let key = |(id, doc): &(String, threads::db::Document)| -> Vec<Option<DbValue>> {
        let field = |f: &str| match f {
            "_id" => Some(DbValue::String(id.clone())),
            f => doc.get(f).cloned(),
        };
        query.sort.iter().map(|s| field(&s.field)).collect()
    };
    let mut ids: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut last = None;
    for entry in &docs {
        let k = key(entry);
        if last.as_ref() != Some(&k) {
            ids.extend(run.drain(..).rev());
        }
        run.push(entry.0.clone());
        last = Some(k);
    }
    ids.extend(run.drain(..).rev());
    let skip = query.skip.unwrap_or(0) as usize;
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    Some(ids.into_iter().skip(skip).take(limit).collect())
}

/// `log.replay` by a peer that appends any record at the next seq without checking its prev link.
fn replay_without_links(id: Value, inputs: &Map<String, Value>) -> Value {
    let thread = inputs["thread"]
        .as_str()
        .and_then(|t| ThreadId::from_str(t).ok());
    let log = inputs["log"]
        .as_str()
        .and_then(|l| threads::id::LogId::from_str(l).ok());
    let follow = inputs["followKey"]
        .as_str()
        .and_then(|k| hex::decode(k).ok())
        .and_then(|k| FollowKey::from_slice(&k).ok());
    let (Some(thread), Some(log), Some(follow)) = (thread, log, follow) else {
        return json!({"id": id, "error": {"code": "BAD_REQUEST", "message": "inputs"}});
    };
    let keys = KeySet { follow, read: None };
    let mut held: Vec<String> = Vec::new();
    let mut outcomes = Vec::new();
    for delivery in inputs["deliveries"].as_array().into_iter().flatten() {
        let envelope = hex::decode(delivery.as_str().unwrap_or_default())
            .ok()
            .and_then(|b| Envelope::from_bytes(&b).ok());
        let outcome =
            match envelope.map(|e| verify::verify_follower(&e, &thread, &log, &keys.follow)) {
                Some(Ok(record)) => {
                    let (seq, cid) = (record.seq() as usize, record.cid().to_string());
                    match seq.cmp(&(held.len() + 1)) {
                        std::cmp::Ordering::Less if held[seq - 1] == cid => "duplicate".to_string(),
                        std::cmp::Ordering::Less => "LOG_FORK".to_string(),
                        std::cmp::Ordering::Greater => "LOG_GAP".to_string(),
                        std::cmp::Ordering::Equal => {
                            held.push(cid);
                            "appended".to_string()
                        }
                    }
                }
                Some(Err(e)) => e.code.name().to_string(),
                None => "ENVELOPE_MALFORMED".to_string(),
            };
        outcomes.push(outcome);
    }
    let state = json!({"counter": held.len(), "head": held.last(), "outcomes": outcomes});
    match outcomes
        .iter()
        .find(|o| o.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    {
        None => json!({"id": id, "result": state}),
        Some(code) => {
            json!({"id": id, "error": {"code": code, "message": "rejected", "state": state}})
        }
    }
}

/// serves-strangers: every node answers every `pull` with the records of the log it has sent so
/// far, whether or not the requester proved membership (breaking SYNC-21). The reference node
/// still answers as it would; the extra answer is added to the node's next `node.collect`.
#[derive(Default)]
struct ServesStrangers {
    /// The envelopes each node sent, by (node, thread, log), in the order sent.
    sent: BTreeMap<(String, Vec<u8>, Vec<u8>), Vec<Envelope>>,
    /// Answers waiting for each node's next `node.collect`: (to, message).
    answers: BTreeMap<String, Vec<(String, Vec<u8>)>>,
}

impl ServesStrangers {
    fn watch(&mut self, request: &Value, reply: &mut Value) {
        let params = &request["params"];
        let node = params["node"].as_str().unwrap_or_default().to_string();
        let decoded = |v: &Value| {
            let bytes = hex::decode(v.as_str().unwrap_or_default()).ok()?;
            Message::from_bytes(&bytes).ok()
        };
        match request["method"].as_str() {
            Some("node.deliver") => {
                if let Some(Message::Pull {
                    thread, log, after, ..
                }) = decoded(&params["message"])
                {
                    let key = (node.clone(), thread.as_bytes().to_vec(), log.to_bytes());
                    let held = self.sent.get(&key).cloned().unwrap_or_default();
                    let answer = Message::Records {
                        thread,
                        log,
                        counter: held.len() as u64,
                        envelopes: held.into_iter().skip(after as usize).collect(),
                    };
                    let from = params["from"].as_str().unwrap_or_default().to_string();
                    let waiting = self.answers.entry(node).or_default();
                    waiting.push((from, answer.to_bytes()));
                }
            }
            Some("node.collect") => {
                let Some(messages) = reply["result"]["messages"].as_array_mut() else {
                    return;
                };
                for message in messages.iter() {
                    if let Some(Message::Records {
                        thread,
                        log,
                        envelopes,
                        ..
                    }) = decoded(&message["message"])
                    {
                        let key = (node.clone(), thread.as_bytes().to_vec(), log.to_bytes());
                        let sent = self.sent.entry(key).or_default();
                        for envelope in envelopes {
                            if !sent.contains(&envelope) {
                                sent.push(envelope);
                            }
                        }
                    }
                }
                for (to, bytes) in self.answers.remove(&node).unwrap_or_default() {
                    messages.push(json!({"to": to, "message": hex::encode(bytes)}));
                }
            }
            _ => {}
        }
    }
}
