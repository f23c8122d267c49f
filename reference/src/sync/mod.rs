//! Synchronisation (spec/sync.md, chapter 7): a sans-IO peer.
//!
//! A [`Peer`] holds threads — for each, its keys (the key book), a [`LogReplica`] of each of its
//! logs (the head book) and the peers it syncs with — and talks to other peers in
//! [`Message`]s: it pushes each record it appends to the thread's peers and publishes it on the
//! thread's topic [SYNC-4]; it answers a pull with a contiguous, oldest-first batch [SYNC-5];
//! it verifies every record before it stores it [SYNC-6]; it announces what is new to it and
//! exchanges heads on a timer so that peers that missed a push catch up by pulling [SYNC-8];
//! it keeps a window of pulls in flight per log and peer, holding answers that overtake others
//! until they can be decided in log order [SYNC-32], [SYNC-33]; and it retries each unanswered
//! pull with backoff [SYNC-10].
//!
//! # The contract
//!
//! The peer is a state machine in the manner of quinn-proto's `Connection`: it never reads a
//! clock, a socket or an entropy source; every input carries the time and every output waits in a
//! queue for the driver. [`Peer`]'s documentation sorts its methods into getters, inputs, commands
//! and outputs, and says how a driver uses them.
//!
//! What the peer must not lose it writes to its [`Store`](crate::store::Store) before anything leaves it [SYNC-12];
//! [`Peer::open`] restarts from what was stored [SYNC-13]. [`Net`] carries messages between
//! peers in memory, for tests, benches and examples.

mod auth;
mod commands;
mod inbound;
mod message;
mod net;
mod peer;
mod persist;
mod pulls;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_window;
mod thread;

use crate::error::ErrorCode;
use crate::id::{LogId, ThreadId};

pub use crate::log::LogReplica;
pub use auth::{
    CHALLENGE_INTERVAL_MS, MAX_LOGS_PER_THREAD, MAX_PEERS_PER_THREAD, MAX_PENDING_LOGS,
    MAX_PENDING_LOGS_PER_PEER,
};
pub use message::{MAX_BATCH_BYTES, MAX_HEADS_ENTRIES, MAX_MESSAGE_BYTES, Message, PULL_LIMIT};
pub use net::Net;
pub use peer::Peer;
pub use pulls::{MAX_ATTEMPTS, MAX_HELD_BYTES, MAX_HELD_BYTES_PER_PEER, PULL_WINDOW, retry_delay};

/// The most events [`Peer::append_batch`] appends at once [SYNC-30]: they are held in memory,
/// signed and checked before the one store write that keeps them all.
pub const MAX_APPEND_BATCH: usize = 4096;

/// How long a peer waits for records in flight to fill a gap before it pulls them [SYNC-7].
pub const GAP_GRACE_MS: u64 = 250;

/// How often a peer sends its heads to every peer of every thread it holds [SYNC-8].
pub const HEADS_INTERVAL_MS: u64 = 5_000;

/// Bytes the peer wants sent [SYNC-3]: a message, already encoded [SYNC-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where they go.
    pub destination: Destination,
    /// The encoded [`Message`].
    pub bytes: Vec<u8>,
}

/// Where a [`Transmit`] goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// To one peer (a request/response stream, in the libp2p driver).
    Peer(LogId),
    /// Published on the thread's topic, [`Peer::topic`]; the bytes are already sealed with the
    /// thread's gossip key [SYNC-24]. Best effort, as pushes and head exchange already deliver
    /// it [SYNC-4], [SYNC-16]. A driver without publish/subscribe may drop it.
    Topic(ThreadId),
}

/// What a peer tells its application [SYNC-3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Records of `log` were verified, stored and appended; the log's counter is now `counter`.
    Appended {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The log's new counter.
        counter: u64,
        /// The counter of the peer the records came from, as it said [SYNC-7]: this peer has
        /// caught up with it when `counter` reaches it.
        sender_counter: u64,
    },
    /// A record from `from` was dropped: it failed verification or does not extend its log
    /// [VERIFY-3], [LOG-5], [LOG-6].
    Rejected {
        /// The peer that sent it.
        from: LogId,
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// Why.
        code: ErrorCode,
    },
    /// Something `from` sent was refused at a limit: a new log (LOG_LIMIT) or a new peer
    /// (PEER_LIMIT) [SYNC-23].
    Refused {
        /// The peer that sent it, or the peer refused.
        from: LogId,
        /// The thread.
        thread: ThreadId,
        /// Which limit.
        code: ErrorCode,
    },
}

/// What a peer has done so far; for progress reports and statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Messages received.
    pub messages_in: u64,
    /// Messages received that did not decode, and were dropped [SYNC-2].
    pub messages_malformed: u64,
    /// Messages sent or published.
    pub messages_out: u64,
    /// Records verified, stored and appended (the peer's own included).
    pub records_appended: u64,
    /// Records received that were already held.
    pub records_duplicate: u64,
    /// Records received and dropped [VERIFY-3].
    pub records_rejected: u64,
    /// Pulls sent, first attempts.
    pub pulls_sent: u64,
    /// Pulls sent again after no answer [SYNC-10].
    pub pulls_retried: u64,
    /// Messages dropped because their thread is not held or their sender did not prove
    /// membership, each answered with a challenge [SYNC-21].
    pub messages_unproven: u64,
    /// Proofs that did not verify, or whose prover the ACL or a limit refuses [SYNC-20].
    pub proofs_invalid: u64,
    /// Publications received [SYNC-24].
    pub publications_in: u64,
    /// Publications dropped: on no topic of this peer, or that did not open or decode [SYNC-24].
    pub publications_invalid: u64,
    /// New logs and peers refused at a limit [SYNC-23].
    pub refused: u64,
}
