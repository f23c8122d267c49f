//! Ground truth: every record the writers created, in order, as the simulator saw them being
//! written, and every revocation with its cut. The invariants compare what each peer holds with it.

use std::collections::BTreeMap;

use threads::Cid;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::keys::FollowKey;

use crate::plan::NodeIx;

/// One log as its writer wrote it.
#[derive(Debug, Clone, Default)]
pub struct TruthLog {
    /// The node that writes it.
    pub writer: NodeIx,
    /// Each record's CID, by position (seq − 1).
    pub cids: Vec<Cid>,
    /// Each record's envelope, where the nodes show them (in-process nodes).
    pub envelopes: Vec<Envelope>,
}

/// A revocation of write: records of `log` beyond `cut` are refused by every reader that holds
/// the change [ACL-7].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked writer's log (in an access-controlled thread, its peer ID).
    pub log: LogId,
    /// The cut: the revoked log's counter at the admin when it revoked.
    pub cut: u64,
    /// The admin's log, which carries the change.
    pub admin_log: LogId,
    /// The change's position in the admin's log.
    pub seq: u64,
}

/// Everything written in the run.
#[derive(Default)]
pub struct Truth {
    /// By thread, then log.
    pub logs: BTreeMap<ThreadId, BTreeMap<LogId, TruthLog>>,
    /// Each thread's follow key, to verify what peers store.
    pub follow: BTreeMap<ThreadId, FollowKey>,
    /// Revocations, by thread.
    pub revocations: BTreeMap<ThreadId, Vec<Revocation>>,
}

impl Truth {
    /// The log, if a writer wrote it.
    pub fn log(&self, thread: &ThreadId, log: &LogId) -> Option<&TruthLog> {
        self.logs.get(thread).and_then(|logs| logs.get(log))
    }

    /// The number of records written to the log.
    pub fn len(&self, thread: &ThreadId, log: &LogId) -> u64 {
        self.log(thread, log).map_or(0, |l| l.cids.len() as u64)
    }

    /// Records a new record of `log`, written by `writer`.
    pub fn push(
        &mut self,
        thread: &ThreadId,
        log: LogId,
        writer: NodeIx,
        cid: Cid,
        envelope: Option<Envelope>,
    ) {
        let entry = self
            .logs
            .entry(thread.clone())
            .or_default()
            .entry(log)
            .or_insert_with(|| TruthLog {
                writer,
                ..TruthLog::default()
            });
        entry.cids.push(cid);
        entry.envelopes.extend(envelope);
    }

    /// Total records written, over every thread.
    pub fn records(&self) -> u64 {
        self.logs
            .values()
            .flat_map(|logs| logs.values())
            .map(|l| l.cids.len() as u64)
            .sum()
    }
}
