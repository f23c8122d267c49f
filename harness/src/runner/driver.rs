//! Drives node instances in one adapter process for live scenarios (HP-27 to HP-44): the virtual
//! clock, the result shapes, the online set, and the message pump that carries every message.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value, json};

use super::client::{Fault, Reply};
use super::session::Session;

/// The scenario clock's first reading, t0 (2019-10-01T00:00:00Z in Unix milliseconds, HP-43).
pub const START_TIME: u64 = 1_569_888_000_000;
/// How far the clock advances after each request that carries `time` (HP-43).
pub const TIME_STEP: u64 = 1000;
/// The pump stops after this many rounds (HP-44).
pub const MAX_PUMP_ROUNDS: usize = 50;
/// Methods whose params carry `time` (HP-31).
const TIMED: &[&str] = &[
    "thread.create",
    "log.append",
    "invite.accept",
    "node.deliver",
    "node.collect",
    "acl.set",
];

/// A step that could not be carried out, which stops the scenario (HP-43): the adapter
/// misbehaved, answered a step with an error, or gave a result without the shape of H.9.
#[derive(Debug, Clone)]
pub struct StepError {
    /// The step, e.g. `log.append on writer`.
    pub step: String,
    /// What went wrong, with the reply.
    pub detail: String,
    /// The fault, when the adapter crashed, violated the protocol or timed out.
    pub fault: Option<Fault>,
}

impl StepError {
    fn new(step: &str, detail: String) -> StepError {
        StepError {
            step: step.to_string(),
            detail,
            fault: None,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} failed: {}", self.step, self.detail)
    }
}

/// What one run of the pump did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpStats {
    /// Rounds run, the last (quiet) one included.
    pub rounds: usize,
    /// Messages delivered.
    pub delivered: usize,
    /// Messages dropped because their node is offline.
    pub dropped: usize,
    /// Messages dropped because their `to` names no other node (HP-38).
    pub misaddressed: usize,
    /// Whether a round delivered nothing before the round limit.
    pub settled: bool,
}

impl fmt::Display for PumpStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pump: {} round(s), {} message(s) delivered, {} dropped (offline), {} misaddressed, ",
            self.rounds, self.delivered, self.dropped, self.misaddressed
        )?;
        if self.settled {
            f.write_str("settled")
        } else {
            write!(f, "still moving after {MAX_PUMP_ROUNDS} rounds")
        }
    }
}

/// Node instances in one adapter process, with the scenario's clock.
pub struct Driver<'s> {
    session: &'s mut Session,
    time: u64,
    /// Node names in creation order.
    nodes: Vec<String>,
    online: BTreeSet<String>,
    /// Node names by the peer IDs `node.create` gave.
    peers: BTreeMap<String, String>,
    /// Misaddressed messages dropped by the pump, by (from, to).
    misaddressed: BTreeMap<(String, String), usize>,
}

