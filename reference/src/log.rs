//! Single-writer logs (spec/logs.md, chapter 4): heads, counters, and the acceptance decision for
//! each verified record — appended, duplicate, fork, broken link or gap — and [`LogReplica`], a
//! log as a peer holds it: the chain, the envelopes it serves, and what a reader opened of them.
//!
//! Every path that decides records goes through [`LogReplica`]: the sync [`crate::sync::Peer`],
//! the ACL view ([`crate::acl`]) and the vector operations, so they cannot disagree.

use std::collections::BTreeSet;

use cid::Cid;
use rand_core::CryptoRng;

use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::record::{self, Author, Position};
use crate::sync::{MAX_BATCH_BYTES, PULL_LIMIT};
use crate::verify::{self, OpenedEvent, VerifiedRecord};

pub mod ahead;
use ahead::AheadVerdicts;

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
/// A peer whose store keeps the log may hold only its newest CIDs ([`Log::trim`]); it then asks
/// the store for an older one ([`Log::accept_or`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// How many records precede `records[0]`: 0 unless trimmed.
    base: u64,
    /// `records[i]` is the CID of the record with seq `base + i + 1`.
    records: Vec<Cid>,
}

/// Where a trimmed replica finds the CID of a record older than what it holds in memory: the
/// peer's store [SYNC-12]. `Ok(None)` when it holds no record at that seq.
pub type Older<'a> = &'a dyn Fn(u64) -> Result<Option<Cid>>;

