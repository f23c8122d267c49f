//! One thread as a peer holds it: its key book entry, its logs (the head book) and its peers
//! (spec/sync.md, [SYNC-9], [SYNC-11]), and the description a peer stores for it [SYNC-12].

use std::collections::{BTreeMap, BTreeSet};

use std::str::FromStr;

use cid::Cid;
use multiaddr::{Multiaddr, Protocol};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::acl::{Acl, AclEventRef, Genesis};
use crate::block;
use crate::book::AddrBook;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::log::{Accepted, Log};
use crate::verify::{self, OpenedEvent, VerifiedRecord};

use super::message::{MAX_BATCH_BYTES, PULL_LIMIT};

/// One thread as a peer holds it.
pub(super) struct ThreadState {
    pub keys: KeySet,
    /// The identity key of this peer's own log in the thread, if it writes one.
    pub writer: Option<IdentityKey>,
    pub logs: BTreeMap<LogId, StoredLog>,
    /// Peers to push new records to, exchange heads with, and pull from [SYNC-4].
    pub peers: BTreeSet<LogId>,
    /// Access-controlled threads: where the genesis is, and the ACL events read so far.
    pub acl: Option<AclEvents>,
}

/// What a reader of an access-controlled thread knows of its ACL [ACL-6], [ACL-11].
pub(super) struct AclEvents {
    pub creator: LogId,
    pub genesis: Cid,
    pub events: BTreeMap<Cid, AclEventRef>,
}

impl AclEvents {
    /// The ACL as of the events read so far; `None` until the genesis record is read [ACL-4].
    pub fn current(&self, thread: &ThreadId) -> Option<Acl> {
        let genesis = self.events.get(&self.genesis)?;
        if genesis.author != self.creator {
            return None;
        }
        let genesis = Genesis::new(thread, genesis).ok()?;
        Some(Acl::from_events(genesis, self.events.values().cloned()))
    }
}

/// A log's chain and the envelopes that make it up, for serving.
#[derive(Default)]
pub(super) struct StoredLog {
    pub chain: Log,
    pub envelopes: Vec<Envelope>,
    /// The CIDs of the records held, so a duplicate is dropped before it costs a verification.
    pub known: BTreeSet<Cid>,
    /// For readers, each envelope opened once on arrival [VERIFY-2]; `None` where the header or
    /// body does not open (the record still belongs to its log) or for a follower.
    pub opened: Vec<Option<OpenedEvent>>,
}

impl StoredLog {
    pub fn counter(&self) -> u64 {
        self.chain.counter()
    }
}

/// The answer to a pull [SYNC-5]: the envelopes of `held` (a log's records from seq 1) after seq
/// `after`, oldest first, at most min(`limit`, [`PULL_LIMIT`]) of them and no more than
/// [`MAX_BATCH_BYTES`] unless the first alone is larger.
pub fn serve_pull(held: &[Envelope], after: u64, limit: u64) -> Vec<Envelope> {
    let start = usize::try_from(after).unwrap_or(usize::MAX).min(held.len());
    let limit = usize::try_from(limit.min(PULL_LIMIT)).unwrap_or(usize::MAX);
    let mut bytes = 0usize;
    held[start..]
        .iter()
        .take(limit)
        .take_while(|e| {
            let first = bytes == 0;
            bytes = bytes.saturating_add(envelope_size(e));
            first || bytes <= MAX_BATCH_BYTES
        })
        .cloned()
        .collect()
}

/// Where to pull from next after deciding a `records` message [SYNC-7]: after this peer's
/// `counter`, if the sender's `sender_counter` is ahead of it.
pub fn pull_after(sender_counter: u64, counter: u64) -> Option<u64> {
    (sender_counter > counter).then_some(counter)
}

/// How a peer decided the records of one `records` message [SYNC-6], [SYNC-7].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// The records appended, in order.
    pub appended: Vec<Envelope>,
    /// How many were already held [LOG-4].
    pub duplicates: u64,
    /// Each dropped record's index in the message and why [VERIFY-3], [LOG-5], [LOG-6].
    pub rejected: Vec<(usize, ErrorCode)>,
    /// The index of the first record beyond the next position, where deciding stopped [LOG-7].
    pub gap: Option<usize>,
    /// The log's counter afterwards.
    pub counter: u64,
}