impl<'s> Driver<'s> {
    /// A driver with no nodes and the clock at [`START_TIME`]. Every request goes to the adapter
    /// process running now: if it exits, the scenario's nodes are lost and the step crashes.
    pub fn new(session: &'s mut Session) -> Driver<'s> {
        Driver {
            session,
            time: START_TIME,
            nodes: Vec::new(),
            online: BTreeSet::new(),
            peers: BTreeMap::new(),
            misaddressed: BTreeMap::new(),
        }
    }

    /// The clock reading the next timed request carries.
    pub fn now(&self) -> u64 {
        self.time
    }

    /// Sends one request; a timed method carries the clock's reading, and the clock then advances.
    /// A misbehaving adapter stops the scenario; an error reply is returned.
    pub fn call(&mut self, method: &str, mut params: Value) -> Result<Reply, StepError> {
        if TIMED.contains(&method) {
            params["time"] = json!(self.time);
            self.time += TIME_STEP;
        }
        let step = step_name(method, &params);
        self.session
            .request_same_process(method, params)
            .map_err(|fault| StepError {
                step,
                detail: fault.to_string(),
                fault: Some(fault),
            })
    }

    /// A step whose reply must be a success with the shape of H.9.
    pub fn step(&mut self, method: &str, params: Value) -> Result<Value, StepError> {
        let step = step_name(method, &params);
        let result = self
            .call(method, params)?
            .map_err(|error| StepError::new(&step, format!("the reply is the error {error}")))?;
        check_shape(method, &result)
            .map_err(|why| StepError::new(&step, format!("{why}; the result is {result}")))?;
        Ok(result)
    }

    /// Creates a node named `node` with a 32-byte hex seed; it is online. Returns its peer ID,
    /// which must differ from every other node's.
    pub fn create(&mut self, node: &str, seed: &str) -> Result<String, StepError> {
        let result = self.step("node.create", json!({"node": node, "seed": seed}))?;
        let peer = result["peer"].as_str().unwrap_or_default().to_string();
        if let Some(other) = self.peers.get(&peer) {
            return Err(StepError::new(
                &format!("node.create on {node}"),
                format!("nodes {other} and {node} have the same peer ID {peer}"),
            ));
        }
        self.peers.insert(peer.clone(), node.to_string());
        self.nodes.push(node.to_string());
        self.online.insert(node.to_string());
        Ok(peer)
    }

    /// Stops a node: the pump no longer collects from it or delivers to it (HP-30).
    pub fn stop(&mut self, node: &str) -> Result<(), StepError> {
        self.step("node.stop", json!({"node": node}))?;
        self.online.remove(node);
        Ok(())
    }

    /// Carries messages (HP-44): each round collects from every online node in creation order,
    /// then delivers each message to its online `to` node; it stops after a round that delivered
    /// nothing, or after [`MAX_PUMP_ROUNDS`] rounds.
    pub fn pump(&mut self) -> Result<PumpStats, StepError> {
        let mut stats = PumpStats::default();
        while stats.rounds < MAX_PUMP_ROUNDS {
            stats.rounds += 1;
            let mut kept = Vec::new();
            for node in self.nodes.clone() {
                if self.online.contains(&node) {
                    for (to, message) in self.collect(&node)? {
                        kept.push((node.clone(), to, message));
                    }
                }
            }
            let before = stats.delivered;
            for (from, to, message) in kept {
                self.deliver(from, to, message, &mut stats)?;
            }
            if stats.delivered == before {
                stats.settled = true;
                break;
            }
        }
        Ok(stats)
    }

    fn collect(&mut self, node: &str) -> Result<Vec<(String, String)>, StepError> {
        let result = self.step("node.collect", json!({"node": node}))?;
        Ok(result["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| (text(&m["to"]), text(&m["message"])))
            .collect())
    }

    fn deliver(
        &mut self,
        from: String,
        to: String,
        message: String,
        stats: &mut PumpStats,
    ) -> Result<(), StepError> {
        if to == from || !self.nodes.contains(&to) {
            stats.misaddressed += 1;
            *self.misaddressed.entry((from, to)).or_default() += 1;
        } else if !self.online.contains(&to) {
            stats.dropped += 1;
        } else {
            stats.delivered += 1;
            let params = json!({"node": to, "from": from, "message": message});
            self.step("node.deliver", params)?;
        }
        Ok(())
    }

    /// Notes on the messages the pump dropped because their `to` named no other node (HP-38).
    pub fn notes(&self) -> Vec<String> {
        self.misaddressed
            .iter()
            .map(|((from, to), n)| {
                let hint = match self.peers.get(to) {
                    Some(name) => format!(" (the peer ID of node {name}: address nodes by name)"),
                    None => String::new(),
                };
                format!("node {from} addressed {n} message(s) to {to:?}{hint}, which names no other node: dropped")
            })
            .collect()
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn step_name(method: &str, params: &Value) -> String {
    match params["node"].as_str() {
        Some(node) => format!("{method} on {node}"),
        None => method.to_string(),
    }
}

/// The JSON types of result members (HP-31).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Hex,
    Uint,
    TextOrNull,
}

fn member(object: &Map<String, Value>, key: &str, kind: Kind) -> Result<(), String> {
    let value = object.get(key).unwrap_or(&Value::Null);
    let ok = match kind {
        Kind::Text => value.is_string(),
        Kind::Hex => value.as_str().is_some_and(is_hex),
        Kind::Uint => value.is_u64(),
        Kind::TextOrNull => value.is_string() || value.is_null(),
    };
    let want = match kind {
        Kind::Text => "a string",
        Kind::Hex => "lower-case hex",
        Kind::Uint => "an unsigned integer",
        Kind::TextOrNull => "a string or null",
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{key}` is not {want}"))
    }
}

fn is_hex(text: &str) -> bool {
    text.len().is_multiple_of(2) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn members(value: &Value, wanted: &[(&str, Kind)]) -> Result<(), String> {
    let object = value.as_object().ok_or("not an object")?;
    wanted
        .iter()
        .try_for_each(|(key, kind)| member(object, key, *kind))
}

fn each(value: &Value, key: &str, wanted: &[(&str, Kind)]) -> Result<(), String> {
    let items = value[key]
        .as_array()
        .ok_or_else(|| format!("`{key}` is not an array"))?;
    items
        .iter()
        .try_for_each(|item| members(item, wanted).map_err(|why| format!("in `{key}`: {why}")))
}

/// Checks a node method's result against the shape of H.9.
pub fn check_shape(method: &str, result: &Value) -> Result<(), String> {
    use Kind::*;
    members(result, &[])?;
    match method {
        "node.create" => members(result, &[("peer", Text)]),
        "thread.create" => members(result, &[("thread", Text), ("log", Text)]),
        "log.append" => members(result, &[("log", Text), ("seq", Uint), ("recordCid", Text)]),
        "invite.export" => members(result, &[("invite", Hex)]),
        "invite.accept" => members(result, &[("thread", Text), ("role", Text)]),
        "acl.set" => members(result, &[("recordCid", Text)]),
        "node.keys" => members(result, &[("followKey", Hex), ("readKey", TextOrNull)]),
        "node.acl" => result["document"]
            .is_object()
            .then_some(())
            .ok_or_else(|| "`document` is not an object".to_string()),
        "node.collect" => each(result, "messages", &[("to", Text), ("message", Hex)]),
        "node.read" => each(
            result,
            "events",
            &[("log", Text), ("seq", Uint), ("body", Hex), ("time", Uint)],
        ),
        "node.heads" => {
            let logs = result["logs"]
                .as_object()
                .ok_or("`logs` is not an object")?;
            logs.values().try_for_each(|entry| {
                members(entry, &[("head", TextOrNull), ("counter", Uint)])
                    .map_err(|why| format!("in `logs`: {why}"))
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_shapes_are_checked() {
        assert!(check_shape("node.create", &json!({"peer": "12D3KooW"})).is_ok());
        assert!(check_shape("node.create", &json!({"peer": 1})).is_err());
        assert!(check_shape("node.stop", &json!([])).is_err());
        assert!(
            check_shape(
                "node.collect",
                &json!({"messages": [{"to": "a", "message": "00ff"}]})
            )
            .is_ok()
        );
        assert!(
            check_shape(
                "node.collect",
                &json!({"messages": [{"to": "a", "message": "0FF"}]})
            )
            .is_err()
        );
        assert!(
            check_shape(
                "node.heads",
                &json!({"logs": {"L": {"head": null, "counter": 0}}})
            )
            .is_ok()
        );
        assert!(
            check_shape(
                "node.heads",
                &json!({"logs": {"L": {"head": null, "counter": -1}}})
            )
            .is_err()
        );
        let event = json!({"log": "L", "seq": 1, "body": "", "time": 5});
        assert!(check_shape("node.read", &json!({"events": [event]})).is_ok());
        assert!(check_shape("node.read", &json!({"events": {}})).is_err());
    }

    #[test]
    fn pump_stats_read_well() {
        let stats = PumpStats {
            rounds: 3,
            delivered: 4,
            settled: true,
            ..Default::default()
        };
        assert_eq!(
            stats.to_string(),
            "pump: 3 round(s), 4 message(s) delivered, 0 dropped (offline), 0 misaddressed, settled"
        );
    }
}
