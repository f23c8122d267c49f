//! # threads — the reference implementation of the Threads protocol
//!
//! A thread is a set of single-writer, append-only, hash-linked logs, one per writer. Every event
//! is signed by its log's Ed25519 key and sealed in three layers so that *followers* can verify,
//! store and serve a log they cannot read. This crate implements `spec/` and is meant to be read:
//! each module is named after a spec concept and each public item cites the requirement tags it
//! implements (e.g. `[TID-4]`).
//!
//! Reading order, following the spec's chapters:
//!
//! 1. [`error`] — the registry of stable error codes every failure carries.
//! 2. [`id`] and [`addr`] — Thread IDs, log IDs and log addresses (chapter 1).
//! 3. [`keys`] — identity, follow, read and content keys; the key set (chapter 2).
//! 4. [`block`], [`seal`], [`record`], [`envelope`], [`verify`] — how an event is encoded,
//!    encrypted, signed, sent and checked (chapter 3).
//! 5. [`log`] — heads, counters, forks and gaps (chapter 4).
//! 6. [`invite`] — sealing a thread's keys to a new peer; joining as a writer (chapter 5).
//! 7. [`acl`] — roles, the ACL document, ACL events and the merge rule every reader folds them
//!    with; revocation cuts and deletes (chapter 6).
//! 8. [`sync`] — a sans-IO peer that pushes, pulls and exchanges heads, with the address
//!    book in [`book`] and durable storage in [`store`]; membership proofs, the gossip topic and
//!    sealed publications in [`membership`] (chapter 7).
//! 9. [`db`] — the event-sourced database: database events, the fold in total order, collections,
//!    the key-value store, queries and the view CID (chapter 8).
//!
//! Nothing here reads a clock, a socket or a random-number generator of its own: time and
//! randomness are always arguments.

pub mod acl;
pub mod addr;
pub mod block;
pub mod book;
pub mod db;
pub mod envelope;
pub mod error;
/// Driver faults for the kit's catalogue, with the feature `fault-injection` only [SYNC-15].
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(not(feature = "fault-injection"))]
mod fault {
    /// Without the feature `fault-injection` no fault is ever on: each hook folds to nothing.
    #[inline(always)]
    pub(crate) const fn on(_: &str) -> bool {
        false
    }

    /// Without the feature no compacted peer serves less: the floor is 0.
    #[inline(always)]
    pub(crate) const fn compacted_floor<R, S>(
        _: &crate::sync::Peer<R, S>,
        _: &crate::id::ThreadId,
        _: &crate::id::LogId,
    ) -> u64 {
        0
    }
}
pub mod id;
pub mod invite;
pub mod keys;
pub mod log;
pub mod membership;
#[cfg(feature = "node")]
pub mod node;
pub mod record;
pub mod seal;
pub mod store;
pub mod sync;
pub mod verify;

pub use cid::Cid;
pub use error::{Error, ErrorCode, Result};
