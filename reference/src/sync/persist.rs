//! What a peer stores and how it restarts from it (spec/sync.md, [SYNC-12], [SYNC-13]): each
//! thread's description, and each log's envelopes in seq order.

use std::collections::BTreeMap;
use std::str::FromStr;

use cid::Cid;
use multiaddr::{Multiaddr, Protocol};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::Peer;
use super::thread::{GenesisRef, ThreadState};
use crate::acl::AclModel;
use crate::block;
use crate::book::AddrBook;
use crate::db::{DbRecord, Reducer, Scope};
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::log::LogReplica;
use crate::store::{Store, ThreadIndex, ViewRow};

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// Stores the description of `thread` [SYNC-12]; STORE_FAILED stops the peer.
    pub(super) fn save_thread(&mut self, thread: &ThreadId) -> Result<()> {
        let meta = describe(self.state(thread)?, &self.addrs);
        let result = self.store.put_thread(thread.as_bytes(), &meta);
        self.stop_on_failure(result)
    }

    /// Stores `envelopes`, the records of `log` from seq `first` on, in one write [SYNC-12].
    pub(super) fn save_records(
        &mut self,
        thread: &ThreadId,
        log: LogId,
        first: u64,
        envelopes: &[Envelope],
    ) -> Result<()> {
        let bytes: Vec<Vec<u8>> = envelopes.iter().map(Envelope::to_bytes).collect();
        // The records are in memory already: a failure here, like a failed write, leaves memory
        // ahead of the store, so it stops the peer too.
        let result = self.reduce(thread, log, envelopes.len()).and_then(|views| {
            self.store
                .commit(thread.as_bytes(), &log.to_bytes(), first, &bytes, &views)
        });
        self.stop_on_failure(result)?;
        // Stored: what falls out of the window is read from the store from now on.
        if let (Some(window), Some(state)) = (self.store.window(), self.threads.get_mut(thread)) {
            let reader = state.keys.read.is_some();
            if let Some(replica) = state.logs.get_mut(&log) {
                replica.trim(window, reader);
            }
        }
        Ok(())
    }

    /// Registers `reducer` for `thread` [DB-11]: folds every event the peer lets the application
    /// read [DB-13] into it, then checks it against the rows stored for it, or stores them.
    ///
    /// Stored rows are never trusted: the fold from the (verified) events is the view, and the
    /// stored rows, with the fold position, must be exactly its rows, or the store is damaged:
    /// STORE_CORRUPT [SYNC-13]. Without stored rows (a first registration, or records stored while
    /// no reducer ran) the rows are written afresh. From then on every record stored for the
    /// thread runs through the reducer and its changed rows go into the same store write.
    /// DB_EXISTS if a reducer of that name is registered for the thread; KEY_UNAVAILABLE for a
    /// follower [VERIFY-2]; STORE_FAILED stops the peer.
    pub fn register(&mut self, thread: &ThreadId, mut reducer: Box<dyn Reducer>) -> Result<()> {
        self.check_alive()?;
        let name = reducer.name().to_owned();
        if name.is_empty() || name.contains('\0') {
            return Err(Error::new(
                ErrorCode::DbMalformed,
                format!("reducer name {name:?} is empty or holds a NUL"),
            ));
        }
        if self.reducer(thread, &name).is_some() {
            return Err(Error::new(
                ErrorCode::DbExists,
                format!("a reducer {name:?} is registered for thread {thread}"),
            ));
        }
        let events = self.offered(thread, reducer.scope())?;
        let marker = marker(&name);
        let stored = self.take_stored_rows(thread, &name);
        // A reducer that kept a snapshot with its rows starts from it [DB-23]; the rows it then
        // gives are checked below exactly as those of a full fold.
        let prefix = prefixed(&name, b"");
        let own: BTreeMap<Vec<u8>, Vec<u8>> = stored
            .iter()
            .filter_map(|(key, row)| Some((key.strip_prefix(&prefix[..])?.to_vec(), row.clone())))
            .collect();
        if !(stored.contains_key(&marker) && reducer.restore(&own, &events)) {
            for event in &events {
                reducer.apply(event);
            }
        }
        drop((events, own));
        reducer.take_rows();
        let mut rows: BTreeMap<Vec<u8>, Vec<u8>> = reducer
            .rows()
            .into_iter()
            .map(|(key, row)| (prefixed(&name, &key), row))
            .collect();
        rows.insert(marker.clone(), reducer.position().to_be_bytes().to_vec());
        if stored.contains_key(&marker) {
            if let Some(key) = first_difference(&stored, &rows) {
                return Err(stored_err(format!(
                    "the stored view {name:?} of thread {thread} differs from its events at row {}",
                    hex(&key)
                )));
            }
        } else {
            let mut updates: Vec<ViewRow> = stored
                .keys()
                .filter(|key| !rows.contains_key(*key))
                .map(|key| (key.clone(), None))
                .collect();
            updates.extend(rows.into_iter().map(|(key, row)| (key, Some(row))));
            let result = self.store.put_views(thread.as_bytes(), &updates);
            self.stop_on_failure(result)?;
        }
        self.reducers
            .entry(thread.clone())
            .or_default()
            .push(reducer);
        Ok(())
    }

    /// The events of `thread` a reducer of `scope` is offered [DB-13], by log then seq.
    /// KEY_UNAVAILABLE for a follower [VERIFY-2].
    fn offered(&self, thread: &ThreadId, scope: Scope) -> Result<Vec<DbRecord>> {
        let events = match scope {
            Scope::Applied => self.read(thread)?,
            Scope::Opened => {
                let state = self.state(thread)?;
                state.keys.read_key()?;
                state
                    .logs
                    .values()
                    .flat_map(|replica| replica.opened().iter().filter_map(|o| o.event()))
                    .cloned()
                    .collect()
            }
        };
        Ok(events.iter().map(DbRecord::from).collect())
    }

    /// A fresh ACL view Model for `thread` [ACL-6], [DB-11], ready to [`Peer::register`]; `None`
    /// for a raw thread, which has no ACL.
    pub fn acl_model(&self, thread: &ThreadId) -> Result<Option<AclModel>> {
        let state = self.state(thread)?;
        Ok(state
            .acl
            .as_ref()
            .map(|anchor| AclModel::new(thread.clone(), anchor.creator, anchor.genesis)))
    }

    /// The reducer `name` registered for `thread`, if any.
    pub fn reducer(&self, thread: &ThreadId, name: &str) -> Option<&dyn Reducer> {
        self.reducers
            .get(thread)?
            .iter()
            .find(|r| r.name() == name)
            .map(|r| r.as_ref())
    }

    /// The stored rows of reducer `name` in `thread`, removed from what the peer keeps.
    fn take_stored_rows(&mut self, thread: &ThreadId, name: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let Some(all) = self.stored_views.get_mut(thread) else {
            return BTreeMap::new();
        };
        let marker = marker(name);
        let prefix = prefixed(name, b"");
        let (mine, others): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(all)
            .into_iter()
            .partition(|(key, _)| *key == marker || key.starts_with(&prefix));
        *all = others;
        mine
    }

    /// Runs the thread's reducers on the last `count` records of `log`, just admitted, and returns
    /// the rows they changed, with each reducer's new position [DB-11]. In an access-controlled
    /// thread a record can withdraw others [DB-13], so each reducer of [`Scope::Applied`] is
    /// reset and offered the whole set; one of [`Scope::Opened`] (the ACL view) is offered the
    /// new records, as in a raw thread. A thread with stored rows but no reducer loses its position markers, so that
    /// the rows, now behind the events, are rebuilt when a reducer registers.
    fn reduce(&mut self, thread: &ThreadId, log: LogId, count: usize) -> Result<Vec<ViewRow>> {
        if !self.reducers.contains_key(thread) {
            let Some(stored) = self.stored_views.get_mut(thread) else {
                return Ok(Vec::new());
            };
            let markers: Vec<Vec<u8>> = stored
                .keys()
                .filter(|key| key.first() == Some(&0))
                .cloned()
                .collect();
            for key in &markers {
                stored.remove(key);
            }
            return Ok(markers.into_iter().map(|key| (key, None)).collect());
        }
        let state = self.state(thread)?;
        let opened = state.logs.get(&log).map_or(&[][..], |r| r.opened());
        let new: Vec<DbRecord> = opened[opened.len().saturating_sub(count)..]
            .iter()
            .filter_map(|o| o.event())
            .map(DbRecord::from)
            .collect();
        // In an access-controlled thread a record can withdraw others from what the application
        // reads [DB-13]: those reducers start again from the whole set.
        let resets = self
            .reducers
            .get(thread)
            .is_some_and(|all| all.iter().any(|r| r.scope() == Scope::Applied));
        let applied = match state.acl {
            Some(_) if resets => Some(self.offered(thread, Scope::Applied)?),
            _ => None,
        };
        for reducer in self.reducers.get_mut(thread).into_iter().flatten() {
            match (&applied, reducer.scope()) {
                (Some(all), Scope::Applied) => {
                    reducer.reset();
                    for event in all {
                        reducer.apply(event);
                    }
                }
                _ => {
                    for event in &new {
                        reducer.apply(event);
                    }
                }
            }
        }
        self.refold_behind(thread)?;
        let mut rows = Vec::new();
        for reducer in self.reducers.get_mut(thread).into_iter().flatten() {
            let name = reducer.name().to_owned();
            rows.extend(
                reducer
                    .take_rows()
                    .into_iter()
                    .map(|(key, row)| (prefixed(&name, &key), row)),
            );
            rows.push((
                marker(&name),
                Some(reducer.position().to_be_bytes().to_vec()),
            ));
        }
        Ok(rows)
    }
}

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// Resets each reducer of `thread` that is behind its set (a view restarted from a snapshot
    /// offered an event sorting before it) and offers it the whole set [DB-27].
    fn refold_behind(&mut self, thread: &ThreadId) -> Result<()> {
        let scopes: Vec<Scope> = self
            .reducers
            .get(thread)
            .into_iter()
            .flatten()
            .filter(|r| r.behind())
            .map(|r| r.scope())
            .collect();
        for scope in scopes {
            let all = self.offered(thread, scope)?;
            for reducer in self.reducers.get_mut(thread).into_iter().flatten() {
                if reducer.behind() && reducer.scope() == scope {
                    reducer.reset();
                    for event in &all {
                        reducer.apply(event);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A reducer's row key in the store: its name, a NUL, the reducer's own key.
fn prefixed(name: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 1 + key.len());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

/// The row holding a reducer's fold position: a NUL, then its name. No other row starts with NUL.
fn marker(name: &str) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(name.as_bytes());
    out
}

/// The first key whose row differs between two row sets, if any.
fn first_difference(
    a: &BTreeMap<Vec<u8>, Vec<u8>>,
    b: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Option<Vec<u8>> {
    a.keys()
        .chain(b.keys())
        .filter(|key| a.get(*key) != b.get(*key))
        .min()
        .cloned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stored_err(detail: String) -> Error {
    Error::new(ErrorCode::StoreCorrupt, detail)
}

/// A thread restored from the store: its ID, its state, and its peers' stored addresses.
type Restored = (ThreadId, ThreadState, Vec<(LogId, Multiaddr)>);

/// A stored thread back in memory [SYNC-13]: its ID, its state with every record verified and
/// linked again, and the stored addresses of its peers. STORE_CORRUPT if anything does not
/// decode, verify or link.
///
/// The records are read from `store` log by log, a chunk of [`RESTORE_CHUNK`] at a time, each
/// chunk verified (on `threads` threads [SYNC-31]) and linked, then, when the store keeps a
/// window ([`Store::window`]), dropped from memory but for the window: a restart's memory does
/// not grow with the logs either.
pub(super) fn restore<S: Store>(
    id: &[u8],
    contents: &ThreadIndex,
    store: &S,
    threads: usize,
) -> Result<Restored> {
    let thread = ThreadId::from_bytes(id).map_err(corrupt)?;
    let (mut state, addrs) = from_description(&thread, &contents.meta)?;
    let reader = state.keys.read.is_some();
    for (log_bytes, &length) in &contents.logs {
        let log = LogId::from_bytes(log_bytes).map_err(corrupt)?;
        let keys = state.keys.clone();
        let replica = state.replica(&thread, log);
        while replica.counter() < length {
            let from = replica.counter() + 1;
            let count = usize::try_from(length - replica.counter())
                .unwrap_or(usize::MAX)
                .min(RESTORE_CHUNK);
            let chunk = store.records(id, log_bytes, from, count)?;
            if chunk.len() != count {
                return Err(stored(format!(
                    "log {log} holds {} records from seq {from}, its length says {length}",
                    chunk.len()
                )));
            }
            let decoded = chunk
                .iter()
                .map(|bytes| Envelope::from_bytes(bytes).map_err(corrupt))
                .collect::<Result<Vec<_>>>()?;
            drop(chunk);
            if replica.decide_on(&keys, decoded, threads).appended.len() != count {
                return Err(Error::new(
                    ErrorCode::StoreCorrupt,
                    format!("a stored record of log {log} no longer verifies or links"),
                ));
            }
            if let Some(window) = store.window() {
                replica.trim(window, reader);
            }
        }
    }
    Ok((thread, state, addrs))
}

/// Stored records decoded and verified at a time on restart: enough to keep every thread busy,
/// few enough that the decoded copies stay small beside the log.
const RESTORE_CHUNK: usize = 1024;

fn corrupt(e: Error) -> Error {
    Error::new(ErrorCode::StoreCorrupt, e.to_string())
}

/// The description a peer stores for a thread [SYNC-12]: everything but the records, with the
/// addresses `book` knows for the thread's peers.
fn describe(state: &ThreadState, book: &AddrBook) -> Vec<u8> {
    let bytes = |id: &LogId| ByteBuf::from(id.to_bytes());
    block::encode(&Description {
        acl: state.acl.as_ref().map(|acl| AclDescription {
            creator: bytes(&acl.creator),
            genesis: acl.genesis.map(|cid| ByteBuf::from(cid.to_bytes())),
        }),
        addrs: state
            .peers
            .iter()
            .flat_map(|peer| book.get(peer))
            .map(|addr| addr.to_string())
            .collect(),
        keys: ByteBuf::from(state.keys.to_bytes()),
        logs: state.logs.keys().map(bytes).collect(),
        peers: state.peers.iter().map(bytes).collect(),
        writer: state
            .writer
            .as_ref()
            .map(|w| ByteBuf::from(w.seed().to_vec())),
    })
}

/// A thread from its stored description, with empty logs, and the stored addresses of its
/// peers; STORE_CORRUPT if it does not decode [SYNC-13].
fn from_description(
    thread: &ThreadId,
    bytes: &[u8],
) -> Result<(ThreadState, Vec<(LogId, Multiaddr)>)> {
    let d: Description = block::decode_canonical(bytes, ErrorCode::StoreCorrupt)?;
    let ids = |list: &[ByteBuf]| -> Result<Vec<LogId>> {
        list.iter()
            .map(|b| LogId::from_bytes(b).map_err(corrupt))
            .collect()
    };
    let writer = match &d.writer {
        Some(seed) => {
            Some(IdentityKey::from_seed(seed.as_slice().try_into().map_err(
                |_| stored("a stored writer seed is not 32 bytes"),
            )?))
        }
        None => None,
    };
    let acl = match &d.acl {
        Some(a) => Some(GenesisRef {
            creator: LogId::from_bytes(&a.creator).map_err(corrupt)?,
            genesis: match &a.genesis {
                Some(cid) => Some(
                    Cid::try_from(cid.as_slice())
                        .map_err(|e| stored(format!("stored genesis link: {e}")))?,
                ),
                None => None,
            },
        }),
        None => None,
    };
    let addrs = d
        .addrs
        .iter()
        .map(|text| stored_address(text))
        .collect::<Result<_>>()?;
    let logs = ids(&d.logs)?
        .into_iter()
        .map(|log| (log, LogReplica::new(thread.clone(), log)))
        .collect::<BTreeMap<_, _>>();
    let state = ThreadState {
        keys: KeySet::from_bytes(&d.keys).map_err(corrupt)?,
        writer,
        logs,
        peers: ids(&d.peers)?.into_iter().collect(),
        acl,
        members: Default::default(),
    };
    Ok((state, addrs))
}

/// A stored address and the peer its `/p2p/` part names.
fn stored_address(text: &str) -> Result<(LogId, Multiaddr)> {
    let addr = Multiaddr::from_str(text).ok();
    let peer = addr.as_ref().and_then(|a| match a.iter().last() {
        Some(Protocol::P2p(peer)) => LogId::try_from(peer).ok(),
        _ => None,
    });
    addr.zip(peer)
        .map(|(a, p)| (p, a))
        .ok_or_else(|| stored(format!("stored address {text}")))
}

fn stored(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::StoreCorrupt, detail)
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
    /// Absent for the creator, which wrote the genesis itself.
    genesis: Option<ByteBuf>,
}
