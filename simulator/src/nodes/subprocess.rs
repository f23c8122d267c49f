//! Nodes of any implementation, driven through its adapter over the harness protocol
//! (spec/harness-protocol.md, H.9): `--impl 'CMD'`.
//!
//! All the nodes of a run live in one adapter process (HP-27). The simulator plays the network
//! between them exactly as the harness's pump does (HP-44), but with the faults and the clock of
//! the scenario. What the protocol does not show cannot be checked: the stored envelopes are not
//! visible, so "every stored record verifies" is checked through the heads (a node's head CID at
//! each counter must be the writer's record at that position, which commits to every byte of it);
//! crash and restart have no method, so scenarios that need them are skipped; clock ticks need the
//! optional method `node.tick` (capability `ticks`, HP-51).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value, json};
use threads::Cid;
use threads::acl::Roles;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::FollowKey;
use threads_harness::runner::client::{AdapterProcess, Hello};

use super::{Caps, Cluster, Heads, Out, ReadOutcome};
use crate::error::{Result, SimError};
use crate::plan::{NodeIx, NodeSpec};

/// How long one request may take (the harness's default case timeout, HP-19).
const TIMEOUT: Duration = Duration::from_secs(10);

/// The nodes of one adapter process.
pub struct ImplCluster {
    process: AdapterProcess,
    names: Vec<String>,
    by_name: BTreeMap<String, NodeIx>,
    caps: Caps,
    /// Whether `ticks` is settled (listed in `hello`, or probed on the first node).
    ticks_known: bool,
}

fn adapter_error(e: impl std::fmt::Display) -> SimError {
    SimError::Adapter(e.to_string())
}

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| adapter_error(format!("the result has no string {key}: {value}")))
}

fn parse<T: FromStr>(value: &Value, key: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    T::from_str(text(value, key)?).map_err(|e| adapter_error(format!("{key}: {e}")))
}

fn cid(text: &str) -> Result<Cid> {
    Cid::try_from(text).map_err(|e| adapter_error(format!("CID {text}: {e}")))
}

fn unhex(value: &Value, key: &str) -> Result<Vec<u8>> {
    hex::decode(text(value, key)?).map_err(|e| adapter_error(format!("{key}: {e}")))
}

impl ImplCluster {
    /// Starts the adapter and says `hello`; the nodes must support the feature `nodes`.
    pub fn start(command: &[String]) -> Result<ImplCluster> {
        let process = AdapterProcess::spawn(command)
            .map_err(|e| adapter_error(format!("cannot start {command:?}: {e}")))?;
        let mut cluster = ImplCluster {
            process,
            names: Vec::new(),
            by_name: BTreeMap::new(),
            caps: Caps::default(),
            ticks_known: false,
        };
        let hello =
            Hello::from_result(&cluster.call("hello", Hello::params())?).map_err(adapter_error)?;
        if !hello.scenarios.contains("nodes") {
            return Err(SimError::Unsupported(format!(
                "{} does not list the scenario feature \"nodes\"",
                hello.implementation
            )));
        }
        cluster.ticks_known = hello.scenarios.contains("ticks");
        cluster.caps = Caps {
            implementation: format!("{} {}", hello.implementation, hello.version),
            ticks: cluster.ticks_known,
            crash: false,
            acl: hello.scenarios.contains("acl"),
            envelopes: false,
        };
        Ok(cluster)
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        match self.process.request(method, params, TIMEOUT) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(reply)) => Err(SimError::Refused {
                code: reply.code,
                message: reply.message,
            }),
            Err(fault) => {
                let tail = self.process.stderr().lines().join("\n");
                Err(adapter_error(format!("{fault}\n{tail}")))
            }
        }
    }

    fn name(&self, ix: NodeIx) -> Result<&str> {
        self.names
            .get(ix)
            .map(String::as_str)
            .ok_or_else(|| SimError::Usage(format!("no node {ix}")))
    }

    fn call_node(
        &mut self,
        method: &str,
        ix: NodeIx,
        mut params: Map<String, Value>,
    ) -> Result<Value> {
        params.insert("node".into(), json!(self.name(ix)?));
        self.call(method, Value::Object(params))
    }

    /// An adapter that does not list `ticks` may still implement `node.tick`: the reference
    /// adapter's `hello` is outside what the simulator may change, so the first node is asked
    /// once, and UNSUPPORTED settles it (HP-13 makes that the reply to an unknown method).
    fn probe_ticks(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        if self.ticks_known {
            return Ok(());
        }
        self.ticks_known = true;
        let probe = self.call_node("node.tick", ix, params([("time", json!(time))]));
        self.caps.ticks = match probe {
            Ok(_) => true,
            Err(SimError::Refused { code, .. }) if code == "UNSUPPORTED" => false,
            Err(e) => return Err(e),
        };
        Ok(())
    }
}

