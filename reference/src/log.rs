//! Single-writer logs (spec/logs.md §4): heads, counters, and the acceptance decision for each
//! verified record — appended, duplicate, fork, broken link or gap.

use cid::Cid;
use rand_core::CryptoRng;

use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::record::{self, Author, Position};
use crate::verify::{VerifiedRecord, verify_follower};

/// What accepting a verified record did to the log [LOG-3], [LOG-4].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The record was the next one; head and counter advanced [LOG-3].
    Appended,
    /// The log already holds this record at this position; nothing changed [LOG-4].
    Duplicate,
}

/// One log's chain as a peer holds it: record CIDs by position [LOG-2].
///
/// The log only ever grows by one verified, correctly linked record at a time [LOG-8], so it is
/// always a prefix of the writer's log (unless the writer forks, which [`Log::accept`] reports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// `records[i]` is the CID of the record with seq `i + 1`.
    records: Vec<Cid>,
}

impl Log {
    /// An empty log: no head, counter 0 [LOG-2].
    pub fn new() -> Log {
        Log::default()
    }

    /// CID of the latest record, `None` for an empty log [LOG-2].
    pub fn head(&self) -> Option<&Cid> {
        self.records.last()
    }

    /// The head's seq: how many records the log holds [LOG-2].
    pub fn counter(&self) -> u64 {
        self.records.len() as u64
    }

    /// The CID of the record at `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&Cid> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.records.get(index)
    }

    /// Every record CID in log order.
    pub fn records(&self) -> &[Cid] {
        &self.records
    }

    /// The position a writer's next record takes [LOG-1].
    pub fn next_position(&self) -> Position {
        Position {
            seq: self.counter() + 1,
            prev: self.head().copied(),
        }
    }

    /// Decides what a verified record does to this log [LOG-3]..[LOG-7]; a rejected record changes
    /// nothing [LOG-8].
    pub fn accept(&mut self, record: &VerifiedRecord) -> Result<Accepted> {
        let (seq, counter) = (record.seq(), self.counter());
        if seq <= counter {
            return match self.get(seq) {
                Some(held) if held == record.cid() => Ok(Accepted::Duplicate),
                held => Err(Error::new(
                    ErrorCode::LogFork,
                    format!(
                        "seq {seq} is held as {} but the writer also signed {}",
                        held.map(Cid::to_string).unwrap_or_default(),
                        record.cid()
                    ),
                )),
            };
        }
        if seq > counter + 1 {
            return Err(Error::new(
                ErrorCode::LogGap,
                format!(
                    "seq {seq} arrived but the log's counter is {counter}; records are missing"
                ),
            ));
        }
        if record.prev() != self.head() {
            return Err(Error::new(
                ErrorCode::LogBrokenLink,
                format!(
                    "seq {seq} links prev {} but the head is {}",
                    fmt_link(record.prev()),
                    fmt_link(self.head())
                ),
            ));
        }
        self.records.push(*record.cid());
        Ok(Accepted::Appended)
    }
}

fn fmt_link(cid: Option<&Cid>) -> String {
    cid.map_or_else(|| "none".to_string(), Cid::to_string)
}

/// A writer's own log: seals events at the next position and keeps head and counter [LOG-1].
pub struct LogWriter {
    thread: ThreadId,
    identity: IdentityKey,
    keys: KeySet,
    log: Log,
}

impl LogWriter {
    /// A writer for a new, empty log; `keys` must hold the read key [KEY-6].
    pub fn new(thread: ThreadId, identity: IdentityKey, keys: KeySet) -> Result<LogWriter> {
        keys.read_key()?;
        Ok(LogWriter {
            thread,
            identity,
            keys,
            log: Log::new(),
        })
    }

    /// The log being written.
    pub fn id(&self) -> LogId {
        self.identity.log_id()
    }

    /// The log's chain so far.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Seals `body` as the next event and appends it [LOG-1], [LOG-3].
    ///
    /// The writer verifies its own envelope like any follower would, so a writer can never append
    /// a record its followers would reject.
    pub fn append(&mut self, body: &[u8], time: u64, rng: &mut impl CryptoRng) -> Result<Envelope> {
        let read = self.keys.read_key()?;
        let author = Author {
            thread: &self.thread,
            identity: &self.identity,
            follow: &self.keys.follow,
            read,
        };
        let envelope = record::create(&author, self.log.next_position(), body, time, rng);
        let verified = verify_follower(&envelope, &self.thread, &self.id(), &self.keys.follow)?;
        self.log.accept(&verified)?;
        Ok(envelope)
    }
}
