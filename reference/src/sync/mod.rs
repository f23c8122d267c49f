//! Synchronisation (spec/sync.md, chapter 7): a sans-IO peer.
//!
//! A [`Peer`] holds threads — for each, its keys (the key book), a [`LogReplica`] of each of its
//! logs (the head book) and the peers it syncs with — and talks to other peers in
//! [`Message`]s: it pushes each record it appends to the thread's peers and publishes it on the
//! thread's topic [SYNC-4]; it answers a pull with a contiguous, oldest-first batch [SYNC-5];
//! it verifies every record before it stores it [SYNC-6]; it announces what is new to it and
//! exchanges heads on a timer so that peers that missed a push catch up by pulling [SYNC-8];
//! and it retries unanswered pulls with backoff [SYNC-10].
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

mod commands;
mod inbound;
mod message;
mod net;
mod peer;
mod persist;
mod pulls;
#[cfg(test)]
mod tests;
mod thread;

use crate::error::ErrorCode;
use crate::id::{LogId, ThreadId};

pub use crate::log::LogReplica;
pub use message::{MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, Message, PULL_LIMIT};
pub use net::Net;
pub use peer::Peer;
pub use pulls::{MAX_ATTEMPTS, retry_delay};

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
    /// Published on the thread's topic; best effort, as pushes and head exchange already deliver
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
}
