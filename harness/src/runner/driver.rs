//! Drives node instances in one adapter process for live scenarios ([HP-27] to [HP-44]): the virtual
//! clock, the result shapes, the online set, and the message pump that carries every message.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::client::{Fault, Reply};
use super::session::Session;
use crate::protocol::{
    Call, Collected, Hex, MethodResult, NodeAt, NodeCreate, NodeCreated, NodeDeliver, NodeOnly,
};
use crate::schema::{self, Members};

/// The scenario clock's first reading, t0 (2019-10-01T00:00:00Z in Unix milliseconds, [HP-43]).
pub const START_TIME: u64 = 1_569_888_000_000;
/// How far the clock advances after each request that carries `time` [HP-43].
pub const TIME_STEP: u64 = 1000;
/// The pump stops after this many rounds [HP-44].
pub const MAX_PUMP_ROUNDS: usize = 50;

/// A step that could not be carried out, which stops the scenario [HP-43]: the adapter
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
    pub(super) fn new(step: &str, detail: String) -> StepError {
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
    /// Messages dropped because their `to` names no other node [HP-38].
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
    /// The node whose incoming messages are kept, and what they were: (from, message).
    watched: Option<(String, Vec<(String, Hex)>)>,
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
            watched: None,
        }
    }

    /// Keeps every message the pump hands `node` from now on, for [`Driver::watched`]: what a
    /// stranger is told [HP-100].
    pub fn watch(&mut self, node: &str) {
        self.watched = Some((node.to_string(), Vec::new()));
    }

    /// The messages handed to the watched node so far, each with its sender.
    pub fn watched(&self) -> &[(String, Hex)] {
        self.watched.as_ref().map_or(&[], |(_, seen)| &seen[..])
    }

    /// Hands `to` a message the harness wrote, as if `from` had sent it (`node.deliver`): how a
    /// node that runs no protocol logic of its own speaks in a scenario [HP-100].
    pub fn inject(&mut self, from: &str, to: &str, message: Vec<u8>) -> Result<(), StepError> {
        let mut stats = PumpStats::default();
        self.deliver(from.to_string(), to.to_string(), Hex(message), &mut stats)
    }

    /// Sends `call` as the first request of a new adapter process of its own
    /// ([`Session::probe`]): the scenario's nodes are not involved [HP-15].
    pub fn probe(&mut self, call: Call) -> Result<Reply, StepError> {
        self.session.probe(&call).map_err(|fault| StepError {
            step: format!("{} to a new adapter process", step_name(&call)),
            detail: fault.to_string(),
            fault: Some(fault),
        })
    }

    /// The clock reading the next timed request carries.
    pub fn now(&self) -> u64 {
        self.time
    }

    /// Lets `ms` milliseconds pass before the next timed request or delivery: how a scenario
    /// makes a nonce outlive its lifetime [HP-97].
    pub fn wait(&mut self, ms: u64) {
        self.time += ms;
    }

    /// Sends one request; a method that lets time pass carries the clock's reading (whatever
    /// `time` the caller put in it), and the clock then advances [HP-43]. A misbehaving adapter
    /// stops the scenario; an error reply is returned.
    pub fn call(&mut self, mut call: Call) -> Result<Reply, StepError> {
        if let Some(time) = call.time_mut() {
            *time = self.time;
            self.time += TIME_STEP;
        }
        self.session
            .request_same_process(&call)
            .map_err(|fault| StepError {
                step: step_name(&call),
                detail: fault.to_string(),
                fault: Some(fault),
            })
    }

    /// A step whose reply must be a success whose result has the shape of H.9: it is checked
    /// against `node-results.schema.json`, whose extra members are ignored as in replies [HP-10].
    pub fn step<R: MethodResult>(&mut self, call: Call) -> Result<R, StepError> {
        let step = step_name(&call);
        let method = call.method();
        let result = self
            .call(call)?
            .map_err(|error| StepError::new(&step, format!("the reply is the error {error}")))?;
        let shaped = schema::schemas()
            .and_then(|s| s.check_result(method, &result, Members::AllowExtra))
            .and_then(|()| crate::protocol::result_as(&result));
        shaped.map_err(|why| StepError::new(&step, format!("{why}; the result is {result}")))
    }

    /// Creates a node named `node` with a 32-byte seed; it is online. Returns its peer ID,
    /// which must differ from every other node's.
    pub fn create(&mut self, node: &str, seed: [u8; 32]) -> Result<String, StepError> {
        let call = Call::NodeCreate(NodeCreate {
            node: node.into(),
            seed: Hex(seed.to_vec()),
        });
        let NodeCreated { peer } = self.step(call)?;
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

    /// Stops a node: the pump no longer collects from it or delivers to it [HP-30].
    pub fn stop(&mut self, node: &str) -> Result<(), StepError> {
        let _: crate::protocol::Empty =
            self.step(Call::NodeStop(NodeOnly { node: node.into() }))?;
        self.online.remove(node);
        Ok(())
    }

    /// Carries messages [HP-44]: each round collects from every online node in creation order,
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

    pub(super) fn collect(&mut self, node: &str) -> Result<Vec<(String, Hex)>, StepError> {
        let call = Call::NodeCollect(NodeAt {
            node: node.into(),
            time: self.time,
        });
        let Collected { messages, .. } = self.step(call)?;
        Ok(messages.into_iter().map(|m| (m.to, m.message)).collect())
    }

    pub(super) fn deliver(
        &mut self,
        from: String,
        to: String,
        message: Hex,
        stats: &mut PumpStats,
    ) -> Result<(), StepError> {
        if to == from || !self.nodes.contains(&to) {
            stats.misaddressed += 1;
            *self.misaddressed.entry((from, to)).or_default() += 1;
        } else if !self.online.contains(&to) {
            stats.dropped += 1;
        } else {
            stats.delivered += 1;
            if let Some((node, seen)) = &mut self.watched
                && *node == to
            {
                seen.push((from.clone(), message.clone()));
            }
            let call = Call::NodeDeliver(NodeDeliver {
                node: to,
                from,
                message,
                time: self.time,
            });
            let _: crate::protocol::Empty = self.step(call)?;
        }
        Ok(())
    }

    /// Notes on the messages the pump dropped because their `to` named no other node [HP-38].
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

fn step_name(call: &Call) -> String {
    match call.node() {
        Some(node) => format!("{} on {node}", call.method()),
        None => call.method().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
