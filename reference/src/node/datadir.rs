//! A node's data directory: its identity and its store ([SYNC-12], [SYNC-13]).
//!
//! - `identity.key`: the Ed25519 seed of the node's identity, in hex, created on first run from
//!   OS entropy. It is the libp2p identity too, so the node's PeerId is its log ID.
//! - `store.redb`: every thread and record the peer holds ([`RedbStore`]).
//! - `listen.addr`: the address the node last listened on, so that a restart on an
//!   ephemeral port (`/tcp/0`) takes the same port again and the addresses its peers stored stay
//!   good [SYNC-9].
//!
//! A first start creates the store before the identity, so an identity without a store only
//! comes from damage: a store deleted or truncated to nothing, which would silently start the
//! node with no threads. [`open_peer`] refuses that, and an identity missing beside a store that
//! holds threads (a new identity would be a different peer, with no right to those logs), with
//! STORE_CORRUPT, unless [`Recovery`] says the user asked for it.
//!
//! The sans-IO [`Peer`] draws no randomness of its own: the driver seeds its RNG here, from the
//! OS, on every start (nothing the peer persists depends on the RNG's state).

use std::fs;
use std::io::Write;
use std::path::Path;

use multiaddr::{Multiaddr, Protocol};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::error::{Error, ErrorCode, Result};
use crate::keys::IdentityKey;
use crate::store::redb::RedbStore;
use crate::sync::Peer;

/// The peer a node runs: a ChaCha20 RNG seeded from the OS, records in a redb file.
pub type NodePeer = Peer<ChaCha20Rng, RedbStore>;

/// The identity file's name inside the data directory.
pub const IDENTITY_FILE: &str = "identity.key";

/// The store file's name inside the data directory.
pub const STORE_FILE: &str = "store.redb";

/// The file that remembers the node's last listen address.
pub const LISTEN_FILE: &str = "listen.addr";

/// What a damaged data directory may be opened with, because the user asked for it on the
/// command line (`--reset-store`, `--new-identity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Start with an empty store although `identity.key` shows the node ran before.
    pub reset_store: bool,
    /// Create a new identity although `store.redb` holds threads.
    pub new_identity: bool,
}

/// Opens the peer kept in `dir` at time `now`, creating the directory, its store and its identity
/// on first run, and re-verifying every stored record [SYNC-13]; returns the identity too, for
/// the libp2p key. STORE_FAILED when the directory or a file cannot be read or written, or the
/// store is open in another process; STORE_CORRUPT when the identity or a stored record is
/// damaged, or when the store is missing or empty beside an identity (unless
/// `recovery.reset_store`).
pub fn open_peer(dir: &Path, now: u64, recovery: Recovery) -> Result<(IdentityKey, NodePeer)> {
    let store_path = dir.join(STORE_FILE);
    if dir.join(IDENTITY_FILE).exists() && !recovery.reset_store {
        // redb makes a fresh database of a missing or zero-length file: check before it does.
        let len = fs::metadata(&store_path).map(|m| m.len());
        let state = match len {
            Ok(0) => Some("is empty"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("is missing"),
            Err(e) => return Err(io_failed("read", &store_path, &e)),
            Ok(_) => None,
        };
        if let Some(state) = state {
            return Err(Error::new(
                ErrorCode::StoreCorrupt,
                format!(
                    "{} {state}, but {} shows this node ran before: its threads would be lost. \
                     Restore the store, or pass --reset-store to start with none",
                    store_path.display(),
                    dir.join(IDENTITY_FILE).display()
                ),
            ));
        }
    }
    let identity = open_identity_with(dir, recovery)?;
    let store = RedbStore::open(&store_path)?;
    let rng = ChaCha20Rng::from_seed(os_seed()?);
    // A node verifies on every core: the verdicts are applied in log order, so the result is the
    // same as inline [SYNC-31].
    let peer = Peer::open_on(identity.clone(), rng, store, now, cores())?;
    Ok((identity, peer))
}

/// The cores this process may use, for verification [SYNC-31]; 1 when the system does not say.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The identity kept in `dir`, creating the directory, the store and the identity on first use.
/// STORE_CORRUPT when there is no identity but the store holds threads.
pub fn open_identity(dir: &Path) -> Result<IdentityKey> {
    open_identity_with(dir, Recovery::default())
}

/// [`open_identity`], with a new identity beside a store with threads if `recovery` allows it.
pub fn open_identity_with(dir: &Path, recovery: Recovery) -> Result<IdentityKey> {
    fs::create_dir_all(dir).map_err(|e| io_failed("create", dir, &e))?;
    let path = dir.join(IDENTITY_FILE);
    if !path.exists() {
        // The store first: then an identity without a store means damage (see the module docs).
        let store = RedbStore::open(&dir.join(STORE_FILE))?;
        let threads = crate::store::Store::index(&store)?.len();
        if threads > 0 && !recovery.new_identity {
            return Err(Error::new(
                ErrorCode::StoreCorrupt,
                format!(
                    "{} is missing, but {} holds {threads} thread(s) written under it: a new \
                     identity would be a different peer. Restore the key, or pass \
                     --new-identity to start under a new one",
                    path.display(),
                    dir.join(STORE_FILE).display()
                ),
            ));
        }
    }
    load_or_create_identity(&path)
}

/// The listen address remembered in `dir` to use instead of `wanted`, when `wanted` asks for any
/// TCP port (`/tcp/0`) and the remembered one differs from it only in the port [SYNC-9].
pub fn remembered_listen(dir: &Path, wanted: &Multiaddr) -> Option<Multiaddr> {
    let text = fs::read_to_string(dir.join(LISTEN_FILE)).ok()?;
    let remembered: Multiaddr = text.trim().parse().ok()?;
    let any_port = |addr: &Multiaddr| -> Multiaddr {
        addr.iter()
            .map(|p| match p {
                Protocol::Tcp(_) => Protocol::Tcp(0),
                other => other,
            })
            .collect()
    };
    let asks_any = wanted.iter().any(|p| p == Protocol::Tcp(0));
    (asks_any && any_port(&remembered) == *wanted && remembered != *wanted).then_some(remembered)
}

/// Remembers `addr` (without `/p2p/`) as the listen address in `dir`; a failure is only logged,
/// as the node runs fine without it.
pub fn remember_listen(dir: &Path, addr: &Multiaddr) {
    let bare: Multiaddr = addr
        .iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect();
    let tmp = dir.join(format!("{LISTEN_FILE}.tmp"));
    let written =
        fs::write(&tmp, format!("{bare}\n")).and_then(|()| fs::rename(&tmp, dir.join(LISTEN_FILE)));
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot remember the listen address");
    }
}