fn params<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Cluster for ImplCluster {
    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn add_node(&mut self, spec: &NodeSpec, seed: [u8; 32]) -> Result<LogId> {
        let ix = self.names.len();
        self.names.push(spec.name.clone());
        self.by_name.insert(spec.name.clone(), ix);
        let result = self.call_node(
            "node.create",
            ix,
            params([("seed", json!(hex::encode(seed)))]),
        )?;
        let id = parse(&result, "peer")?;
        self.probe_ticks(ix, crate::plan::T0)?;
        Ok(id)
    }

    fn create_thread(
        &mut self,
        ix: NodeIx,
        variant: Variant,
        time: u64,
    ) -> Result<(ThreadId, LogId)> {
        let variant = match variant {
            Variant::Raw => "raw",
            Variant::AccessControlled => "access-controlled",
        };
        let p = params([("variant", json!(variant)), ("time", json!(time))]);
        let result = self.call_node("thread.create", ix, p)?;
        Ok((parse(&result, "thread")?, parse(&result, "log")?))
    }

    fn append(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)> {
        let p = params([
            ("thread", json!(thread.to_string())),
            ("body", json!(hex::encode(body))),
            ("time", json!(time)),
        ]);
        let result = self.call_node("log.append", ix, p)?;
        let seq = result
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| adapter_error("log.append gave no seq"))?;
        Ok((
            parse(&result, "log")?,
            seq,
            cid(text(&result, "recordCid")?)?,
        ))
    }

    fn invite(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        role: InviteRole,
        recipient: NodeIx,
    ) -> Result<Vec<u8>> {
        let p = params([
            ("thread", json!(thread.to_string())),
            ("role", json!(role.name())),
            ("recipient", json!(self.name(recipient)?)),
        ]);
        unhex(&self.call_node("invite.export", ix, p)?, "invite")
    }

    fn join(&mut self, ix: NodeIx, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)> {
        let p = params([
            ("invite", json!(hex::encode(invite))),
            ("time", json!(time)),
        ]);
        let result = self.call_node("invite.accept", ix, p)?;
        let role = InviteRole::from_name(text(&result, "role")?)
            .ok_or_else(|| adapter_error("invite.accept gave an unknown role"))?;
        Ok((parse(&result, "thread")?, role))
    }

    fn set_roles(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        peer: NodeIx,
        roles: Roles,
        time: u64,
    ) -> Result<Cid> {
        let p = params([
            ("thread", json!(thread.to_string())),
            ("peer", json!(self.name(peer)?)),
            ("roles", json!(roles.names())),
            ("time", json!(time)),
        ]);
        cid(text(&self.call_node("acl.set", ix, p)?, "recordCid")?)
    }

    fn deliver(&mut self, ix: NodeIx, from: NodeIx, bytes: &[u8], time: u64) -> Result<()> {
        let p = params([
            ("from", json!(self.name(from)?)),
            ("message", json!(hex::encode(bytes))),
            ("time", json!(time)),
        ]);
        self.call_node("node.deliver", ix, p).map(drop)
    }

    fn tick(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        if !self.caps.ticks {
            return Err(SimError::Unsupported("node.tick".into()));
        }
        self.call_node("node.tick", ix, params([("time", json!(time))]))
            .map(drop)
    }

    fn take(&mut self, ix: NodeIx, time: u64) -> Result<Vec<Out>> {
        let result = self.call_node("node.collect", ix, params([("time", json!(time))]))?;
        let messages = result
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| adapter_error("node.collect gave no messages array"))?;
        messages
            .iter()
            .map(|m| {
                let to = text(m, "to")?;
                Ok(Out::Send {
                    to: self.by_name.get(to).copied().ok_or_else(|| to.to_string()),
                    bytes: unhex(m, "message")?,
                })
            })
            .collect()
    }

    fn stop(&mut self, ix: NodeIx) -> Result<()> {
        self.call_node("node.stop", ix, Map::new()).map(drop)
    }

    fn crash(&mut self, _ix: NodeIx) -> Result<()> {
        Err(SimError::Unsupported(
            "the harness protocol cannot crash a node".into(),
        ))
    }

    fn restart(&mut self, _ix: NodeIx) -> Result<()> {
        Err(SimError::Unsupported(
            "the harness protocol cannot restart a node".into(),
        ))
    }

    fn heads(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Heads> {
        let p = params([("thread", json!(thread.to_string()))]);
        let result = match self.call_node("node.heads", ix, p) {
            Ok(result) => result,
            Err(SimError::Refused { code, .. }) if code == "KEY_UNAVAILABLE" => {
                return Ok(Heads::new());
            }
            Err(e) => return Err(e),
        };
        let logs = result
            .get("logs")
            .and_then(Value::as_object)
            .ok_or_else(|| adapter_error("node.heads gave no logs object"))?;
        let mut heads = Heads::new();
        for (log, entry) in logs {
            let log = LogId::from_str(log).map_err(adapter_error)?;
            let head = match entry.get("head").and_then(Value::as_str) {
                Some(text) => Some(cid(text)?),
                None => None,
            };
            let counter = entry.get("counter").and_then(Value::as_u64).unwrap_or(0);
            heads.insert(log, (head, counter));
        }
        Ok(heads)
    }

    fn envelopes(
        &mut self,
        _ix: NodeIx,
        _thread: &ThreadId,
        _log: &LogId,
        _from: usize,
    ) -> Result<Option<Vec<Envelope>>> {
        Ok(None)
    }

    fn holds_read_key(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<bool>> {
        if !self.caps.acl {
            return Ok(None);
        }
        let p = params([("thread", json!(thread.to_string()))]);
        let result = self.call_node("node.keys", ix, p)?;
        Ok(Some(result.get("readKey").is_some_and(|k| !k.is_null())))
    }

    fn read(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<ReadOutcome> {
        let p = params([("thread", json!(thread.to_string()))]);
        let result = match self.call_node("node.read", ix, p) {
            Ok(result) => result,
            Err(SimError::Refused { code, .. }) => return Ok(Err(code)),
            Err(e) => return Err(e),
        };
        let events = result
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| adapter_error("node.read gave no events array"))?;
        let shown = events
            .iter()
            .map(|e| {
                let seq = e.get("seq").and_then(Value::as_u64).unwrap_or(0);
                Ok((parse(e, "log")?, seq))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Ok(shown))
    }

    fn follow_key(&mut self, _ix: NodeIx, _thread: &ThreadId) -> Result<Option<FollowKey>> {
        Ok(None)
    }
}

impl Drop for ImplCluster {
    fn drop(&mut self) {
        // Best effort: ask the adapter to exit (HP-42); the process is killed on drop anyway.
        let _ = self
            .process
            .request("shutdown", json!({}), Duration::from_secs(1));
    }
}
