//! Nodes of any implementation, driven through its adapter over the harness protocol
//! (spec/harness-protocol.md, H.9): `--impl 'CMD'`.
//!
//! All the nodes of a run live in one adapter process [HP-27]. The simulator plays the network
//! between them exactly as the harness's pump does [HP-44], but with the faults and the clock of
//! the scenario. What the protocol does not show cannot be checked: the stored envelopes are not
//! visible, so "every stored record verifies" is checked through the heads (a node's head CID at
//! each counter must be the writer's record at that position, which commits to every byte of it);
//! crash and restart have no method, so scenarios that need them are skipped; clock ticks need the
//! optional method `node.tick` (capability `ticks`, [HP-51]).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use threads::Cid;
use threads::acl::Roles;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::FollowKey;
use threads_harness::protocol::{
    self, AclChanged, AclSet, Appended, Call, Collected, Empty, Events, Heads, Hex, InviteAccept,
    InviteAccepted, InviteExport, InviteExported, Keys, LogAppend, NodeAt, NodeCreate, NodeCreated,
    NodeDeliver, NodeOnly, NodeThread, ThreadCreate, ThreadCreated,
};
use threads_harness::runner::client::{AdapterProcess, Hello};

use super::{Caps, Cluster, Heads as NodeHeads, Out, ReadOutcome};
use crate::error::{Result, SimError};
use crate::plan::{NodeIx, NodeSpec};

/// How long one request may take (the harness's default case timeout, [HP-19]).
const TIMEOUT: Duration = Duration::from_secs(10);

/// The nodes of one adapter process.
pub struct ImplCluster {
    process: AdapterProcess,
    names: Vec<String>,
    by_name: BTreeMap<String, NodeIx>,
    caps: Caps,
    /// Whether `ticks` is settled (listed in `hello`, or probed on the first node).
    ticks_known: bool,
    /// Per node: the time of its last collect, and the `wakeAt` it reported then [HP-52].
    wakes: BTreeMap<NodeIx, (u64, Option<u64>)>,
}

/// How often a node whose adapter reports no `wakeAt` is ticked, in its clock's milliseconds: the
/// polling [HP-52] allows, well below the first retry delay (1 s, [SYNC-10]).
pub const POLL_MS: u64 = 100;

fn adapter_error(e: impl std::fmt::Display) -> SimError {
    SimError::Adapter(e.to_string())
}

/// A text the adapter sent (a peer, log or thread ID, a CID), parsed by the core.
fn parse<T: FromStr>(what: &str, text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    T::from_str(text).map_err(|e| adapter_error(format!("{what} {text}: {e}")))
}

fn cid(text: &str) -> Result<Cid> {
    Cid::try_from(text).map_err(|e| adapter_error(format!("CID {text}: {e}")))
}

