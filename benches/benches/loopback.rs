//! A follower and a reader `threads-node` catching up a 10,000-event log from a writer
//! `threads-node` over loopback TCP, beside the Ed25519 verify bound.
//!
//! Three real nodes of the libp2p driver ([`threads::node::Handle`]: the `threads-node` event
//! loop, each on its own thread), talking over 127.0.0.1 with Noise and Yamux on
//! `/threads/sync/1` [SYNC-15], each storing in redb, one durable sync per group of answers that
//! arrived together [SYNC-12], verifying on its verifier threads ahead of its event loop.
//! The writer's log is written once, outside the measurement. Each iteration starts a fresh node
//! and has the writer invite it (setup, not timed); the timer runs from `join` until the node's
//! `heads` show the whole log, polled every 2 ms.
//!
//! - `loopback_10k/follower`: verify, store and acknowledge every record.
//! - `loopback_10k/reader`: the same, opening each record's header and body on ingest.
//! - `loopback_100k_1KiB/follower`: the follower on issue 14's workload, 100,000 events of 1 KiB
//!   (about five seconds a sample).
//! - `bound/ed25519_verify_strict_200B`: the bound, measured in the same run.
//!
//! Unlike the in-memory catch-up, the writer and the joiner run on different threads, so on a
//! machine with two or more cores the joiner's verification can overlap the writer's serving.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use threads::invite::InviteRole;
use threads_benches::Recorder;
use threads_benches::loopback::{LoopbackWriter, invited_node, join_and_catch_up, writer_node};

/// Events in the log.
const EVENTS: u64 = 10_000;
/// Body length of every event.
const BODY_LEN: usize = 64;
/// Issue 14's workload: events, and the body length of each.
const LARGE: (u64, usize) = (100_000, 1024);

fn bench_role(
    c: &mut Criterion,
    writer: &mut LoopbackWriter,
    role: InviteRole,
    (group, name): (&str, &str),
    events: u64,
) -> Recorder {
    let mut joined = 0u64;
    common::catch_up_bench(
        c,
        (group, name),
        events,
        writer,
        |writer| {
            joined += 1;
            invited_node(writer, role, joined)
        },
        |writer, (mut node, invite)| {
            join_and_catch_up(&mut node, &invite, &writer.thread, &writer.log, events);
            // Stopped (when dropped) outside the timed part.
            node
        },
    )
}

fn loopback(c: &mut Criterion) {
    let bound = common::measure_bound(c);
    let mut writer = writer_node(EVENTS, BODY_LEN, 1);
    let follower = bench_role(
        c,
        &mut writer,
        InviteRole::Follower,
        ("loopback_10k", "follower"),
        EVENTS,
    );
    let reader = bench_role(
        c,
        &mut writer,
        InviteRole::Reader,
        ("loopback_10k", "reader"),
        EVENTS,
    );
    drop(writer);
    let mut large = writer_node(LARGE.0, LARGE.1, 2);
    let large_follower = bench_role(
        c,
        &mut large,
        InviteRole::Follower,
        ("loopback_100k_1KiB", "follower"),
        LARGE.0,
    );
    common::report_catch_ups(
        &bound,
        EVENTS,
        &[
            (
                "loopback follower",
                &follower,
                "1 verify per record; plus TCP, Noise, Yamux, one durable redb sync per group of \
                 answers, and the writer node serving, on the machine's cores",
            ),
            (
                "loopback reader",
                &reader,
                "1 verify per record; the reader also opens each header and body on ingest",
            ),
        ],
    );
    common::report_catch_ups(
        &bound,
        LARGE.0,
        &[(
            "loopback follower, 100,000 events of 1 KiB",
            &large_follower,
            "1 verify per record; issue 14's workload, against one core's bound: the node \
             verifies on every core",
        )],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = loopback
}
criterion_main!(benches);
