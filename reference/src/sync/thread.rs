//! One thread as a peer holds it: its key book entry, its logs (the head book) and its peers
//! (spec/sync.md, [SYNC-9], [SYNC-11]).

use std::collections::{BTreeMap, BTreeSet};

use cid::Cid;

use super::auth::Members;
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::log::LogReplica;

/// One thread as a peer holds it.
pub(super) struct ThreadState {
    pub keys: KeySet,
    /// The identity key of this peer's own log in the thread, if it writes one.
    pub writer: Option<IdentityKey>,
    /// A replica of every log the peer knows, by log ID.
    pub logs: BTreeMap<LogId, LogReplica>,
    /// Peers to push new records to, exchange heads with, and pull from [SYNC-4].
    pub peers: BTreeSet<LogId>,
    /// Access-controlled threads: where the genesis is [ACL-11].
    pub acl: Option<GenesisRef>,
    /// Who proved membership, and what unproven peers named; memory only [SYNC-20].
    pub members: Members,
}

/// Which record is an access-controlled thread's genesis, as the peer knows it [ACL-11]: seq 1 of
/// the creator's log, and its CID when an invite's anchor named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GenesisRef {
    pub creator: LogId,
    pub genesis: Option<Cid>,
}

impl ThreadState {
    /// The replica of `log`, created empty if the peer did not know the log.
    pub fn replica(&mut self, thread: &ThreadId, log: LogId) -> &mut LogReplica {
        self.logs
            .entry(log)
            .or_insert_with(|| LogReplica::new(thread.clone(), log))
    }

    /// The counter of `log`, 0 if unknown [LOG-2].
    pub fn counter(&self, log: &LogId) -> u64 {
        self.logs.get(log).map_or(0, LogReplica::counter)
    }

    /// The counter of every log, in log order: the body of a `heads` message [SYNC-8].
    pub fn counters(&self) -> Vec<(LogId, u64)> {
        self.logs
            .iter()
            .map(|(log, replica)| (*log, replica.counter()))
            .collect()
    }
}