/// Whether a scenario that needs `needs` can run over the harness protocol at all: it has no
/// method to crash a node, and the simulator reads the database of in-process peers only.
pub fn can_drive(needs: &crate::plan::Needs) -> bool {
    !needs.crash && !needs.db
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
            wakes: BTreeMap::new(),
        };
        let hello = cluster.request(&Hello::call())?;
        let hello = Hello::from_result(&hello).map_err(adapter_error)?;
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
            db: false,
        };
        Ok(cluster)
    }

    /// One request; an error reply is [`SimError::Refused`] with its code.
    fn request(&mut self, call: &Call) -> Result<Value> {
        match self.process.request(call, TIMEOUT) {
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

    /// One request whose result has the type of H.9.
    fn call<R: protocol::MethodResult>(&mut self, call: Call) -> Result<R> {
        let result = self.request(&call)?;
        protocol::result_as(&result)
            .map_err(|why| adapter_error(format!("{} gave {result}: {why}", call.method())))
    }

    fn name(&self, ix: NodeIx) -> Result<String> {
        self.names
            .get(ix)
            .cloned()
            .ok_or_else(|| SimError::Usage(format!("no node {ix}")))
    }

    /// A node and a thread, the params of the node's queries.
    fn on(&self, ix: NodeIx, thread: &ThreadId) -> Result<NodeThread> {
        Ok(NodeThread {
            node: self.name(ix)?,
            thread: thread.to_string(),
        })
    }

    fn at(&self, ix: NodeIx, time: u64) -> Result<NodeAt> {
        Ok(NodeAt {
            node: self.name(ix)?,
            time,
        })
    }

    /// An adapter that does not list `ticks` may still implement `node.tick`: the reference
    /// adapter's `hello` is outside what the simulator may change, so the first node is asked
    /// once, and UNSUPPORTED settles it ([HP-13] makes that the reply to an unknown method).
    fn probe_ticks(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        if self.ticks_known {
            return Ok(());
        }
        self.ticks_known = true;
        let probe = self.call::<Empty>(Call::NodeTick(self.at(ix, time)?));
        self.caps.ticks = match probe {
            Ok(_) => true,
            Err(SimError::Refused { code, .. }) if code == "UNSUPPORTED" => false,
            Err(e) => return Err(e),
        };
        Ok(())
    }
}

impl Cluster for ImplCluster {
    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn add_node(&mut self, spec: &NodeSpec, seed: [u8; 32]) -> Result<LogId> {
        let ix = self.names.len();
        self.names.push(spec.name.clone());
        self.by_name.insert(spec.name.clone(), ix);
        let created: NodeCreated = self.call(Call::NodeCreate(NodeCreate {
            node: spec.name.clone(),
            seed: Hex(seed.to_vec()),
        }))?;
        let id = parse("peer", &created.peer)?;
        self.probe_ticks(ix, crate::plan::T0)?;
        Ok(id)
    }

    fn create_thread(
        &mut self,
        ix: NodeIx,
        variant: Variant,
        time: u64,
    ) -> Result<(ThreadId, LogId)> {
        let created: ThreadCreated = self.call(Call::ThreadCreate(ThreadCreate {
            node: self.name(ix)?,
            variant,
            time,
        }))?;
        Ok((
            parse("thread", &created.thread)?,
            parse("log", &created.log)?,
        ))
    }

    fn append(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)> {
        let appended: Appended = self.call(Call::LogAppend(LogAppend {
            node: self.name(ix)?,
            thread: thread.to_string(),
            body: Hex::from(body),
            time,
        }))?;
        Ok((
            parse("log", &appended.log)?,
            appended.seq,
            cid(&appended.record_cid)?,
        ))
    }

    fn invite(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        role: InviteRole,
        recipient: NodeIx,
    ) -> Result<Vec<u8>> {
        let exported: InviteExported = self.call(Call::InviteExport(InviteExport {
            node: self.name(ix)?,
            thread: thread.to_string(),
            role,
            recipient: self.name(recipient)?,
        }))?;
        Ok(exported.invite.0)
    }

    fn join(&mut self, ix: NodeIx, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)> {
        let accepted: InviteAccepted = self.call(Call::InviteAccept(InviteAccept {
            node: self.name(ix)?,
            invite: Hex::from(invite),
            time,
        }))?;
        Ok((parse("thread", &accepted.thread)?, accepted.role))
    }

    fn set_roles(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        peer: NodeIx,
        roles: Roles,
        time: u64,
    ) -> Result<Cid> {
        let changed: AclChanged = self.call(Call::AclSet(AclSet {
            node: self.name(ix)?,
            thread: thread.to_string(),
            peer: self.name(peer)?,
            roles: roles.names().into_iter().map(String::from).collect(),
            time,
        }))?;
        cid(&changed.record_cid)
    }

    fn deliver(&mut self, ix: NodeIx, from: NodeIx, bytes: &[u8], time: u64) -> Result<()> {
        let Empty {} = self.call(Call::NodeDeliver(NodeDeliver {
            node: self.name(ix)?,
            from: self.name(from)?,
            message: Hex::from(bytes),
            time,
        }))?;
        Ok(())
    }

    /// The harness protocol carries no publications (adapters leave them out of `node.collect`),
    /// so there is never one to deliver.
    fn deliver_publication(
        &mut self,
        _ix: NodeIx,
        _from: NodeIx,
        _thread: &ThreadId,
        _bytes: &[u8],
        _time: u64,
    ) -> Result<()> {
        Ok(())
    }

    fn wake(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        if !self.caps.ticks {
            return Err(SimError::Unsupported("node.tick".into()));
        }
        let Empty {} = self.call(Call::NodeTick(self.at(ix, time)?))?;
        Ok(())
    }

    /// The `wakeAt` the node reported at its last collect, or [`POLL_MS`] after that collect
    /// when it reports none [HP-52].
    fn next_wake(&mut self, ix: NodeIx) -> Result<Option<u64>> {
        Ok(self
            .wakes
            .get(&ix)
            .map(|(last, wake_at)| wake_at.unwrap_or(last.saturating_add(POLL_MS))))
    }

    fn take(&mut self, ix: NodeIx, time: u64) -> Result<Vec<Out>> {
        let collected: Collected = self.call(Call::NodeCollect(self.at(ix, time)?))?;
        self.wakes.insert(ix, (time, collected.wake_at));
        Ok(collected
            .messages
            .into_iter()
            .map(|m| Out::Send {
                to: self.by_name.get(&m.to).copied().ok_or(m.to),
                bytes: m.message.0,
            })
            .collect())
    }

    fn stop(&mut self, ix: NodeIx) -> Result<()> {
        let Empty {} = self.call(Call::NodeStop(NodeOnly {
            node: self.name(ix)?,
        }))?;
        Ok(())
    }

    fn crash(&mut self, _ix: NodeIx) -> Result<()> {
        Err(SimError::Unsupported(
            "the harness protocol cannot crash a node".into(),
        ))
    }

    fn restart(&mut self, _ix: NodeIx, _time: u64) -> Result<()> {
        Err(SimError::Unsupported(
            "the harness protocol cannot restart a node".into(),
        ))
    }

    fn heads(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<NodeHeads> {
        let heads: Heads = match self.call(Call::NodeHeads(self.on(ix, thread)?)) {
            Ok(heads) => heads,
            Err(SimError::Refused { code, .. }) if code == "KEY_UNAVAILABLE" => {
                return Ok(NodeHeads::new());
            }
            Err(e) => return Err(e),
        };
        heads
            .logs
            .into_iter()
            .map(|(log, entry)| {
                let head = entry.head.as_deref().map(cid).transpose()?;
                Ok((parse("log", &log)?, (head, entry.counter)))
            })
            .collect()
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
        let keys: Keys = self.call(Call::NodeKeys(self.on(ix, thread)?))?;
        Ok(Some(keys.read_key.is_some()))
    }

    fn read(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<ReadOutcome> {
        let read: Events = match self.call(Call::NodeRead(self.on(ix, thread)?)) {
            Ok(read) => read,
            Err(SimError::Refused { code, .. }) => return Ok(Err(code)),
            Err(e) => return Err(e),
        };
        let shown = read
            .events
            .into_iter()
            .map(|e| Ok((parse("log", &e.log)?, e.seq)))
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
            .request(&Call::Shutdown(Empty {}), Duration::from_secs(1));
    }
}
