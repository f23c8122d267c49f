//! Emulations that need more than a rewrite of one value: a log replay with one rule of chapter 4
//! broken, database folds and queries with one rule of chapter 8 broken, a lenient key-set decoder.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::db::{DbEvent, DbRecord, DbView, Op, Query, Value as DbValue};
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::keys::FollowKey;
use threads::sync::Message;
use threads::verify;

use crate::protocol::Reply;

/// What a fault remembers between requests.
#[derive(Debug, Default)]
pub struct State {
    /// `unauthorised-delete`: the documents some node deleted, by (thread, collection, id).
    pub deleted: BTreeSet<(String, String, String)>,
    /// `thread-create-trailing-bits`: the canonical text of each thread text given out.
    pub aliases: BTreeMap<String, String>,
    /// `serves-strangers`: what each node sent, and the answers it owes.
    pub serves: ServesStrangers,
    /// `never-retries`, `never-repeats-heads`: every message each node sent, by (node, to).
    pub sent_once: SentOnce,
    /// `never-pushes`, `files-strangers`, `answers-unheld-thread`: what the nodes were sent.
    pub watch: super::chapters::Watch,
    /// `reply-own-counter`: how many replies other than to `hello` were written.
    pub replies: u64,
    /// `identity-first-only`: the first identity derived.
    pub first_identity: Option<Value>,
    /// `accept-without-fetching`: the nodes that joined a thread and have not collected since.
    pub joined: BTreeSet<String>,
    /// `ignores-unsent-messages`: every (node, message) a `node.collect` gave out.
    pub collected: BTreeSet<(String, String)>,
}

/// A reply as JSON, which the faults change by hand.
pub fn json_of(reply: Reply) -> Value {
    serde_json::to_value(reply).unwrap_or(Value::Null)
}

/// The log rule a replay breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Appends at the next seq without comparing `prev` with the head [LOG-6].
    NoLinkCheck,
    /// Takes a different record at a held seq for a duplicate [LOG-5].
    ForkIsDuplicate,
    /// Appends a record beyond a gap [LOG-7].
    AppendsPastGap,
    /// Calls a re-delivered record a fork [LOG-4].
    DuplicateIsFork,
    /// Reports a record that failed verification, yet stores it as the next record [VERIFY-3].
    StoresRefused,
    /// Moves the head to a verified record beyond a gap, leaving the counter [LOG-3].
    HeadTracksNewest,
    /// Reports a fork, yet rewinds the log to the forking record [LOG-8].
    ForkRewinds,
}