/// Reads the identity at `path`, or creates one from OS entropy if there is none yet.
pub fn load_or_create_identity(path: &Path) -> Result<IdentityKey> {
    match fs::read_to_string(path) {
        Ok(text) => parse_identity(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let identity = IdentityKey::from_seed(&os_seed()?);
            write_identity(path, &identity)?;
            Ok(identity)
        }
        Err(e) => Err(io_failed("read", path, &e)),
    }
}

fn parse_identity(path: &Path, text: &str) -> Result<IdentityKey> {
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::StoreCorrupt,
                format!("{} is not a 32-byte hex seed", path.display()),
            )
        })?;
    Ok(IdentityKey::from_seed(&seed))
}

/// Writes the seed to a temporary file and renames it into place, so that a crash never leaves a
/// half-written identity (a node with a different identity would be a different peer).
fn write_identity(path: &Path, identity: &IdentityKey) -> Result<()> {
    let tmp = path.with_extension("key.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = create_private(&tmp)?;
        writeln!(file, "{}", hex::encode(identity.seed()))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| io_failed("write", path, &e))
}

/// Creates a file only its owner can read: the seed is the node's private key.
fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// 32 bytes of OS entropy; INTERNAL if the OS has none to give.
pub fn os_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("no OS entropy: {e}")))?;
    Ok(seed)
}

fn io_failed(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorCode::StoreFailed,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_listen_address_replaces_only_an_any_port_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let any: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("addr");
        assert_eq!(remembered_listen(dir.path(), &any), None);
        let bound: Multiaddr =
            "/ip4/127.0.0.1/tcp/4242/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
                .parse()
                .expect("addr");
        remember_listen(dir.path(), &bound);
        let port: Multiaddr = "/ip4/127.0.0.1/tcp/4242".parse().expect("addr");
        assert_eq!(remembered_listen(dir.path(), &any), Some(port));
        let elsewhere: Multiaddr = "/ip4/0.0.0.0/tcp/0".parse().expect("addr");
        assert_eq!(remembered_listen(dir.path(), &elsewhere), None);
        let fixed: Multiaddr = "/ip4/127.0.0.1/tcp/5000".parse().expect("addr");
        assert_eq!(remembered_listen(dir.path(), &fixed), None);
    }

    /// An identity file that exists but cannot be read as text is an error, and is left as it
    /// is: only a missing file makes a new identity, so a node never loses its log ID to a
    /// damaged file.
    #[test]
    fn an_unreadable_identity_is_an_error_and_is_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(IDENTITY_FILE);
        let damaged = [0xff, 0xfe, 0x00, 0x80];
        fs::write(&path, damaged).expect("damage");
        assert!(load_or_create_identity(&path).is_err());
        assert_eq!(fs::read(&path).expect("still there"), damaged);
    }

    /// A store that cannot be looked at (here a symbolic link to itself) beside an identity is
    /// STORE_FAILED, a fault of the machine to fix: only a store that is missing or empty is
    /// STORE_CORRUPT, the case `--reset-store` is for. Nothing in the directory is touched.
    #[cfg(unix)]
    #[test]
    fn a_store_that_cannot_be_read_is_store_failed_not_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        load_or_create_identity(&dir.path().join(IDENTITY_FILE)).expect("identity");
        let store = dir.path().join(STORE_FILE);
        std::os::unix::fs::symlink(&store, &store).expect("a link to itself");
        let refused = open_peer(dir.path(), 0, Recovery::default()).err();
        assert_eq!(refused.map(|e| e.code), Some(ErrorCode::StoreFailed));
        assert_eq!(fs::read_link(&store).expect("still the link"), store);
        let missing = dir.path().join("elsewhere");
        fs::rename(&store, &missing).expect("move the link away");
        let refused = open_peer(dir.path(), 0, Recovery::default()).err();
        assert_eq!(refused.map(|e| e.code), Some(ErrorCode::StoreCorrupt));
    }

    #[test]
    fn an_identity_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(IDENTITY_FILE);
        let first = load_or_create_identity(&path).expect("create");
        let again = load_or_create_identity(&path).expect("read");
        assert_eq!(first.log_id(), again.log_id());
        fs::write(&path, "not hex").expect("damage");
        assert_eq!(
            load_or_create_identity(&path).map_err(|e| e.code).err(),
            Some(ErrorCode::StoreCorrupt)
        );
    }
}
