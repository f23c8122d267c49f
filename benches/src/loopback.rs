//! Two `threads-node`s over loopback TCP (spec/sync.md, [SYNC-15]): the setup of
//! `benches/loopback.rs`.
//!
//! The writer's data directory is filled directly — its log built by an in-memory [`Peer`] and
//! written to its redb store in one transaction — because appending 10,000 events through the
//! node would commit (and fsync) each one, minutes of setup that measure nothing. The nodes
//! themselves are the `threads-node` driver ([`Handle`]), in this process but each on its own
//! thread with its own runtime, talking over 127.0.0.1 with Noise and Yamux.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::node::datadir::{self, STORE_FILE};
use threads::node::{Config, Handle};
use threads::store::Store;
use threads::store::redb::RedbStore;

use crate::{BenchPeer, body};

/// A writer node serving a log of `events` events, and where its data lives.
pub struct LoopbackWriter {
    /// The running writer.
    pub node: Handle,
    /// The thread.
    pub thread: ThreadId,
    /// The writer's log.
    pub log: LogId,
    /// Keeps the data directories until the bench ends.
    pub dir: tempfile::TempDir,
}

/// Fills a data directory with a writer's identity and a thread holding `events` events of
/// `body_len` bytes ([`body`]), then starts a node on it listening on 127.0.0.1.
///
/// # Panics
///
/// If the directory, the store or the node cannot be set up.
pub fn writer_node(events: u64, body_len: usize, seed: u64) -> LoopbackWriter {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("writer");
    let identity = datadir::open_identity(&data).expect("the writer's identity");
    let (thread, log) = fill_store(&data, identity, events, body_len, seed);
    let node = Handle::spawn(config(&data)).expect("the writer node starts");
    LoopbackWriter {
        node,
        thread,
        log,
        dir,
    }
}

/// Writes a thread of `events` events by `identity` into the store in `data`, in one batch.
fn fill_store(
    data: &Path,
    identity: IdentityKey,
    events: u64,
    body_len: usize,
    seed: u64,
) -> (ThreadId, LogId) {
    use rand_core::SeedableRng;
    let rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut writer: BenchPeer = threads::sync::Peer::new(identity, rng);
    let (thread, log) = writer
        .create_thread(0, Variant::Raw)
        .expect("a new peer creates a thread");
    for i in 0..events {
        writer
            .append(1_000 + i, &thread, &body(i, body_len))
            .expect("the writer appends");
    }
    let mut disk = RedbStore::open(&data.join(STORE_FILE)).expect("the writer's store");
    for (id, stored) in writer.into_store().load().expect("a memory store loads") {
        disk.put_thread(&id, &stored.meta).expect("thread stored");
        for (log, envelopes) in &stored.logs {
            disk.put_records(&id, log, 1, envelopes)
                .expect("records stored");
        }
    }
    (thread, log)
}

fn config(data: &Path) -> Config {
    Config {
        data: data.to_path_buf(),
        listen: "/ip4/127.0.0.1/tcp/0".parse().expect("a multiaddr"),
        exit_on_stdin_close: false,
        recovery: Default::default(),
        pull_window: pull_window(),
    }
}

/// The joiners' pull window [SYNC-32]: `THREADS_BENCH_PULL_WINDOW` when set (1 measures one
/// pull at a time, beside the default, on the same machine and load), else the default.
fn pull_window() -> usize {
    std::env::var("THREADS_BENCH_PULL_WINDOW")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(threads::sync::PULL_WINDOW)
}

/// A fresh node (its own data directory under the writer's) invited with `role`; it has not
/// joined yet, so the timed part can start with [`join_and_catch_up`].
pub fn invited_node(writer: &mut LoopbackWriter, role: InviteRole, n: u64) -> (Handle, String) {
    let data = writer.dir.path().join(format!("{}-{n}", role.name()));
    let node = Handle::spawn(config(&data)).expect("the node starts");
    let peer = node.ready["peer"].as_str().expect("a peer ID").to_owned();
    let reply =
        ok(writer
            .node
            .command(&format!("invite {} {} {peer}", writer.thread, role.name())));
    let invite = reply["invite"].as_str().expect("an invite").to_owned();
    (node, invite)
}

/// Joins with `invite` and waits until the node holds the writer's whole log.
pub fn join_and_catch_up(
    node: &mut Handle,
    invite: &str,
    thread: &ThreadId,
    log: &LogId,
    events: u64,
) {
    ok(node.command(&format!("join {invite}")));
    let query = format!("heads {thread}");
    loop {
        let heads = ok(node.command(&query));
        let counter = heads["logs"][log.to_string()]["counter"].as_u64();
        if counter == Some(events) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The reply of a command that must succeed.
pub fn ok(reply: threads::Result<Value>) -> Value {
    let reply = reply.expect("the node is running");
    assert_eq!(reply["ok"], Value::Bool(true), "{reply}");
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_and_a_reader_node_catch_up_a_writer_node_over_loopback() {
        let mut writer = writer_node(150, 64, 1);
        for (n, role) in [InviteRole::Follower, InviteRole::Reader]
            .into_iter()
            .enumerate()
        {
            let (mut node, invite) = invited_node(&mut writer, role, n as u64);
            join_and_catch_up(&mut node, &invite, &writer.thread, &writer.log, 150);
            let read = node
                .command(&format!("read {}", writer.thread))
                .expect("reply");
            match role {
                InviteRole::Follower => assert_eq!(read["code"], "KEY_UNAVAILABLE"),
                _ => assert_eq!(read["events"].as_array().map(Vec::len), Some(150)),
            }
            node.stop().expect("the node stops cleanly");
        }
    }
}