/// Decides `incoming`, the records of one `records` message for `log`, at a peer that holds
/// `held` (the log's records from seq 1) and `keys` [SYNC-6], [SYNC-7], [SYNC-11]: the same
/// decisions a [`crate::sync::Peer`] makes. Fails if `held` itself does not verify and link.
pub fn decide_records(
    thread: &ThreadId,
    log: LogId,
    keys: &KeySet,
    held: &[Envelope],
    incoming: Vec<Envelope>,
) -> Result<Decided> {
    let mut state = ThreadState {
        keys: keys.clone(),
        writer: None,
        logs: BTreeMap::new(),
        peers: BTreeSet::new(),
        acl: None,
    };
    let prefix = state.decide(thread, log, held.to_vec());
    if prefix.appended.len() != held.len() {
        return Err(Error::new(
            ErrorCode::BadRequest,
            "the records said to be held do not verify and link from seq 1",
        ));
    }
    Ok(state.decide(thread, log, incoming))
}

fn envelope_size(e: &Envelope) -> usize {
    e.record.len() + e.event.len() + e.header.len() + e.body.len()
}

/// What admitting one record came to.
pub(super) enum Admitted {
    /// Verified, linked and appended.
    Appended,
    /// Already held: dropped without verification.
    Duplicate,
    /// Beyond the next position: the records before it are missing [LOG-7].
    Gap,
    /// Fails verification, forks or breaks the chain: dropped, never stored [VERIFY-3].
    Rejected(ErrorCode),
}

impl ThreadState {
    /// Verifies `envelope` as a record of `log` and appends it if it is the log's next record.
    ///
    /// Every peer stores and serves every verified, linked record [VERIFY-1], [LOG-3]; the ACL
    /// decides only what is applied [ACL-7]. A reader opens each record once, here; a record
    /// whose header or body does not open is still a valid record of its log, stored and served
    /// but never read. A reader of an access-controlled thread also takes note of the ACL events
    /// it can read [ACL-6].
    pub fn admit(&mut self, thread: &ThreadId, log: LogId, envelope: Envelope) -> Admitted {
        let cid = envelope.record_cid();
        if self.logs.get(&log).is_some_and(|s| s.known.contains(&cid)) {
            return Admitted::Duplicate;
        }
        let opened = match self.keys.read {
            Some(_) => verify::verify_reader(&envelope, thread, &log, &self.keys).ok(),
            None => None,
        };
        let record = match &opened {
            Some(event) => event.record.clone(),
            None => match verify::verify_follower(&envelope, thread, &log, &self.keys.follow) {
                Ok(record) => record,
                Err(e) => return Admitted::Rejected(e.code),
            },
        };
        self.link(log, cid, envelope, &record, opened)
    }

    /// Appends a verified record to its log if it is the next one [LOG-3] to [LOG-7].
    pub fn link(
        &mut self,
        log: LogId,
        cid: Cid,
        envelope: Envelope,
        record: &VerifiedRecord,
        opened: Option<OpenedEvent>,
    ) -> Admitted {
        let stored = self.logs.entry(log).or_default();
        match stored.chain.accept(record) {
            Ok(Accepted::Appended) => {}
            Ok(Accepted::Duplicate) => return Admitted::Duplicate,
            Err(e) if e.code == ErrorCode::LogGap => return Admitted::Gap,
            Err(e) => return Admitted::Rejected(e.code),
        }
        if let (Some(acl), Some(event)) = (self.acl.as_mut(), &opened)
            && let Ok(Some(event)) = AclEventRef::from_opened(event)
        {
            acl.events.insert(event.cid, event);
        }
        stored.known.insert(cid);
        stored.envelopes.push(envelope);
        stored.opened.push(opened);
        Admitted::Appended
    }

    /// Decides the records of one `records` message in order [SYNC-6], [SYNC-7].
    pub fn decide(&mut self, thread: &ThreadId, log: LogId, envelopes: Vec<Envelope>) -> Decided {
        let mut decided = Decided::default();
        for (index, envelope) in envelopes.into_iter().enumerate() {
            match self.admit(thread, log, envelope.clone()) {
                Admitted::Appended => decided.appended.push(envelope),
                Admitted::Duplicate => decided.duplicates += 1,
                Admitted::Gap => {
                    decided.gap = Some(index);
                    break;
                }
                Admitted::Rejected(code) => decided.rejected.push((index, code)),
            }
        }
        decided.counter = self.logs.get(&log).map_or(0, StoredLog::counter);
        decided
    }

