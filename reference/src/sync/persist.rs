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
use crate::block;
use crate::book::AddrBook;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::log::{Admitted, LogReplica};
use crate::store::{Store, StoredThread};

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
        let result = self
            .store
            .put_records(thread.as_bytes(), &log.to_bytes(), first, &bytes);
        self.stop_on_failure(result)
    }
}

/// A thread restored from the store: its ID, its state, and its peers' stored addresses.
type Restored = (ThreadId, ThreadState, Vec<(LogId, Multiaddr)>);

/// A stored thread back in memory [SYNC-13]: its ID, its state with every record verified and
/// linked again, and the stored addresses of its peers. STORE_CORRUPT if anything does not
/// decode, verify or link.
pub(super) fn restore(id: &[u8], contents: StoredThread) -> Result<Restored> {
    let thread = ThreadId::from_bytes(id).map_err(corrupt)?;
    let (mut state, addrs) = from_description(&thread, &contents.meta)?;
    for (log, envelopes) in contents.logs {
        let log = LogId::from_bytes(&log).map_err(corrupt)?;
        let keys = state.keys.clone();
        let replica = state.replica(&thread, log);
        for bytes in envelopes {
            let envelope = Envelope::from_bytes(&bytes).map_err(corrupt)?;
            if replica.admit(&keys, envelope) != Admitted::Appended {
                return Err(Error::new(
                    ErrorCode::StoreCorrupt,
                    format!("a stored record of log {log} no longer verifies or links"),
                ));
            }
        }
    }
    Ok((thread, state, addrs))
}

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
