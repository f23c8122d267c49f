//! Chapter 6, access control: the ACL document (shared with invites) and an independent evaluator
//! over raw-verified records.

use std::collections::{BTreeMap, BTreeSet};

use ipld_core::ipld::Ipld;
use serde_json::{Map, Value, json};

use crate::cbor::{bytes_node, cid_text, get, is_canonical, string};
use crate::common::{cases, hex_of, load, parse_tid, valid_peer_text};
use crate::raw::raw_verify;

const ORDERED_ROLES: [&str; 4] = ["no-access", "follow", "read", "write"];

fn rank(role: &str) -> usize {
    ORDERED_ROLES.iter().position(|r| *r == role).unwrap()
}

/// A role list of [ACL-3]: known names, at most one ordered role, sorted bytewise, each once.
fn role_list(node: &Ipld) -> Option<Vec<String>> {
    let Ipld::List(items) = node else { return None };
    let names: Vec<String> = items
        .iter()
        .map(|i| match i {
            Ipld::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let known = names
        .iter()
        .all(|n| n == "delete" || ORDERED_ROLES.contains(&n.as_str()));
    let ordered = names.iter().filter(|n| *n != "delete").count();
    let sorted = names.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes());
    (known && ordered <= 1 && sorted).then_some(names)
}

/// The ACL document of [ACL-3], in its JSON form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc {
    pub(crate) id: String,
    admins: Vec<String>,
    default: String,
    peers: BTreeMap<String, Vec<String>>,
}

impl Doc {
    pub(crate) fn from_ipld(node: &Ipld) -> Option<Doc> {
        let Ipld::Map(map) = node else { return None };
        if map.len() != 4 {
            return None;
        }
        let Some(Ipld::String(id)) = get(map, "_id") else {
            return None;
        };
        let Some(Ipld::String(default)) = get(map, "default") else {
            return None;
        };
        let Some(Ipld::List(admins)) = get(map, "admins") else {
            return None;
        };
        let Some(Ipld::Map(peers)) = get(map, "peers") else {
            return None;
        };
        let admins: Vec<String> = admins
            .iter()
            .map(|a| match a {
                Ipld::String(s) if valid_peer_text(s) => Some(s.clone()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let mut entries = BTreeMap::new();
        for (peer, roles) in peers {
            let roles = role_list(roles)?;
            if !valid_peer_text(peer) || roles.is_empty() {
                return None;
            }
            entries.insert(peer.clone(), roles);
        }
        let sorted = admins.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes());
        let ok = !id.is_empty() && sorted && ORDERED_ROLES.contains(&default.as_str());
        ok.then(|| Doc {
            id: id.clone(),
            admins,
            default: default.clone(),
            peers: entries,
        })
    }

    fn json(&self) -> Value {
        json!({"_id": self.id, "admins": self.admins, "default": self.default, "peers": self.peers})
    }

    fn role_of(&self, peer: &str) -> String {
        self.peers
            .get(peer)
            .and_then(|names| names.iter().find(|n| *n != "delete").cloned())
            .unwrap_or_else(|| self.default.clone())
    }

    fn has_delete(&self, peer: &str) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|names| names.iter().any(|n| n == "delete"))
    }

    /// [ACL-2].
    pub(crate) fn may(&self, peer: &str, action: &str) -> bool {
        match action {
            "delete" => self.has_delete(peer),
            "admin" => self.admins.iter().any(|a| a == peer),
            ordered => rank(&self.role_of(peer)) >= rank(ordered),
        }
    }
}

/// An ACL change op [ACL-5].
#[derive(Debug, Clone)]
enum Op {
    Peer {
        peer: String,
        roles: Vec<String>,
        cut: Option<u64>,
    },
    Default(String),
    Grant(String),
    Revoke(String),
}

#[derive(Debug, Clone)]
enum Body {
    Genesis(Doc),
    Change { clock: u64, op: Op },
    Delete,
}

