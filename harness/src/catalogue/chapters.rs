//! Faults of chapters 5, 7 and 8 that break a requirement no earlier fault proved the suite
//! checks (issue 15): the decision order of a message's records, a compacted or restarted view,
//! the key set of an invite, and what a node sends whom [HP-86].
//!
//! As in [`super::faults`], a fault changes a request before the reference sees it, or its reply;
//! the node faults watch `node.deliver` and `node.collect` and change what a node sends.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::db::{DbRecord, OrderKey, Snapshot};
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::keys::FollowKey;
use threads::sync::Message;
use threads::verify;

/// What the node faults of this module remember between requests.
#[derive(Debug, Default)]
pub struct Watch {
    /// `never-pushes`: the pulls each node was sent and has not answered, as (node, from,
    /// thread, log).
    pulls: BTreeSet<(String, String, Vec<u8>, Vec<u8>)>,
    /// `files-strangers`: every peer that sent a node a message about a thread the node holds,
    /// by (node, thread).
    writers: BTreeMap<(String, Vec<u8>), BTreeSet<String>>,
    /// `answers-unheld-thread`: the answers each node owes its next `node.collect`.
    owed: BTreeMap<String, Vec<(String, Message)>>,
    /// `keeps-revoked-proven`: every peer each node sent records of a thread, by (node, thread).
    served: BTreeMap<(String, Vec<u8>), BTreeSet<String>>,
}

/// The reply of the reference with fault `name` to `request`, when this module emulates that
/// fault for that request; `None` to leave the request to the catalogue's other faults.
pub fn handle(
    name: &str,
    honest: &mut impl FnMut(Value) -> Value,
    watch: &mut Watch,
    request: &Value,
) -> Option<Value> {
    let method = request["method"].as_str().unwrap_or_default();
    let operation = request["params"]["operation"].as_str().unwrap_or_default();
    let on = |op: &str| method == "vector" && operation == op;
    let inputs = request["params"]["inputs"].as_object();
    match name {
        "decide-in-seq-order" if on("sync.decideRecords") => decide_in_seq_order(honest, request),
        "compacted-refuses-covered" if on("db.resume") => {
            let reply = honest(request.clone());
            Some(match refuses_covered(inputs?, &reply) {
                true => error(&request["id"], "DB_COMPACTED"),
                false => reply,
            })
        }
        "restart-trusts-snapshot" if on("db.resume") => {
            let reply = honest(request.clone());
            if reply["error"]["code"] != "DB_SNAPSHOT_INVALID" {
                return Some(reply);
            }
            let retried =
                after_last(inputs?).map(|changed| honest(changed_events(request, changed)));
            Some(
                retried
                    .filter(|r| r.get("result").is_some())
                    .unwrap_or(reply),
            )
        }
        "join-keys-text-order" if method == "node.read" => {
            let mut reply = honest(request.clone());
            join_in_text_order(&mut reply);
            Some(reply)
        }
        "reader-invite-follow-only" if method == "invite.export" => {
            let mut changed = request.clone();
            if changed["params"]["role"] == "reader" {
                changed["params"]["role"] = "follower".into();
            }
            Some(honest(changed))
        }
        "answers-failed-proof" if method == "node.deliver" => {
            let reply = honest(request.clone());
            if let (
                _,
                _,
                Some(Message::Auth {
                    thread,
                    nonce,
                    proof,
                }),
            ) = decoded(request)
                && !nonce.is_empty()
                && !proof.is_empty()
            {
                // The nonce is answered whatever became of the proof (SYNC-20, step 1).
                let bare = Message::Auth {
                    thread,
                    nonce,
                    proof: Vec::new(),
                };
                let mut changed = request.clone();
                changed["params"]["message"] = hex::encode(bare.to_bytes()).into();
                honest(changed);
            }
            Some(reply)
        }
        "never-pushes"
        | "files-strangers"
        | "answers-unheld-thread"
        | "keeps-revoked-proven"
        | "push-counter-final"
            if method == "node.deliver" || method == "node.collect" =>
        {
            Some(watch.node(name, honest, request))
        }
        _ => None,
    }
}

fn error(id: &Value, code: &str) -> Value {
    json!({"id": id, "error": {"code": code, "message": "refused"}})
}

