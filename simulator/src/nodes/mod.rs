//! The nodes a run drives, behind one interface: in-process reference [`threads::sync::Peer`]s
//! ([`local::LocalCluster`]) or the nodes of an implementation's adapter, driven over the harness
//! protocol ([`subprocess::ImplCluster`], spec/harness-protocol.md), so that a third-party
//! implementation meets the same scenarios and faults.
//!
//! Messages cross this interface as bytes: the simulator carries them, counts them, drops,
//! delays, duplicates and tampers with them, and never needs to understand them.

pub mod local;
pub mod subprocess;

use std::collections::BTreeMap;

use threads::Cid;
use threads::acl::Roles;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::FollowKey;

use crate::error::Result;
use crate::plan::{NodeIx, NodeSpec};

/// Head and counter of every log of a thread, as a node reports them [LOG-2].
pub type Heads = BTreeMap<LogId, (Option<Cid>, u64)>;

/// What a node's `read` gave: `(log, seq)` of every event shown, or the error code's name.
pub type ReadOutcome = std::result::Result<Vec<(LogId, u64)>, String>;

/// Something a node wants done, or told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// A message for one peer: `to` is the node, or the peer's text when it is no node of the run.
    Send {
        /// The recipient.
        to: std::result::Result<NodeIx, String>,
        /// The message bytes.
        bytes: Vec<u8>,
    },
    /// A publication on the thread's topic [SYNC-4], [SYNC-16].
    Publish {
        /// The thread.
        thread: ThreadId,
        /// The message bytes.
        bytes: Vec<u8>,
    },
    /// The node dropped a record that failed verification [SYNC-6].
    Rejected {
        /// The sender, as a node if it is one.
        from: Option<NodeIx>,
        /// The log.
        log: LogId,
        /// The error code's name.
        code: String,
    },
}

/// What the nodes can do; a scenario that needs more is skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    /// The implementation, as its `hello` names it.
    pub implementation: String,
    /// `tick`: retries and head exchange on a clock [SYNC-8], [SYNC-10].
    pub ticks: bool,
    /// Crash and restart from storage [SYNC-13].
    pub crash: bool,
    /// Access-controlled threads, keys and ACL documents (the harness feature `acl`).
    pub acl: bool,
    /// The envelopes a node stores are visible, so that each can be verified [SYNC-6].
    pub envelopes: bool,
    /// The database: edits and view CIDs ([`Cluster::db_edit`], [`Cluster::db_view`]) [DB-11].
    pub db: bool,
}

/// A set of nodes addressed by index, in the order they were added.
///
/// Every method that lets time pass takes the node's local time [HP-29].
pub trait Cluster {
    /// What these nodes support.
    fn caps(&self) -> &Caps;
    /// Adds the next node; its identity and all its randomness come from `seed`.
    fn add_node(&mut self, spec: &NodeSpec, seed: [u8; 32]) -> Result<LogId>;
    /// Creates a thread with the node as its first writer.
    fn create_thread(
        &mut self,
        ix: NodeIx,
        variant: Variant,
        time: u64,
    ) -> Result<(ThreadId, LogId)>;
    /// Appends an event to the node's own log [SYNC-4].
    fn append(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)>;
    /// Exports an invite for `recipient`.
    fn invite(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        role: InviteRole,
        recipient: NodeIx,
    ) -> Result<Vec<u8>>;
    /// Accepts an invite.
    fn join(&mut self, ix: NodeIx, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)>;
    /// Sets `peer`'s roles in an access-controlled thread.
    fn set_roles(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        peer: NodeIx,
        roles: Roles,
        time: u64,
    ) -> Result<Cid>;
    /// Hands the node a message from `from`.
    fn deliver(&mut self, ix: NodeIx, from: NodeIx, bytes: &[u8], time: u64) -> Result<()>;
    /// Hands the node a publication on `thread`'s topic relayed by `from` [SYNC-24].
    fn deliver_publication(
        &mut self,
        ix: NodeIx,
        from: NodeIx,
        thread: &ThreadId,
        bytes: &[u8],
        time: u64,
    ) -> Result<()>;
    /// Wakes the node at `time`, its local time: it does what its timers ask for [SYNC-8],
    /// [SYNC-10] (`Peer::handle_timeout`; `node.tick`, [HP-51]).
    fn wake(&mut self, ix: NodeIx, time: u64) -> Result<()>;
    /// When, in its local time, the node next wants to be woken (`Peer::poll_timeout`); `None`
    /// when it has nothing to wait for.
    fn next_wake(&mut self, ix: NodeIx) -> Result<Option<u64>>;
    /// Everything the node wants sent or published, and what it rejected, since the last call.
    fn take(&mut self, ix: NodeIx, time: u64) -> Result<Vec<Out>>;
    /// Tells the node it went offline; it comes back with its state.
    fn stop(&mut self, ix: NodeIx) -> Result<()>;
    /// Crashes the node: its memory is lost, its store kept.
    fn crash(&mut self, ix: NodeIx) -> Result<()>;
    /// Restarts a crashed node from its store at `time`, its local time [SYNC-13].
    fn restart(&mut self, ix: NodeIx, time: u64) -> Result<()>;
    /// Starts (or stops) watching for a delivery that makes the node store two or more records
    /// in one write, for a crash inside it [SYNC-12]. Nodes that cannot crash never see one.
    fn watch_batches(&mut self, ix: NodeIx, on: bool) -> Result<()> {
        let _ = (ix, on);
        Ok(())
    }
    /// Whether the last delivery, while watched, made the node store a batch.
    fn took_batch(&mut self, ix: NodeIx) -> Result<bool> {
        let _ = ix;
        Ok(false)
    }
    /// The node's heads for the thread (empty if it does not hold it).
    fn heads(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Heads>;
    /// The envelopes of one log the node stores, from position `from` on; `None` when the nodes
    /// do not show them.
    fn envelopes(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        log: &LogId,
        from: usize,
    ) -> Result<Option<Vec<Envelope>>>;
    /// Whether the node holds the thread's read key; `None` when the nodes do not say.
    fn holds_read_key(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<bool>>;
    /// What the node's reader view shows, or the code it refuses with.
    fn read(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<ReadOutcome>;
    /// The thread's follow key as the node holds it, to verify what others store.
    fn follow_key(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<FollowKey>>;
    /// The peers the node files for the thread [SYNC-9]; `None` when the nodes do not say.
    fn peers(&mut self, _ix: NodeIx, _thread: &ThreadId) -> Result<Option<Vec<LogId>>> {
        Ok(None)
    }

    /// Appends one database edit drawn from `pick` [DB-2]: the node writes document or key
    /// `pick` names as its view allows (create or save, delete, put). `None` when the nodes have
    /// no database, or the view refused the edit locally (nothing appended).
    fn db_edit(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        pick: u64,
        time: u64,
    ) -> Result<Option<(LogId, u64, Cid)>> {
        let _ = (ix, thread, pick, time);
        Ok(None)
    }
    /// The node's database view CID of the thread [DB-15]; `None` when the nodes have no
    /// database or the node cannot read the thread.
    fn db_view(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<Cid>> {
        let _ = (ix, thread);
        Ok(None)
    }
}
