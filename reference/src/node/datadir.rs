//! A node's data directory: its identity and its store ([SYNC-12], [SYNC-13]).
//!
//! - `identity.key`: the Ed25519 seed of the node's identity, in hex, created on first run from
//!   OS entropy. It is the libp2p identity too, so the node's PeerId is its log ID.
//! - `store.redb`: every thread and record the peer holds ([`RedbStore`]).
//!
//! The sans-IO [`Peer`] draws no randomness of its own: the driver seeds its RNG here, from the
//! OS, on every start (nothing the peer persists depends on the RNG's state).

use std::fs;
use std::io::Write;
use std::path::Path;

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

/// Opens the peer kept in `dir` at time `now`, creating the directory and its identity on first run, and
/// re-verifying every stored record [SYNC-13]; returns the identity too, for the libp2p key.
/// STORE_FAILED when the directory or a file cannot be read or written, or the store is open in
/// another process; STORE_CORRUPT when the identity or a stored record is damaged.
pub fn open_peer(dir: &Path, now: u64) -> Result<(IdentityKey, NodePeer)> {
    let identity = open_identity(dir)?;
    let store = RedbStore::open(&dir.join(STORE_FILE))?;
    let rng = ChaCha20Rng::from_seed(os_seed()?);
    let peer = Peer::open(identity.clone(), rng, store, now)?;
    Ok((identity, peer))
}

/// The identity kept in `dir`, creating the directory and the identity on first use.
pub fn open_identity(dir: &Path) -> Result<IdentityKey> {
    fs::create_dir_all(dir).map_err(|e| io_failed("create", dir, &e))?;
    load_or_create_identity(&dir.join(IDENTITY_FILE))
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