/// `join-keys-text-order`: the join events of a `node.read` reply as a writer wrote them that
/// encodes the join body's keys in text order (`addrs`, `type`), not DAG-CBOR's length-first
/// order (`type`, `addrs`) that [INV-7] gives: the body every reader lists is the writer's.
fn join_in_text_order(reply: &mut Value) {
    use ipld_core::ipld::Ipld;
    let Some(events) = reply
        .get_mut("result")
        .and_then(|r| r.get_mut("events"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for event in events.iter_mut().filter(|e| e["seq"] == 1) {
        let Some(body) = event["body"].as_str().and_then(|b| hex::decode(b).ok()) else {
            continue;
        };
        let is_join = matches!(
            serde_ipld_dagcbor::from_slice::<Ipld>(&body),
            Ok(Ipld::Map(map)) if map.get("type") == Some(&Ipld::String("join".into()))
        );
        if let Some(text_order) = is_join
            .then(|| super::emulate::keys_in_text_order(&body))
            .flatten()
        {
            event["body"] = hex::encode(text_order).into();
        }
    }
}

/// `decide-in-seq-order`: `sync.decideRecords` by a peer that verifies a message's records
/// concurrently and decides them in `seq` order, not in message order [SYNC-31]: the records that
/// verify are put in `seq` order among their places before the reference decides them, and the
/// reply's indices are mapped back to the message's.
fn decide_in_seq_order(honest: &mut impl FnMut(Value) -> Value, request: &Value) -> Option<Value> {
    let inputs = &request["params"]["inputs"];
    let thread = ThreadId::from_str(inputs["thread"].as_str()?).ok()?;
    let log = LogId::from_str(inputs["log"].as_str()?).ok()?;
    let follow = FollowKey::from_slice(&hex::decode(inputs["followKey"].as_str()?).ok()?).ok()?;
    let incoming = inputs["incoming"].as_array()?;
    let seq_of = |item: &Value| {
        let envelope = Envelope::from_bytes(&hex::decode(item.as_str()?).ok()?).ok()?;
        let record = verify::verify_follower(&envelope, &thread, &log, &follow).ok()?;
        Some(record.seq())
    };
    let seqs: Vec<Option<u64>> = incoming.iter().map(seq_of).collect();
    let places: Vec<usize> = (0..seqs.len()).filter(|&i| seqs[i].is_some()).collect();
    let mut sorted = places.clone();
    sorted.sort_by_key(|&i| seqs[i]);
    if sorted == places {
        return None;
    }
    // `from[p]` is the message index of the record decided at place `p`.
    let mut from: Vec<usize> = (0..incoming.len()).collect();
    for (place, index) in places.iter().zip(&sorted) {
        from[*place] = *index;
    }
    let mut changed = request.clone();
    changed["params"]["inputs"]["incoming"] = from
        .iter()
        .map(|&i| incoming[i].clone())
        .collect::<Vec<_>>()
        .into();
    let mut reply = honest(changed);
    if let Some(rejected) = reply
        .get_mut("result")
        .and_then(|r| r.get_mut("rejected"))
        .and_then(Value::as_array_mut)
    {
        for entry in rejected.iter_mut() {
            if let Some(place) = entry["index"].as_u64() {
                entry["index"] = from.get(place as usize).copied().unwrap_or(0).into();
            }
        }
        rejected.sort_by_key(|entry| entry["index"].as_u64());
    }
    Some(reply)
}

/// The snapshot and the database records of a `db.resume` request.
fn resume_inputs(inputs: &Map<String, Value>) -> Option<(Snapshot, Vec<DbRecord>)> {
    let hex_of = |k: &str| hex::decode(inputs.get(k)?.as_str()?).ok();
    let snapshot = Snapshot::from_parts(&hex_of("snapshot")?, hex_of("view")?).ok()?;
    Some((snapshot, super::emulate::db_records(inputs)?))
}

/// `compacted-refuses-covered`: a compacted view that takes every event sorting at or before its
/// last key for one it lacks, without looking at `heads` [DB-26]: whether the reference's
/// successful `reply` is to a compacted view (fewer events sort up to the last key than the
/// snapshot counts) that was offered some of its covered events again.
fn refuses_covered(inputs: &Map<String, Value>, reply: &Value) -> bool {
    let Some((snapshot, records)) = resume_inputs(inputs) else {
        return false;
    };
    let covered: BTreeSet<OrderKey> = records
        .iter()
        .filter_map(DbRecord::order_key)
        .filter(|key| key <= snapshot.last())
        .collect();
    reply.get("result").is_some()
        && !covered.is_empty()
        && (covered.len() as u64) < snapshot.count()
}

/// `restart-trusts-snapshot`: the events of a `db.resume` request that a restart folds when it
/// trusts its stored snapshot without checking that the record at `last` is held and that
/// `count` events are covered [DB-29]: those sorting after the last key (and the bodies that are
/// no database event); `None` when the snapshot does not decode or no event is left out.
fn after_last(inputs: &Map<String, Value>) -> Option<Vec<Value>> {
    let (snapshot, records) = resume_inputs(inputs)?;
    let events = inputs.get("events")?.as_array()?;
    let kept: Vec<Value> = events
        .iter()
        .zip(&records)
        .filter(|(_, r)| r.order_key().is_none_or(|key| &key > snapshot.last()))
        .map(|(e, _)| e.clone())
        .collect();
    (kept.len() < events.len()).then_some(kept)
}

fn changed_events(request: &Value, events: Vec<Value>) -> Value {
    let mut changed = request.clone();
    changed["params"]["inputs"]["events"] = events.into();
    changed
}

/// A `node.deliver` or `node.collect` request's node, peer and message.
fn decoded(request: &Value) -> (String, String, Option<Message>) {
    let params = &request["params"];
    let text = |k: &str| params[k].as_str().unwrap_or_default().to_string();
    let message = hex::decode(text("message"))
        .ok()
        .and_then(|b| Message::from_bytes(&b).ok());
    (text("node"), text("from"), message)
}

fn thread_of(message: &Message) -> &ThreadId {
    match message {
        Message::Pull { thread, .. }
        | Message::Records { thread, .. }
        | Message::Heads { thread, .. }
        | Message::Auth { thread, .. } => thread,
    }
}

impl Watch {
    /// A node request with fault `name`: the reference's reply, with what the fault sends
    /// changed in `node.collect`.
    fn node(
        &mut self,
        name: &str,
        honest: &mut impl FnMut(Value) -> Value,
        request: &Value,
    ) -> Value {
        let (node, from, message) = decoded(request);
        if request["method"] == "node.deliver" {
            if let Some(message) = message {
                let thread = thread_of(&message).clone();
                let heads = json!({"id": 0, "method": "node.heads",
                    "params": {"node": node, "thread": thread.to_string()}});
                let holds = honest(heads).get("result").is_some();
                self.delivered(name, &node, &from, &message, holds);
            }
            return honest(request.clone());
        }
        let mut reply = honest(request.clone());
        if let Some(messages) = reply
            .get_mut("result")
            .and_then(|r| r.get_mut("messages"))
            .and_then(Value::as_array_mut)
        {
            self.collected(name, &node, messages);
        }
        reply
    }

    /// Notes what the fault must know of a message `from` sent `node`; `holds` says whether the
    /// node holds the message's thread.
    fn delivered(&mut self, name: &str, node: &str, from: &str, message: &Message, holds: bool) {
        let thread = thread_of(message).as_bytes().to_vec();
        match (name, message) {
            ("never-pushes", Message::Pull { log, .. }) => {
                self.pulls
                    .insert((node.into(), from.into(), thread, log.to_bytes()));
            }
            ("files-strangers", _) if holds => {
                let peers = self.writers.entry((node.into(), thread)).or_default();
                peers.insert(from.into());
            }
            // A thread it does not hold: it acts on the message as if it held the thread with
            // no record, where SYNC-3 wants one challenge, as for a thread it holds: a pull gets
            // an empty answer, a heads a pull of every log it names.
            ("answers-unheld-thread", Message::Pull { thread, log, .. }) if !holds => {
                let answer = Message::Records {
                    thread: thread.clone(),
                    log: *log,
                    counter: 0,
                    envelopes: Vec::new(),
                };
                self.owe(node, from, answer);
            }
            ("answers-unheld-thread", Message::Heads { thread, heads }) if !holds => {
                for (log, _) in heads {
                    let pull = Message::Pull {
                        thread: thread.clone(),
                        log: *log,
                        after: 0,
                        limit: threads::sync::PULL_LIMIT,
                    };
                    self.owe(node, from, pull);
                }
            }
            _ => {}
        }
    }

    fn owe(&mut self, node: &str, to: &str, message: Message) {
        let owed = self.owed.entry(node.into()).or_default();
        owed.push((to.into(), message));
    }

    /// Changes the messages `node` sends, as the fault `name` would.
    fn collected(&mut self, name: &str, node: &str, messages: &mut Vec<Value>) {
        let parsed = |m: &Value| {
            let to = m["to"].as_str().unwrap_or_default().to_string();
            let bytes = hex::decode(m["message"].as_str().unwrap_or_default()).ok()?;
            Some((to, Message::from_bytes(&bytes).ok()?))
        };
        match name {
            // Only answers to pulls go out: an append is never pushed [SYNC-4].
            "never-pushes" => messages.retain(|m| match parsed(m) {
                Some((to, Message::Records { thread, log, .. })) => self.pulls.remove(&(
                    node.into(),
                    to,
                    thread.as_bytes().to_vec(),
                    log.to_bytes(),
                )),
                _ => true,
            }),
            // Every records message also goes to every peer that wrote to the node about the
            // thread, proven or not: it was filed as a peer of the thread [SYNC-9].
            "files-strangers" => {
                let mut copies = Vec::new();
                for m in messages.iter() {
                    let Some((to, message @ Message::Records { .. })) = parsed(m) else {
                        continue;
                    };
                    let key = (node.to_string(), thread_of(&message).as_bytes().to_vec());
                    for peer in self.writers.get(&key).into_iter().flatten() {
                        if *peer != to {
                            copies.push(json!({"to": peer, "message": m["message"].clone()}));
                        }
                    }
                }
                messages.extend(copies);
            }
            // Whoever was once sent records keeps getting them: an ACL change that lowers a
            // peer below follow does not take its proven state away [SYNC-22].
            "keeps-revoked-proven" => {
                let mut copies = Vec::new();
                for m in messages.iter() {
                    let Some((to, message @ Message::Records { .. })) = parsed(m) else {
                        continue;
                    };
                    let key = (node.to_string(), thread_of(&message).as_bytes().to_vec());
                    let served = self.served.entry(key).or_default();
                    served.insert(to.clone());
                    for peer in served.iter().filter(|p| **p != to) {
                        copies.push(json!({"to": peer, "message": m["message"].clone()}));
                    }
                }
                messages.extend(copies);
            }
            // The records messages of one collect to one peer about one log all carry the
            // log's final counter, not the seq of their own last record [SYNC-30].
            "push-counter-final" => {
                let mut last: BTreeMap<(String, Vec<u8>, Vec<u8>), u64> = BTreeMap::new();
                for m in messages.iter() {
                    if let Some((
                        to,
                        Message::Records {
                            thread,
                            log,
                            counter,
                            ..
                        },
                    )) = parsed(m)
                    {
                        let key = (to, thread.as_bytes().to_vec(), log.to_bytes());
                        let top = last.entry(key).or_default();
                        *top = (*top).max(counter);
                    }
                }
                for m in messages.iter_mut() {
                    if let Some((
                        to,
                        Message::Records {
                            thread,
                            log,
                            envelopes,
                            ..
                        },
                    )) = parsed(m)
                    {
                        let key = (to, thread.as_bytes().to_vec(), log.to_bytes());
                        let counter = last.get(&key).copied().unwrap_or_default();
                        let changed = Message::Records {
                            thread,
                            log,
                            counter,
                            envelopes,
                        };
                        m["message"] = hex::encode(changed.to_bytes()).into();
                    }
                }
            }
            "answers-unheld-thread" => {
                for (to, message) in self.owed.remove(node).unwrap_or_default() {
                    messages.push(json!({"to": to, "message": hex::encode(message.to_bytes())}));
                }
            }
            _ => {}
        }
    }
}