fn uint(node: Option<&Ipld>) -> Option<u64> {
    match node {
        Some(Ipld::Integer(i)) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn op_of(node: &Ipld) -> Option<Op> {
    let Ipld::Map(map) = node else { return None };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    let peer_text = |name: &str| string(get(map, name)).filter(|p| valid_peer_text(p));
    match string(get(map, "set"))?.as_str() {
        "peer" => {
            let roles = role_list(get(map, "roles")?)?;
            let cut = get(map, "cut").map(|c| uint(Some(c)));
            let writes = roles.iter().any(|r| r == "write");
            let shape = if writes {
                vec!["peer", "roles", "set"]
            } else {
                vec!["cut", "peer", "roles", "set"]
            };
            let mut keys = keys;
            keys.sort_unstable();
            let cut = match cut {
                Some(Some(c)) => Some(c),
                Some(None) => return None,
                None => None,
            };
            (keys == shape).then_some(Op::Peer {
                peer: peer_text("peer")?,
                roles,
                cut,
            })
        }
        "default" => {
            let role = string(get(map, "role")).filter(|r| ORDERED_ROLES.contains(&r.as_str()))?;
            (map.len() == 2).then_some(Op::Default(role))
        }
        "grant-admin" => (map.len() == 2).then_some(Op::Grant(peer_text("admin")?)),
        "revoke-admin" => (map.len() == 2).then_some(Op::Revoke(peer_text("admin")?)),
        _ => None,
    }
}

/// Classifies a body plaintext [ACL-12]: `Ok(None)` for application data, `Err` for a body that
/// claims a reserved type without its exact shape.
fn classify(body: &[u8]) -> Result<Option<Body>, ()> {
    let Ok(Ipld::Map(map)) = serde_ipld_dagcbor::from_slice::<Ipld>(body) else {
        return Ok(None);
    };
    let Some(kind) = string(get(&map, "type")) else {
        return Ok(None);
    };
    if !["acl-genesis", "acl", "delete"].contains(&kind.as_str()) {
        return Ok(None);
    }
    if !is_canonical(&Ipld::Map(map.clone()), body) {
        return Err(());
    }
    let parsed = match kind.as_str() {
        "acl-genesis" if map.len() == 2 => {
            map.get("acl").and_then(Doc::from_ipld).map(Body::Genesis)
        }
        "acl" if map.len() == 3 => {
            let clock = uint(get(&map, "clock")).filter(|c| *c >= 1);
            let op = map.get("op").and_then(op_of);
            clock.zip(op).map(|(clock, op)| Body::Change { clock, op })
        }
        "delete" if map.len() == 2 => match get(&map, "target") {
            Some(Ipld::Link(cid))
                if cid.version() == cid::Version::V1
                    && cid.codec() == 0x71
                    && cid.hash().code() == 0x12
                    && cid.hash().digest().len() == 32 =>
            {
                Some(Body::Delete)
            }
            _ => None,
        },
        _ => None,
    };
    parsed.map(Some).ok_or(())
}

/// An accepted record with an ACL body.
#[derive(Debug, Clone)]
struct Event {
    author: String,
    author_bytes: Vec<u8>,
    seq: u64,
    cid: String,
    body: Body,
}

/// What the model computes from a case's inputs.
struct Model {
    doc: Doc,
    cuts: BTreeMap<String, u64>,
    applied: Vec<String>,
    ignored: BTreeMap<String, String>,
    rejected: BTreeMap<String, String>,
    genesis: String,
    /// Every record some log accepted.
    accepted: BTreeSet<String>,
    /// The delete events that count.
    deletes: Vec<String>,
}

impl Model {
    fn accepts(&self, author: &str, seq: u64) -> bool {
        rank(&self.doc.role_of(author)) >= 3 || self.cuts.get(author).is_some_and(|c| seq <= *c)
    }
}

/// Verifies and links every log, classifies the bodies, checks the genesis and folds the
/// changes in (clock, author bytes, seq, CID bytes) order.
fn evaluate_acl(inputs: &Map<String, Value>) -> Result<Model, &'static str> {
    let thread = multibase::decode(inputs["thread"].as_str().unwrap())
        .unwrap()
        .1;
    let (follow, read) = (hex_of(&inputs["followKey"]), hex_of(&inputs["readKey"]));
    let creator = inputs["creator"].as_str().unwrap();
    let mut events: BTreeMap<String, Event> = BTreeMap::new();
    let mut ignored = BTreeMap::new();
    let mut rejected = BTreeMap::new();
    let mut accepted = BTreeSet::new();
    let mut unreadable = BTreeMap::new();
    let mut genesis = None;
    for (log_text, envelopes) in inputs["logs"].as_object().unwrap() {
        let log = multibase::decode(format!("z{log_text}")).unwrap().1;
        let mut held: Vec<String> = Vec::new();
        for envelope in envelopes.as_array().unwrap() {
            let envelope = hex_of(envelope);
            let Ipld::Map(env) = serde_ipld_dagcbor::from_slice::<Ipld>(&envelope).unwrap() else {
                panic!("every envelope decodes")
            };
            let cid = cid_text(&bytes_node(env.get("record")));
            // VERIFY-1 decides whether the record joins its log; VERIFY-2 only whether it is read
            // (SYNC-6): a record that does not open is linked, listed as rejected, never applied.
            let outcome = raw_verify(&thread, &log, &follow, None, &envelope).and_then(|r| {
                let seq = r["seq"].as_u64().unwrap() as usize;
                if seq <= held.len() {
                    return if held[seq - 1] == cid {
                        Ok(None)
                    } else {
                        Err("LOG_FORK")
                    };
                }
                if seq > held.len() + 1 {
                    return Err("LOG_GAP");
                }
                if r["prev"].as_str() != held.last().map(String::as_str) {
                    return Err("LOG_BROKEN_LINK");
                }
                held.push(cid.clone());
                Ok(Some(r))
            });
            match outcome {
                Ok(Some(_)) => {}
                Ok(None) => continue,
                Err(code) => {
                    rejected.entry(cid).or_insert(code.to_string());
                    continue;
                }
            }
            let seq = held.len() as u64;
            if log_text == creator && seq == 1 {
                genesis = Some(cid.clone());
            }
            let record = match raw_verify(&thread, &log, &follow, Some(&read), &envelope) {
                Ok(record) => record,
                Err(code) => {
                    unreadable.insert(cid.clone(), code.to_string());
                    accepted.insert(cid.clone());
                    continue;
                }
            };
            accepted.insert(cid.clone());
            match classify(&hex_of(&record["plaintext"])) {
                Ok(None) => {}
                Ok(Some(body)) => {
                    let event = Event {
                        author: log_text.clone(),
                        author_bytes: log.clone(),
                        seq,
                        cid: cid.clone(),
                        body,
                    };
                    events.insert(cid, event);
                }
                Err(()) => {
                    ignored.insert(cid, "ACL_MALFORMED".to_string());
                }
            }
        }
    }
    rejected.retain(|cid, _| !accepted.contains(cid));
    rejected.extend(unreadable);
    let genesis = genesis.ok_or("ACL_MALFORMED")?;
    // An anchor's genesis (ACL-11) must be the creator's seq 1.
    if inputs
        .get("genesis")
        .and_then(Value::as_str)
        .is_some_and(|named| named != genesis)
    {
        return Err("ACL_MALFORMED");
    }
    let variant = parse_tid(&thread).unwrap().0;
    let mut doc = match events.get(&genesis).map(|e| &e.body) {
        Some(Body::Genesis(doc))
            if variant == "access-controlled"
                && doc.id == inputs["thread"]
                && doc.admins.iter().any(|a| a == creator) =>
        {
            doc.clone()
        }
        _ => return Err("ACL_MALFORMED"),
    };
    let cid_bytes = |cid: &str| multibase::decode(cid).unwrap().1;
    let mut changes: Vec<&Event> = events
        .values()
        .filter(|e| matches!(e.body, Body::Change { .. }))
        .collect();
    changes.sort_by_key(|e| {
        let Body::Change { clock, .. } = e.body else {
            unreachable!()
        };
        (clock, e.author_bytes.clone(), e.seq, cid_bytes(&e.cid))
    });
    let mut cuts: BTreeMap<String, u64> = BTreeMap::new();
    let mut applied = Vec::new();
    for event in changes {
        let Body::Change { op, .. } = &event.body else {
            unreachable!()
        };
        if !doc.admins.contains(&event.author) {
            ignored.insert(event.cid.clone(), "ACL_BYPASS".to_string());
            continue;
        }
        match op {
            Op::Peer { peer, roles, cut } => {
                let had_write = rank(&doc.role_of(peer)) >= 3;
                if roles.is_empty() {
                    doc.peers.remove(peer);
                } else {
                    doc.peers.insert(peer.clone(), roles.clone());
                }
                if rank(&doc.role_of(peer)) < 3 {
                    let cut = cut.unwrap_or(0);
                    if had_write {
                        cuts.insert(peer.clone(), cut);
                    } else if let Some(old) = cuts.get_mut(peer) {
                        *old = (*old).min(cut);
                    }
                }
            }
            Op::Default(role) => doc.default = role.clone(),
            Op::Grant(admin) => {
                if !doc.admins.contains(admin) {
                    doc.admins.push(admin.clone());
                    doc.admins.sort();
                }
            }
            Op::Revoke(admin) => {
                if doc.admins.len() > 1 {
                    doc.admins.retain(|a| a != admin);
                }
            }
        }
        let snapshot = doc.clone();
        cuts.retain(|peer, _| rank(&snapshot.role_of(peer)) < 3);
        applied.push(event.cid.clone());
    }
    let mut model = Model {
        doc,
        cuts,
        applied,
        ignored,
        rejected,
        genesis: genesis.clone(),
        accepted,
        deletes: Vec::new(),
    };
    for event in events.values() {
        let outcome = match &event.body {
            Body::Change { .. } => continue,
            Body::Genesis(_) if event.cid == genesis => continue,
            Body::Genesis(_) => "ACL_BYPASS",
            Body::Delete
                if model.accepts(&event.author, event.seq)
                    && model.doc.has_delete(&event.author) =>
            {
                model.deletes.push(event.cid.clone());
                continue;
            }
            Body::Delete => "ACL_DENIED",
        };
        model.ignored.insert(event.cid.clone(), outcome.to_string());
    }
    Ok(model)
}

/// spec/acl.md 6.12: the worked example's final document, as printed.
fn spec_worked_example_document() -> Value {
    serde_json::from_str(threads_fixtures::acl_worked_example::FINAL_DOCUMENT)
        .expect("the fixture is JSON")
}

#[test]
fn acl_vectors_agree_with_an_independent_evaluator() {
    let (mut evaluated, mut worked_example, mut same_sets) = (0, 0, 0);
    let mut by_logs: Vec<(Value, Value)> = Vec::new();
    for (op, inputs, case) in cases(&load("acl")) {
        let id = &case["tcId"];
        let expected_code = case["errorCode"].as_str();
        let model = match evaluate_acl(&inputs) {
            Ok(model) => model,
            Err(code) => {
                assert_eq!(expected_code, Some(code), "tcId {id}");
                continue;
            }
        };
        let outcome: Result<(), String> = match op.as_str() {
            "acl.evaluate" => {
                let cuts: Map<String, Value> = model
                    .cuts
                    .iter()
                    .map(|(p, c)| (p.clone(), (*c).into()))
                    .collect();
                let got = json!({
                    "applied": model.applied,
                    "cuts": cuts,
                    "document": model.doc.json(),
                    "ignored": model.ignored,
                    "rejected": model.rejected,
                });
                assert_eq!(got, case["expected"], "tcId {id}");
                if got["document"] == spec_worked_example_document() {
                    worked_example += 1;
                }
                // The state is a function of the set of records: cases holding the same set (in
                // other listings, with replays) expect the same state [ACL-6].
                let set = json!(model.accepted);
                let state = json!([got["applied"], got["cuts"], got["document"], got["ignored"]]);
                if let Some((_, earlier)) = by_logs.iter().find(|(s, _)| *s == set) {
                    assert_eq!(earlier, &state, "tcId {id}");
                    same_sets += 1;
                }
                by_logs.push((set, state));
                evaluated += 1;
                continue;
            }
            "acl.checkChange" => {
                let cid = inputs["cid"].as_str().unwrap();
                let took_effect = model.applied.iter().any(|c| c == cid)
                    || model.deletes.iter().any(|c| c == cid)
                    || model.genesis == cid;
                match (model.rejected.get(cid), model.ignored.get(cid)) {
                    (Some(code), _) | (None, Some(code)) => Err(code.clone()),
                    (None, None) if took_effect => Ok(()),
                    (None, None) => panic!("tcId {id}: {cid} is no ACL event of the logs"),
                }
            }
            "acl.acceptsRecord" => {
                let author = inputs["author"].as_str().unwrap();
                let seq = inputs["seq"].as_u64().unwrap();
                if model.accepts(author, seq) {
                    Ok(())
                } else {
                    Err("ACL_DENIED".into())
                }
            }
            "acl.decide" => {
                let peer = inputs["peer"].as_str().unwrap();
                if model.doc.may(peer, inputs["action"].as_str().unwrap()) {
                    Ok(())
                } else {
                    Err("ACL_DENIED".into())
                }
            }
            other => panic!("unexpected operation {other}"),
        };
        match expected_code {
            None => assert_eq!(outcome, Ok(()), "tcId {id}"),
            Some(code) => assert_eq!(outcome, Err(code.to_string()), "tcId {id}"),
        }
    }
    assert!(evaluated >= 10, "only {evaluated} evaluations");
    assert!(
        worked_example >= 2,
        "spec 6.12's final document appears {worked_example} times"
    );
    assert!(
        same_sets >= 2,
        "only {same_sets} cases repeat an earlier set of events"
    );
}