/// `log.replay` by a peer with `quirk`; `None` when the inputs are not well formed (the reference
/// answers those).
pub fn replay(quirk: Quirk, id: &Value, inputs: &Map<String, Value>) -> Option<Value> {
    let thread = ThreadId::from_str(inputs.get("thread")?.as_str()?).ok()?;
    let log = LogId::from_str(inputs.get("log")?.as_str()?).ok()?;
    let follow =
        FollowKey::from_slice(&hex::decode(inputs.get("followKey")?.as_str()?).ok()?).ok()?;
    let mut held: Vec<String> = Vec::new();
    let mut newest: Option<String> = None;
    let mut outcomes = Vec::new();
    for delivery in inputs.get("deliveries")?.as_array()? {
        let envelope = hex::decode(delivery.as_str()?)
            .ok()
            .and_then(|b| Envelope::from_bytes(&b).ok());
        let verified = envelope
            .as_ref()
            .map(|e| verify::verify_follower(e, &thread, &log, &follow));
        let outcome = match verified {
            Some(Ok(record)) => {
                let outcome = decide(quirk, &mut held, &record);
                newest = match (quirk, outcome.as_str()) {
                    (Quirk::HeadTracksNewest, "LOG_GAP") => Some(record.cid().to_string()),
                    (_, "appended") => None,
                    _ => newest,
                };
                outcome
            }
            Some(Err(e)) => {
                if let (Quirk::StoresRefused, Some(envelope)) = (quirk, &envelope) {
                    held.push(envelope.record_cid().to_string());
                }
                e.code.name().to_string()
            }
            None => "ENVELOPE_MALFORMED".to_string(),
        };
        outcomes.push(outcome);
    }
    let head = newest.as_ref().or(held.last());
    let state = json!({"counter": held.len(), "head": head, "outcomes": outcomes});
    let code = outcomes
        .iter()
        .find(|o| o.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    Some(match code {
        None => json!({"id": id, "result": state}),
        Some(code) => {
            json!({"id": id, "error": {"code": code, "message": "rejected", "state": state}})
        }
    })
}

/// One verified record's outcome at a log holding `held` (CIDs by seq - 1).
fn decide(quirk: Quirk, held: &mut Vec<String>, record: &verify::VerifiedRecord) -> String {
    let (seq, cid) = (record.seq() as usize, record.cid().to_string());
    let head = held.last().cloned();
    let prev = record.prev().map(ToString::to_string);
    let outcome = match seq.cmp(&(held.len() + 1)) {
        std::cmp::Ordering::Less if held.get(seq - 1) == Some(&cid) => match quirk {
            Quirk::DuplicateIsFork => "LOG_FORK",
            _ => "duplicate",
        },
        std::cmp::Ordering::Less => match quirk {
            Quirk::ForkIsDuplicate => "duplicate",
            Quirk::ForkRewinds => {
                held.truncate(seq - 1);
                held.push(cid);
                "LOG_FORK"
            }
            _ => "LOG_FORK",
        },
        std::cmp::Ordering::Greater if quirk == Quirk::AppendsPastGap => {
            held.resize(seq - 1, String::new());
            held.push(cid);
            "appended"
        }
        std::cmp::Ordering::Greater => "LOG_GAP",
        std::cmp::Ordering::Equal if prev != head && quirk != Quirk::NoLinkCheck => {
            "LOG_BROKEN_LINK"
        }
        std::cmp::Ordering::Equal => {
            held.push(cid);
            "appended"
        }
    };
    outcome.to_string()
}

/// The request with each database event of its `events` input replaced by `change(index, event)`;
/// bodies that are no valid database event, and events `change` gives up on, stay as they are.
pub fn rewrite_events(
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

/// A save that replaces the document by its patch's `set` [DB-10].
pub fn save_as_replace(event: DbEvent) -> Option<DbEvent> {
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
}

/// The database records of a `db` operation's `events` input [DB-1]; `None` when one is
/// malformed (the reference then answers with its own error).
pub fn db_records(inputs: &Map<String, Value>) -> Option<Vec<DbRecord>> {
    inputs
        .get("events")?
        .as_array()?
        .iter()
        .map(|e| {
            Some(DbRecord {
                cid: threads::Cid::from_str(e["record"].as_str()?).ok()?,
                log: LogId::from_str(e["log"].as_str()?).ok()?,
                seq: e["seq"].as_u64()?,
                body: hex::decode(e["body"].as_str()?).ok()?,
            })
        })
        .collect()
}

/// `db.query` whose sort leaves ties in an order of its own (reversed) instead of breaking them
/// by document ID [DB-18]; `None` to let the reference answer (malformed inputs, invalid queries).
pub fn query_without_tie_break(inputs: &Map<String, Value>) -> Option<Vec<String>> {
    let records = db_records(inputs)?;
    let view = DbView::from_records(&records);
    let query = Query::from_bytes(&hex::decode(inputs.get("query")?.as_str()?).ok()?).ok()?;
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

/// `snapshots-never-retaken`: the snapshots a peer takes as the events arrive, one prefix of the
/// arrival order after another, each kept once taken even when a later event sorts before its
/// last key [DB-22]; `None` to let the reference answer.
pub fn snapshots_kept(honest: &mut impl FnMut(Value) -> Value, request: &Value) -> Option<Value> {
    let events = request["params"]["inputs"]["events"].as_array()?;
    let mut kept: Vec<(Value, Value)> = Vec::new();
    for end in 1..=events.len() {
        let mut prefix = request.clone();
        prefix["params"]["inputs"]["events"] = events[..end].to_vec().into();
        let reply = honest(prefix);
        let (Some(snapshots), Some(views)) = (
            reply["result"]["snapshotCids"].as_array(),
            reply["result"]["viewCids"].as_array(),
        ) else {
            return None;
        };
        for (snapshot, view) in snapshots.iter().zip(views).skip(kept.len()) {
            kept.push((snapshot.clone(), view.clone()));
        }
    }
    let mut reply = honest(request.clone());
    let result = reply.get_mut("result")?;
    let (snapshots, views): (Vec<Value>, Vec<Value>) = kept.into_iter().unzip();
    result["snapshotCids"] = snapshots.into();
    result["viewCids"] = views.into();
    Some(reply)
}

/// `resume-drops-malformed`: the request without the events whose body is a malformed database
/// event, which a rebuild must record [DB-14] and this one never sees [DB-23].
pub fn without_malformed(request: &Value) -> Option<Value> {
    let mut request = request.clone();
    let events = request["params"]["inputs"]["events"].as_array_mut()?;
    events.retain(|event| {
        let body = event["body"].as_str().and_then(|b| hex::decode(b).ok());
        body.is_none_or(|b| DbEvent::classify(&b).is_ok())
    });
    Some(request)
}

/// `compacted-ignores-late-event`: a compacted rebuild that answers as if the one event that made
/// it DB_COMPACTED were covered: the first answer without one of the events [DB-27].
pub fn resume_ignoring_one(
    honest: &mut impl FnMut(Value) -> Value,
    request: &Value,
) -> Option<Value> {
    let events = request["params"]["inputs"]["events"].as_array()?;
    (0..events.len()).find_map(|skip| {
        let mut fewer = request.clone();
        let kept: Vec<Value> = events
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, e)| e.clone())
            .collect();
        fewer["params"]["inputs"]["events"] = kept.into();
        let reply = honest(fewer);
        reply.get("result").is_some().then_some(reply)
    })
}

/// A DAG-CBOR map re-encoded with its top-level keys in text order, as an encoder that sorts
/// keys like strings writes it; `None` for anything but a small map.
pub fn keys_in_text_order(bytes: &[u8]) -> Option<Vec<u8>> {
    use ipld_core::ipld::Ipld;
    let Ipld::Map(map) = serde_ipld_dagcbor::from_slice::<Ipld>(bytes).ok()? else {
        return None;
    };
    if map.len() >= 24 {
        return None;
    }
    let mut out = vec![0xa0 | map.len() as u8];
    for (key, value) in &map {
        out.extend(serde_ipld_dagcbor::to_vec(&Ipld::String(key.clone())).ok()?);
        out.extend(serde_ipld_dagcbor::to_vec(value).ok()?);
    }
    Some(out)
}

/// The author, seq and opened body of the record `cid` names among the `logs` of an ACL
/// request, if the request's keys open it and its body is a DAG-CBOR map; `None` otherwise.
pub fn opened_event(
    inputs: &Map<String, Value>,
) -> Option<(String, u64, BTreeMap<String, ipld_core::ipld::Ipld>)> {
    let cid = inputs.get("cid")?.as_str()?;
    opened_where(inputs, |_, _, envelope| {
        envelope.record_cid().to_string() == cid
    })
}

/// The author, seq and opened body of the first record of an ACL request's `logs` that `pick`
/// (author, seq, envelope) chooses, as [`opened_event`].
pub fn opened_where(
    inputs: &Map<String, Value>,
    pick: impl Fn(&str, u64, &Envelope) -> bool,
) -> Option<(String, u64, BTreeMap<String, ipld_core::ipld::Ipld>)> {
    use ipld_core::ipld::Ipld;
    use threads::keys::{KeySet, ReadKey};
    let hex_of = |k: &str| hex::decode(inputs.get(k)?.as_str()?).ok();
    let thread = ThreadId::from_str(inputs.get("thread")?.as_str()?).ok()?;
    let keys = KeySet {
        follow: FollowKey::from_slice(&hex_of("followKey")?).ok()?,
        read: Some(ReadKey::from_slice(&hex_of("readKey")?).ok()?),
    };
    for (peer, envelopes) in inputs.get("logs")?.as_object()? {
        let log = LogId::from_str(peer).ok()?;
        for (i, envelope) in envelopes.as_array()?.iter().enumerate() {
            let bytes = hex::decode(envelope.as_str()?).ok()?;
            let envelope = Envelope::from_bytes(&bytes).ok()?;
            if !pick(peer, i as u64 + 1, &envelope) {
                continue;
            }
            let opened = verify::verify_reader(&envelope, &thread, &log, &keys).ok()?;
            let Ipld::Map(body) = serde_ipld_dagcbor::from_slice::<Ipld>(&opened.body).ok()? else {
                return None;
            };
            return Some((peer.clone(), i as u64 + 1, body));
        }
    }
    None
}

/// `reader-drops-unreadable`: `sync.decideRecords` by a reader that drops each record it cannot
/// open as if it had failed [VERIFY-1] [SYNC-6]: the reference decides the other records, and the
/// dropped ones are listed as rejected at their places.
pub fn decide_dropping_unreadable(
    honest: &mut impl FnMut(Value) -> Value,
    request: &Value,
) -> Option<Value> {
    use threads::keys::{KeySet, ReadKey};
    let inputs = &request["params"]["inputs"];
    let hex_of = |k: &str| hex::decode(inputs[k].as_str()?).ok();
    let thread = ThreadId::from_str(inputs["thread"].as_str()?).ok()?;
    let log = LogId::from_str(inputs["log"].as_str()?).ok()?;
    let keys = KeySet {
        follow: FollowKey::from_slice(&hex_of("followKey")?).ok()?,
        read: Some(ReadKey::from_slice(&hex_of("readKey")?).ok()?),
    };
    let incoming = inputs["incoming"].as_array()?;
    let mut kept = Vec::new();
    let mut places = Vec::new();
    let mut dropped = Vec::new();
    for (i, item) in incoming.iter().enumerate() {
        let envelope = hex::decode(item.as_str()?)
            .ok()
            .and_then(|b| Envelope::from_bytes(&b).ok());
        let unreadable = envelope.and_then(|e| {
            verify::verify_follower(&e, &thread, &log, &keys.follow).ok()?;
            verify::verify_reader(&e, &thread, &log, &keys).err()
        });
        match unreadable {
            Some(e) => dropped.push(json!({"errorCode": e.code.name(), "index": i})),
            None => {
                kept.push(item.clone());
                places.push(i);
            }
        }
    }
    if dropped.is_empty() {
        return None;
    }
    let mut changed = request.clone();
    changed["params"]["inputs"]["incoming"] = kept.into();
    let mut reply = honest(changed);
    let rejected = reply
        .get_mut("result")?
        .get_mut("rejected")?
        .as_array_mut()?;
    for entry in rejected.iter_mut() {
        let place = places.get(entry["index"].as_u64()? as usize)?;
        entry["index"] = (*place).into();
    }
    rejected.extend(dropped);
    rejected.sort_by_key(|entry| entry["index"].as_u64());
    Some(reply)
}

/// `record-plaintext-lenient`: the envelope with its record's plaintext re-encoded without the
/// members [REC-8] does not define, as a decoder that skips unknown members reads it [REC-3];
/// `None` when the plaintext does not open, does not decode, or has no such member.
pub fn canonical_record(inputs: &Map<String, Value>) -> Option<Vec<u8>> {
    use ipld_core::ipld::Ipld;
    use rand_core::SeedableRng;
    use threads::record::{open_block, seal_block};
    use threads::seal::Layer;
    let thread = ThreadId::from_str(inputs.get("thread")?.as_str()?).ok()?;
    let log = LogId::from_str(inputs.get("log")?.as_str()?).ok()?;
    let key: [u8; 32] = hex::decode(inputs.get("followKey")?.as_str()?)
        .ok()?
        .try_into()
        .ok()?;
    let bytes = hex::decode(inputs.get("envelope")?.as_str()?).ok()?;
    let mut envelope = Envelope::from_bytes(&bytes).ok()?;
    let plaintext = open_block(Layer::Record, &key, &thread, &log, &envelope.record).ok()?;
    let Ipld::Map(mut record) = serde_ipld_dagcbor::from_slice::<Ipld>(&plaintext).ok()? else {
        return None;
    };
    record.retain(|k, _| ["block", "prev", "seq", "sig"].contains(&k.as_str()));
    let canonical = serde_ipld_dagcbor::to_vec(&Ipld::Map(record)).ok()?;
    if canonical == plaintext {
        return None;
    }
    // The record layer's nonce is synthetic: the generator is never drawn from.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
    envelope.record = seal_block(Layer::Record, &key, &thread, &log, &canonical, &mut rng);
    Some(envelope.to_bytes())
}

/// A key set decoded by a reader that skips members it does not know [KEY-5]: the keys of a map
/// with `follow` (and perhaps `read`) of 32 bytes each and anything else besides.
pub fn lenient_keyset(bytes: &[u8]) -> Option<Value> {
    use ipld_core::ipld::Ipld;
    let Ipld::Map(map) = serde_ipld_dagcbor::from_slice::<Ipld>(bytes).ok()? else {
        return None;
    };
    let key = |name: &str| match map.get(name) {
        Some(Ipld::Bytes(b)) if b.len() == 32 => Some(Some(hex::encode(b))),
        None => Some(None),
        _ => None,
    };
    let follow = key("follow")??;
    let read = key("read")?;
    let role = if read.is_some() { "reader" } else { "follower" };
    Some(json!({"followKey": follow, "readKey": read, "role": role}))
}

/// serves-strangers: every node answers every `pull` with the records of the log it has sent so
/// far, whether or not the requester proved membership (breaking [SYNC-21]). The reference node
/// still answers as it would; the extra answer is added to the node's next `node.collect`.
#[derive(Debug, Default)]
pub struct ServesStrangers {
    /// The envelopes each node sent, by (node, thread, log), in the order sent.
    sent: BTreeMap<(String, Vec<u8>, Vec<u8>), Vec<Envelope>>,
    /// Answers waiting for each node's next `node.collect`: (to, message).
    answers: BTreeMap<String, Vec<(String, Vec<u8>)>>,
}

impl ServesStrangers {
    /// Notes what `reply` to `request` sends, and adds the answers the fault owes to it.
    pub fn watch(&mut self, request: &Value, reply: &mut Value) {
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

/// A node that never sends the same message twice to a peer: what a peer does that has no retry
/// timer [SYNC-10] or no periodic head exchange [SYNC-8]. Only a run with loss or partitions
/// tells it from a correct one.
#[derive(Debug, Default)]
pub struct SentOnce {
    /// The bytes each node sent to each peer.
    sent: BTreeSet<(String, String, Vec<u8>)>,
}

impl SentOnce {
    /// Removes from a `node.collect` reply every message `kind` picks that the node sent to that
    /// peer before.
    pub fn drop_repeats(&mut self, request: &Value, reply: &mut Value, kind: fn(&Message) -> bool) {
        let node = request["params"]["node"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(messages) = reply["result"]["messages"].as_array_mut() else {
            return;
        };
        messages.retain(|m| {
            let to = m["to"].as_str().unwrap_or_default().to_string();
            let Some(bytes) = m["message"].as_str().and_then(|h| hex::decode(h).ok()) else {
                return true;
            };
            if !Message::from_bytes(&bytes).is_ok_and(|message| kind(&message)) {
                return true;
            }
            self.sent.insert((node.clone(), to, bytes))
        });
    }
}