    /// The counter of every log, in log order: the body of a `heads` message [SYNC-8].
    pub fn counters(&self) -> Vec<(LogId, u64)> {
        self.logs
            .iter()
            .map(|(log, stored)| (*log, stored.counter()))
            .collect()
    }

    /// The description a peer stores for the thread [SYNC-12]: everything but the records,
    /// with the addresses `book` knows for the thread's peers.
    pub fn describe(&self, book: &AddrBook) -> Vec<u8> {
        block::encode(&Description {
            acl: self.acl.as_ref().map(|acl| AclDescription {
                creator: ByteBuf::from(acl.creator.to_bytes()),
                genesis: ByteBuf::from(acl.genesis.to_bytes()),
            }),
            addrs: self
                .peers
                .iter()
                .flat_map(|peer| book.get(peer))
                .map(|addr| addr.to_string())
                .collect(),
            keys: ByteBuf::from(self.keys.to_bytes()),
            logs: self
                .logs
                .keys()
                .map(|l| ByteBuf::from(l.to_bytes()))
                .collect(),
            peers: self
                .peers
                .iter()
                .map(|p| ByteBuf::from(p.to_bytes()))
                .collect(),
            writer: self
                .writer
                .as_ref()
                .map(|w| ByteBuf::from(w.seed().to_vec())),
        })
    }

    /// A thread from its stored description, with empty logs, and the stored addresses of its
    /// peers; STORE_CORRUPT if it does not decode [SYNC-13].
    pub fn from_description(bytes: &[u8]) -> Result<(ThreadState, Vec<(LogId, Multiaddr)>)> {
        let d: Description = block::decode_canonical(bytes, ErrorCode::StoreCorrupt)?;
        let corrupt = |e: Error| Error::new(ErrorCode::StoreCorrupt, e.to_string());
        let ids = |list: &[ByteBuf]| -> Result<Vec<LogId>> {
            list.iter()
                .map(|b| LogId::from_bytes(b).map_err(corrupt))
                .collect()
        };
        let writer = match &d.writer {
            Some(seed) => Some(IdentityKey::from_seed(seed.as_slice().try_into().map_err(
                |_| {
                    Error::new(
                        ErrorCode::StoreCorrupt,
                        "a stored writer seed is not 32 bytes",
                    )
                },
            )?)),
            None => None,
        };
        let acl = match &d.acl {
            Some(a) => Some(AclEvents {
                creator: LogId::from_bytes(&a.creator).map_err(corrupt)?,
                genesis: Cid::try_from(a.genesis.as_slice()).map_err(|e| {
                    Error::new(ErrorCode::StoreCorrupt, format!("stored genesis link: {e}"))
                })?,
                events: BTreeMap::new(),
            }),
            None => None,
        };
        let addrs = d
            .addrs
            .iter()
            .map(|text| {
                let addr = Multiaddr::from_str(text).ok();
                let peer = addr.as_ref().and_then(|a| match a.iter().last() {
                    Some(Protocol::P2p(peer)) => LogId::try_from(peer).ok(),
                    _ => None,
                });
                addr.zip(peer).map(|(a, p)| (p, a)).ok_or_else(|| {
                    Error::new(ErrorCode::StoreCorrupt, format!("stored address {text}"))
                })
            })
            .collect::<Result<_>>()?;
        let state = ThreadState {
            keys: KeySet::from_bytes(&d.keys).map_err(corrupt)?,
            writer,
            logs: ids(&d.logs)?
                .into_iter()
                .map(|l| (l, StoredLog::default()))
                .collect(),
            peers: ids(&d.peers)?.into_iter().collect(),
            acl,
        };
        Ok((state, addrs))
    }
}

/// The stored description of a thread [SYNC-12]; fields in canonical order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    acl: Option<AclDescription>,
    /// Where the thread's peers were last known to be [SYNC-9], as multiaddr text.
    addrs: Vec<String>,
    keys: ByteBuf,
    logs: Vec<ByteBuf>,
    peers: Vec<ByteBuf>,
    writer: Option<ByteBuf>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclDescription {
    creator: ByteBuf,
    genesis: ByteBuf,
}
