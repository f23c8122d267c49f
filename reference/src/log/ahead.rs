//! Verdicts computed ahead, off the driver's thread [SYNC-31].
//!
//! Checking a record [VERIFY-1] (and opening it for a reader [VERIFY-2]) reads nothing but the
//! envelope, the thread, the log and the key set, so it can run before the message that carries
//! the record is decided, on another core, while the driver stores the messages before it. A
//! driver asks the peer for an [`AheadJob`] when a `records` message arrives
//! ([`crate::sync::Peer::verify_ahead`]), runs it on a worker thread, and hands the
//! [`AheadVerdicts`] back with the message ([`crate::sync::Peer::handle_message_verified`]).
//! Each verdict is keyed by every input byte of the check, as [`crate::verify::memoised`] keys
//! its own, so a verdict is used only for exactly the inputs it was computed from; a record
//! whose keys changed in between, or that no verdict covers, is checked when it is decided, as
//! without this module. The decisions, their order and their error codes are therefore the same
//! whether a verdict came ahead or not: only which core computed it differs.

use std::collections::HashMap;

use super::{Opened, check_record};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::{LogId, ThreadId};
use crate::keys::KeySet;
use crate::verify::VerifiedRecord;

/// A record's verdict: verified, and what a reader opened of it [VERIFY-1], [VERIFY-2].
pub(crate) type Verdict = Result<(VerifiedRecord, Opened)>;

/// The checks of one message's records, to run on any thread [SYNC-31].
#[derive(Debug)]
pub struct AheadJob {
    thread: ThreadId,
    log: LogId,
    keys: KeySet,
    envelopes: Vec<Envelope>,
}

/// What an [`AheadJob`] found: each record's verdict under the exact inputs it was checked with.
#[derive(Debug, Default)]
pub struct AheadVerdicts {
    verdicts: HashMap<Vec<u8>, Verdict>,
}

impl AheadJob {
    pub(crate) fn new(
        thread: ThreadId,
        log: LogId,
        keys: KeySet,
        envelopes: Vec<Envelope>,
    ) -> AheadJob {
        AheadJob {
            thread,
            log,
            keys,
            envelopes,
        }
    }

    /// The records to check.
    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }

    /// Checks every record [VERIFY-1], [VERIFY-2]; pure, so it may run on any thread.
    pub fn run(self) -> AheadVerdicts {
        let verdicts = self
            .envelopes
            .iter()
            .map(|envelope| {
                (
                    key(&self.thread, &self.log, &self.keys, envelope),
                    check_record(&self.thread, &self.log, &self.keys, envelope),
                )
            })
            .collect();
        AheadVerdicts { verdicts }
    }
}

impl AheadVerdicts {
    /// The verdict computed ahead for exactly these inputs, if any; each is handed out once.
    pub(crate) fn take(
        &mut self,
        thread: &ThreadId,
        log: &LogId,
        keys: &KeySet,
        envelope: &Envelope,
    ) -> Option<Verdict> {
        if self.verdicts.is_empty() {
            return None;
        }
        self.verdicts.remove(&key(thread, log, keys, envelope))
    }

    /// Adds the verdicts of `other`.
    pub(crate) fn absorb(&mut self, other: AheadVerdicts) {
        if self.verdicts.is_empty() {
            self.verdicts = other.verdicts;
        } else {
            self.verdicts.extend(other.verdicts);
        }
    }

    /// How many verdicts are left.
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    /// Whether none is left.
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

/// Every input byte of the checks, each part prefixed with its length so that no two different
/// inputs make one key; a follower's key set and a reader's differ by the read key's part.
fn key(thread: &ThreadId, log: &LogId, keys: &KeySet, envelope: &Envelope) -> Vec<u8> {
    let read = keys.read.as_ref().map_or(&[][..], |k| &k.as_bytes()[..]);
    let parts: [&[u8]; 9] = [
        thread.as_bytes(),
        &log.to_bytes(),
        keys.follow.as_bytes(),
        &[u8::from(keys.read.is_some())],
        read,
        &envelope.record,
        &envelope.event,
        &envelope.header,
        &envelope.body,
    ];
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for part in parts {
        key.extend_from_slice(&(part.len() as u64).to_le_bytes());
        key.extend_from_slice(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::id::Variant;
    use crate::log::{Decided, LogReplica};
    use crate::sync::Peer;
    use rand_core::SeedableRng;

    /// A log of 40 records, the 13th tampered with, its thread and log, and the reader's keys.
    fn tampered_log() -> (ThreadId, LogId, KeySet, Vec<Envelope>) {
        let mut writer = Peer::from_seed([21; 32]);
        let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
        for i in 0..40u32 {
            writer.append(1, &thread, &i.to_be_bytes()).expect("append");
        }
        let mut envelopes = writer.envelopes(&thread, &log).expect("log").to_vec();
        envelopes[12].body[0] ^= 1;
        let keys = writer.keys(&thread).expect("keys").clone();
        (thread, log, keys, envelopes)
    }

    fn outcome(decided: &Decided) -> (usize, u64, Vec<(usize, ErrorCode)>) {
        let rejected = decided.rejected.iter().map(|(i, e)| (*i, e.code)).collect();
        (decided.appended.len(), decided.counter, rejected)
    }

    /// Verdicts computed ahead are all used, and decide exactly as checking inline does, the
    /// tampered record's rejection and code included; as a follower and as a reader [SYNC-31].
    #[test]
    fn verdicts_computed_ahead_decide_exactly_as_inline() {
        let (thread, log, reader, envelopes) = tampered_log();
        let follower = KeySet {
            follow: reader.follow.clone(),
            read: None,
        };
        for keys in [follower, reader] {
            let inline =
                LogReplica::new(thread.clone(), log).decide_on(&keys, envelopes.clone(), 1);
            let job = AheadJob::new(thread.clone(), log, keys.clone(), envelopes.clone());
            assert_eq!(job.len(), 40);
            let mut given = job.run();
            assert_eq!(given.len(), 40);
            let ahead = LogReplica::new(thread.clone(), log).decide_given(
                &keys,
                envelopes.clone(),
                1,
                &crate::log::nothing_older,
                &mut given,
            );
            assert!(given.is_empty(), "every verdict was used");
            assert_eq!(outcome(&ahead), outcome(&inline));
            assert_eq!(ahead.appended, inline.appended);
            assert_eq!(outcome(&inline).0, 12, "decided up to the tampered record");
        }
    }

    /// A verdict is used only for the inputs it was computed from: under other keys, or for
    /// another log, nothing is taken and the records are checked where they are decided.
    #[test]
    fn a_verdict_for_other_inputs_is_never_used() {
        let (thread, log, keys, envelopes) = tampered_log();
        let job = AheadJob::new(thread.clone(), log, keys.clone(), envelopes[..5].to_vec());
        let mut given = job.run();
        let other = KeySet::generate(&mut rand_chacha::ChaCha20Rng::from_seed([5; 32]));
        assert!(given.take(&thread, &log, &other, &envelopes[0]).is_none());
        let stranger = Peer::from_seed([22; 32]).id();
        assert!(
            given
                .take(&thread, &stranger, &keys, &envelopes[0])
                .is_none()
        );
        assert!(given.take(&thread, &log, &keys, &envelopes[5]).is_none());
        assert_eq!(given.len(), 5);
        assert!(given.take(&thread, &log, &keys, &envelopes[0]).is_some());
        assert!(
            given.take(&thread, &log, &keys, &envelopes[0]).is_none(),
            "once"
        );
    }
}