/// [`Older`] for a replica that holds every record in memory: nothing older to ask about.
pub fn nothing_older(_seq: u64) -> Result<Option<Cid>> {
    Ok(None)
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
        self.base + self.records.len() as u64
    }

    /// The CID of the record at `seq`, if held in memory.
    pub fn get(&self, seq: u64) -> Option<&Cid> {
        let index = usize::try_from(seq.checked_sub(self.base + 1)?).ok()?;
        self.records.get(index)
    }

    /// The record CIDs held in memory, in log order, from seq [`Log::first_held`]: every one
    /// unless the log was trimmed.
    pub fn records(&self) -> &[Cid] {
        &self.records
    }

    /// The seq of `records()[0]`: 1 unless the log was trimmed.
    pub fn first_held(&self) -> u64 {
        self.base + 1
    }

    /// Forgets all but the newest `keep` CIDs (never the head) [LOG-2]: a peer whose store holds
    /// the log needs only the head to link the next record, and asks the store for older ones.
    pub fn trim(&mut self, keep: usize) {
        let drop = self.records.len().saturating_sub(keep.max(1));
        self.records.drain(..drop);
        self.base += drop as u64;
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
        self.accept_or(record, &nothing_older)
    }

    /// [`Log::accept`] for a log that may be trimmed: the CID of a position before the ones held
    /// in memory comes from `older` [LOG-4], [LOG-5]. Its errors (STORE_FAILED, STORE_CORRUPT)
    /// are returned as they are; a seq the log counts but `older` does not hold is STORE_CORRUPT.
    pub fn accept_or(&mut self, record: &VerifiedRecord, older: Older<'_>) -> Result<Accepted> {
        let (seq, counter) = (record.seq(), self.counter());
        if seq <= counter {
            let held = match self.get(seq) {
                Some(cid) => Some(*cid),
                None if seq > self.base => None,
                None => Some(older(seq)?.ok_or_else(|| {
                    Error::new(
                        ErrorCode::StoreCorrupt,
                        format!("seq {seq} of a log with counter {counter} is not stored"),
                    )
                })?),
            };
            return match held {
                Some(held) if held == *record.cid() => Ok(Accepted::Duplicate),
                held => Err(Error::new(
                    ErrorCode::LogFork,
                    format!(
                        "seq {seq} is held as {} but the writer also signed {}",
                        held.as_ref().map(Cid::to_string).unwrap_or_default(),
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

/// What a reader made of a record it holds [VERIFY-2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// Held without the read key (a follower): verified, never opened [KEY-7].
    Sealed,
    /// Verified and decrypted, once, on arrival.
    Event(Box<OpenedEvent>),
    /// Passed [VERIFY-1] but its header or body does not open: it still belongs to its log and is
    /// stored and served, but never read [SYNC-6].
    Unreadable(Error),
}

impl Opened {
    /// The opened event, if this record was opened.
    pub fn event(&self) -> Option<&OpenedEvent> {
        match self {
            Opened::Event(event) => Some(event),
            Opened::Sealed | Opened::Unreadable(_) => None,
        }
    }
}

/// What admitting one record to a [`LogReplica`] came to [SYNC-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Verified, linked and appended.
    Appended,
    /// Already held: dropped without verification [LOG-4].
    Duplicate,
    /// Beyond the next position: the records before it are missing (LOG_GAP) [LOG-7].
    Gap(Error),
    /// Fails [VERIFY-1], forks or breaks the chain: dropped, never stored [VERIFY-3], [LOG-5],
    /// [LOG-6].
    Rejected(Error),
}

/// How a peer decided the records of one `records` message [SYNC-6], [SYNC-7].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// The records appended, in order.
    pub appended: Vec<Envelope>,
    /// How many were already held [LOG-4].
    pub duplicates: u64,
    /// Each dropped record's index in the message and why [VERIFY-3], [LOG-5], [LOG-6].
    pub rejected: Vec<(usize, Error)>,
    /// The index of the first record beyond the next position, where deciding stopped [LOG-7].
    pub gap: Option<usize>,
    /// The log's counter afterwards.
    pub counter: u64,
}

/// One log of one thread as a peer holds it [LOG-2], [SYNC-6]: the chain of record CIDs, the
/// envelopes in seq order (what the peer stores and serves), and for a reader each record opened
/// once on arrival.
///
/// It only grows by verified records that extend the chain, so it is always a prefix of the
/// writer's log [LOG-8]. A peer whose store holds the log trims it to a window of its newest
/// records ([`LogReplica::trim`]), and reads older ones from the store [SYNC-5], [SYNC-12].
#[derive(Debug, Clone)]
pub struct LogReplica {
    thread: ThreadId,
    log: LogId,
    chain: Log,
    /// The envelopes of seqs `base + 1 ..= counter`: all of them unless trimmed.
    envelopes: Vec<Envelope>,
    base: u64,
    /// The CIDs of `envelopes`, so a duplicate is dropped before it costs a verification.
    known: BTreeSet<Cid>,
    /// `opened[i]` is what became of the record at seq `i + 1` under the read key; a trimmed
    /// follower keeps none.
    opened: Vec<Opened>,
}

impl LogReplica {
    /// An empty replica of `log` in `thread`.
    pub fn new(thread: ThreadId, log: LogId) -> LogReplica {
        LogReplica {
            thread,
            log,
            chain: Log::new(),
            envelopes: Vec::new(),
            base: 0,
            known: BTreeSet::new(),
            opened: Vec::new(),
        }
    }

    /// The log's ID.
    pub fn id(&self) -> LogId {
        self.log
    }

    /// The chain held so far [LOG-2].
    pub fn chain(&self) -> &Log {
        &self.chain
    }

    /// The head's seq: how many records are held [LOG-2].
    pub fn counter(&self) -> u64 {
        self.chain.counter()
    }

    /// The envelopes held in memory, in seq order from seq [`LogReplica::first_held`], as this
    /// peer serves them [SYNC-5]: every one unless trimmed.
    pub fn envelopes(&self) -> &[Envelope] {
        &self.envelopes
    }

    /// The seq of `envelopes()[0]`: 1 unless trimmed.
    pub fn first_held(&self) -> u64 {
        self.base + 1
    }

    /// What became of each held record under the read key, in seq order from seq 1 [VERIFY-2];
    /// empty for a trimmed follower, which opens nothing.
    pub fn opened(&self) -> &[Opened] {
        &self.opened
    }

    /// Keeps in memory only the newest `keep` envelopes (and for a follower, `reader` false, only
    /// the newest `keep` CIDs and no opened entries), once the store holds the rest [SYNC-12]:
    /// pushes and pulls from near the head are still served from memory, older records from the
    /// store. A reader keeps its chain and its opened events, which its application reads
    /// [VERIFY-2].
    pub fn trim(&mut self, keep: usize, reader: bool) {
        let drop = self.envelopes.len().saturating_sub(keep);
        for seq in self.base + 1..=self.base + drop as u64 {
            if let Some(cid) = self.chain.get(seq) {
                self.known.remove(cid);
            }
        }
        self.envelopes.drain(..drop);
        self.base += drop as u64;
        if !reader {
            self.chain.trim(keep);
            self.opened = Vec::new();
        }
    }

    /// Verifies `envelope` as a record of this log under `keys` and appends it if it is the next
    /// one [VERIFY-1], [LOG-3] to [LOG-7].
    ///
    /// Every peer stores and serves every verified, linked record; what is applied is the ACL's
    /// and the application's business [ACL-7]. A reader opens each record once, here [VERIFY-2].
    pub fn admit(&mut self, keys: &KeySet, envelope: Envelope) -> Admitted {
        let cid = envelope.record_cid();
        if self.known.contains(&cid) {
            return Admitted::Duplicate;
        }
        let (record, opened) = match self.verify(keys, &envelope) {
            Ok(verified) => verified,
            Err(e) => return Admitted::Rejected(e),
        };
        self.link(cid, envelope, &record, opened, &nothing_older)
    }

    /// [VERIFY-1], then [VERIFY-2] when `keys` holds the read key.
    fn verify(&self, keys: &KeySet, envelope: &Envelope) -> Result<(VerifiedRecord, Opened)> {
        check_record(&self.thread, &self.log, keys, envelope)
    }

    fn link(
        &mut self,
        cid: Cid,
        envelope: Envelope,
        record: &VerifiedRecord,
        opened: Opened,
        older: Older<'_>,
    ) -> Admitted {
        match self.chain.accept_or(record, older) {
            Ok(Accepted::Appended) => {}
            Ok(Accepted::Duplicate) => return Admitted::Duplicate,
            Err(e) if e.code == ErrorCode::LogGap => return Admitted::Gap(e),
            Err(e) => return Admitted::Rejected(e),
        }
        self.known.insert(cid);
        self.envelopes.push(envelope);
        self.opened.push(opened);
        Admitted::Appended
    }

    /// Decides the records of one `records` message in order, stopping at a gap [SYNC-6],
    /// [SYNC-7].
    pub fn decide(&mut self, keys: &KeySet, envelopes: Vec<Envelope>) -> Decided {
        self.decide_on(keys, envelopes, 1)
    }

    /// [`LogReplica::decide`] with the verifications spread over `threads` threads [SYNC-6].
    ///
    /// For a replica that holds every record in memory; a trimmed one uses
    /// [`LogReplica::decide_with`].
    pub fn decide_on(
        &mut self,
        keys: &KeySet,
        envelopes: Vec<Envelope>,
        threads: usize,
    ) -> Decided {
        self.decide_with(keys, envelopes, threads, &nothing_older)
    }

    /// [`LogReplica::decide_on`] for a replica that may be trimmed: a record at a position
    /// older than those held in memory is verified, then compared with the CID `older` (the
    /// store) holds there: a duplicate, a fork, or, when the store fails, rejected with its
    /// code [LOG-4], [LOG-5], [SYNC-6].
    ///
    /// Every record not already held is verified strictly, each on its own, before any is linked;
    /// the verdicts are then applied in log order exactly as [`LogReplica::decide`] applies them,
    /// so the outcome does not depend on `threads`. Only the wall time does: on `n` cores the
    /// verifications of a batch take about a `n`th of the time. A record beyond a gap is verified
    /// for nothing; a gap is rare and ends the batch, so the waste is bounded by one batch.
    pub fn decide_with(
        &mut self,
        keys: &KeySet,
        envelopes: Vec<Envelope>,
        threads: usize,
        older: Older<'_>,
    ) -> Decided {
        self.decide_given(
            keys,
            envelopes,
            threads,
            older,
            &mut AheadVerdicts::default(),
        )
    }

    /// [`LogReplica::decide_with`], taking each record's verdict from `given` when it holds
    /// one for exactly these inputs, computed ahead on another thread ([`ahead`]), and checking
    /// the others here; the decisions are the same either way [SYNC-31].
    pub fn decide_given(
        &mut self,
        keys: &KeySet,
        envelopes: Vec<Envelope>,
        threads: usize,
        older: Older<'_>,
        given: &mut AheadVerdicts,
    ) -> Decided {
        let cids: Vec<Cid> = envelopes.iter().map(Envelope::record_cid).collect();
        let fresh: Vec<bool> = cids.iter().map(|cid| !self.known.contains(cid)).collect();
        let mut verdicts = self
            .verify_all(keys, &envelopes, &fresh, threads, given)
            .into_iter();
        let mut decided = Decided::default();
        for (index, (envelope, cid)) in envelopes.into_iter().zip(cids).enumerate() {
            let verdict = verdicts.next().flatten();
            let admitted = match verdict {
                _ if self.known.contains(&cid) => Admitted::Duplicate,
                Some(Ok((record, opened))) => {
                    self.link(cid, envelope.clone(), &record, opened, older)
                }
                Some(Err(e)) => Admitted::Rejected(e),
                // Held when the batch began but not now cannot happen: nothing is ever unlinked.
                None => Admitted::Duplicate,
            };
            match admitted {
                Admitted::Appended => decided.appended.push(envelope),
                Admitted::Duplicate => decided.duplicates += 1,
                Admitted::Gap(_) => {
                    decided.gap = Some(index);
                    break;
                }
                Admitted::Rejected(error) => decided.rejected.push((index, error)),
            }
        }
        decided.counter = self.counter();
        decided
    }

    /// The verdict of [`LogReplica::verify`] on each envelope marked in `wanted` (`None` for the
    /// others), in order: from `given` when it was computed ahead, else computed on up to
    /// `threads` threads. Verification reads nothing but the envelope, the log's identity and the
    /// keys, so the verdicts are the same wherever and on however many threads they are computed.
    fn verify_all(
        &self,
        keys: &KeySet,
        envelopes: &[Envelope],
        wanted: &[bool],
        threads: usize,
        given: &mut AheadVerdicts,
    ) -> Vec<Option<Result<(VerifiedRecord, Opened)>>> {
        let mut ahead: Vec<_> = envelopes
            .iter()
            .zip(wanted)
            .map(|(envelope, &wanted)| {
                wanted
                    .then(|| given.take(&self.thread, &self.log, keys, envelope))
                    .flatten()
            })
            .collect();
        let missing: Vec<bool> = wanted
            .iter()
            .zip(&ahead)
            .map(|(&wanted, given)| wanted && given.is_none())
            .collect();
        if !missing.contains(&true) {
            return ahead;
        }
        let computed = self.verify_each(keys, envelopes, &missing, threads);
        for (slot, verdict) in ahead.iter_mut().zip(computed) {
            if verdict.is_some() {
                *slot = verdict;
            }
        }
        ahead
    }

    /// The verdict of [`LogReplica::verify`] on each envelope marked in `wanted` (`None` for the
    /// others), in order, computed here on up to `threads` threads.
    fn verify_each(
        &self,
        keys: &KeySet,
        envelopes: &[Envelope],
        wanted: &[bool],
        threads: usize,
    ) -> Vec<Option<Result<(VerifiedRecord, Opened)>>> {
        let one =
            |(envelope, wanted): (&Envelope, &bool)| wanted.then(|| self.verify(keys, envelope));
        let threads = threads.clamp(1, envelopes.len().div_ceil(MIN_PER_THREAD).max(1));
        if threads == 1 {
            return envelopes.iter().zip(wanted).map(one).collect();
        }
        let per = envelopes.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = envelopes
                .chunks(per)
                .zip(wanted.chunks(per))
                .map(|(part, marks)| {
                    scope.spawn(move || part.iter().zip(marks).map(one).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|part| match part.join() {
                    Ok(verdicts) => verdicts,
                    // A verification never panics on any input (the decoders are fuzzed); if one
                    // did, its records count as unverified and are rejected, never stored.
                    Err(_) => vec![
                        Some(Err(Error::new(
                            ErrorCode::Internal,
                            "a verification thread panicked",
                        )));
                        per
                    ],
                })
                .take(envelopes.len())
                .collect()
        })
    }

    /// The answer to a pull [SYNC-5]: the envelopes after seq `after`, oldest first, at most
    /// min(`limit`, [`PULL_LIMIT`]) of them and no more than [`MAX_BATCH_BYTES`] unless the first
    /// alone is larger. For a replica that holds every record in memory; a trimmed one answers
    /// with [`LogReplica::serve_held`] or from its store.
    pub fn serve_pull(&self, after: u64, limit: u64) -> Vec<Envelope> {
        self.serve_held(after, limit).unwrap_or_default()
    }

    /// [`LogReplica::serve_pull`] from memory, or `None` when the answer starts before the
    /// envelopes held in memory and must be read from the store [SYNC-5].
    pub fn serve_held(&self, after: u64, limit: u64) -> Option<Vec<Envelope>> {
        let start = after.checked_sub(self.base)?;
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.envelopes.len());
        Some(pull_batch(self.envelopes[start..].iter().cloned(), limit))
    }

    /// Seals `body` as this log's next event, written by `identity` (whose log this is) at header
    /// time `time`, and appends it [LOG-1], [REC-5] to [REC-9].
    ///
    /// The writer checks its own record as any reader would, so it never serves one they reject.
    /// KEY_UNAVAILABLE without the read key [KEY-7]; BLOCK_TOO_LARGE, and nothing appended, for a
    /// body too large for one block [REC-4]; INTERNAL if `identity` is not this log's.
    pub fn append_own(
        &mut self,
        identity: &IdentityKey,
        keys: &KeySet,
        body: &[u8],
        time: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<Envelope> {
        let author = self.author(identity, keys)?;
        let envelope = record::create(&author, self.chain.next_position(), body, time, rng);
        match self.admit(keys, envelope.clone()) {
            Admitted::Appended => Ok(envelope),
            Admitted::Rejected(e) if e.code == ErrorCode::BlockTooLarge => Err(e),
            other => Err(Error::new(
                ErrorCode::Internal,
                format!("a record this peer just wrote does not extend its own log: {other:?}"),
            )),
        }
    }

    /// The author of this log's next records: only the log's own identity writes to it
    /// (INTERNAL otherwise), and it needs the read key [KEY-7].
    fn author<'a>(&'a self, identity: &'a IdentityKey, keys: &'a KeySet) -> Result<Author<'a>> {
        if identity.log_id() != self.log {
            return Err(Error::new(
                ErrorCode::Internal,
                "only the log's own identity key writes to it",
            ));
        }
        Ok(Author {
            thread: &self.thread,
            identity,
            follow: &keys.follow,
            read: keys.read_key()?,
        })
    }

    /// Seals each of `bodies` as this log's next events, in order, and appends them all, or none
    /// [LOG-1], [REC-5] to [REC-9], [SYNC-30].
    ///
    /// Each record links the one before it, so they are signed one after the other; the writer's
    /// check of its own records (as in [`LogReplica::append_own`]) runs on up to `threads`
    /// threads, and nothing is linked unless every record passes it. (Linking a checked record
    /// positioned at the head cannot fail; if it did, the prefix before it stays linked and the
    /// error says so: the caller stops, as for any state ahead of its store.) KEY_UNAVAILABLE
    /// without the read key [KEY-7]; BLOCK_TOO_LARGE, and nothing linked, when a body is too large
    /// for one block [REC-4]; INTERNAL if `identity` is not this log's.
    pub fn append_own_batch(
        &mut self,
        identity: &IdentityKey,
        keys: &KeySet,
        bodies: &[Vec<u8>],
        time: u64,
        threads: usize,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<Envelope>> {
        let author = self.author(identity, keys)?;
        let mut position = self.chain.next_position();
        let mut envelopes = Vec::with_capacity(bodies.len());
        let mut checked = Vec::with_capacity(bodies.len());
        let this = &*self;
        // Signing is sequential, checking is not: each chunk is checked on a thread of its own
        // while the next is signed, so the two overlap on a machine with cores to spare.
        let per = if threads > 1 {
            OWN_CHUNK
        } else {
            bodies.len().max(1)
        };
        let verdicts = std::thread::scope(|scope| {
            let mut parts = Vec::new();
            for chunk in bodies.chunks(per) {
                let mut made = Vec::with_capacity(chunk.len());
                for body in chunk {
                    let envelope = record::create(&author, position, body, time, rng);
                    position = Position {
                        seq: position.seq + 1,
                        prev: Some(envelope.record_cid()),
                    };
                    made.push(envelope);
                }
                let check = move || {
                    let verdicts: Vec<_> = made.iter().map(|e| this.verify(keys, e)).collect();
                    (made, verdicts)
                };
                parts.push(if threads > 1 {
                    Ok(scope.spawn(check))
                } else {
                    Err(check())
                });
            }
            parts
                .into_iter()
                .map(|part| match part {
                    Ok(handle) => handle.join().map_err(|_| ()),
                    Err(done) => Ok(done),
                })
                .collect::<Vec<_>>()
        });
        for part in verdicts {
            let Ok((made, verdicts)) = part else {
                return Err(own_record_failed(&"a checking thread panicked"));
            };
            for verdict in verdicts {
                checked.push(verdict.map_err(own_check_failed)?);
            }
            envelopes.extend(made);
        }
        for (envelope, (record, opened)) in envelopes.iter().zip(checked) {
            // Verified and positioned one after the other from the head: each links, unless the
            // record code is wrong, which the writer must not serve.
            let admitted = self.link(
                envelope.record_cid(),
                envelope.clone(),
                &record,
                opened,
                &nothing_older,
            );
            if admitted != Admitted::Appended {
                return Err(own_record_failed(&format!("{admitted:?}")));
            }
        }
        Ok(envelopes)
    }
}

/// The first envelopes of `envelopes` a pull answer carries [SYNC-5]: at most
/// min(`limit`, [`PULL_LIMIT`]), and no more than [`MAX_BATCH_BYTES`] unless the first alone is
/// larger.
pub fn pull_batch(envelopes: impl IntoIterator<Item = Envelope>, limit: u64) -> Vec<Envelope> {
    let limit = usize::try_from(limit.min(PULL_LIMIT)).unwrap_or(usize::MAX);
    let mut bytes = 0usize;
    envelopes
        .into_iter()
        .take(limit)
        .take_while(|e| {
            let first = bytes == 0;
            bytes = bytes.saturating_add(e.size());
            first || bytes <= MAX_BATCH_BYTES
        })
        .collect()
}

/// Why a record this peer just wrote fails its own check: BLOCK_TOO_LARGE when the body given
/// does not fit one block [REC-4] (the caller's input, refused before anything is linked), else
/// INTERNAL.
fn own_check_failed(e: Error) -> Error {
    if e.code == ErrorCode::BlockTooLarge {
        e
    } else {
        own_record_failed(&e)
    }
}

/// INTERNAL: a record this peer just wrote fails its own check.
fn own_record_failed(why: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("a record this peer just wrote does not extend its own log: {why}"),
    )
}

/// Records a writer signs before handing them to a thread to check, in a batch append: small
/// enough that checking starts early, large enough that a thread is worth its start.
const OWN_CHUNK: usize = 128;

/// The fewest records a verification thread is given: below it, starting a thread costs more
/// than the verifications it takes over.
const MIN_PER_THREAD: usize = 8;

/// Where to pull from next after deciding a `records` message [SYNC-7]: after this peer's
/// `counter`, if the sender's `sender_counter` is ahead of it.
pub fn pull_after(sender_counter: u64, counter: u64) -> Option<u64> {
    (sender_counter > counter).then_some(counter)
}

impl LogReplica {
    /// A replica holding `held`, a log's records from seq 1, each verified and linked as on
    /// arrival: how the vector operations set up the peer they ask [SYNC-5], [SYNC-6].
    /// BAD_REQUEST if `held` is not such a log.
    pub fn from_held(
        thread: ThreadId,
        log: LogId,
        keys: &KeySet,
        held: Vec<Envelope>,
    ) -> Result<LogReplica> {
        let mut replica = LogReplica::new(thread, log);
        let count = held.len();
        if replica.decide(keys, held).appended.len() != count {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "the records said to be held do not verify and link from seq 1",
            ));
        }
        Ok(replica)
    }
}

/// [VERIFY-1] of `envelope` as a record of `log` in `thread`, then [VERIFY-2] when `keys` holds
/// the read key: a pure function of its inputs, so it may run on any thread ([`ahead`]).
pub(crate) fn check_record(
    thread: &ThreadId,
    log: &LogId,
    keys: &KeySet,
    envelope: &Envelope,
) -> Result<(VerifiedRecord, Opened)> {
    let record = verify::verify_follower(envelope, thread, log, &keys.follow)?;
    let opened = match keys.read {
        None => Opened::Sealed,
        Some(_) => match verify::open_verified(envelope, &record, keys) {
            Ok(event) => Opened::Event(Box::new(event)),
            Err(e) => Opened::Unreadable(e),
        },
    };
    Ok((record, opened))
}
