//! A follower and a reader catching up a 10,000-event log from its writer, beside the Ed25519
//! verify bound.
//!
//! Two [`Peer`](threads::sync::Peer)s in memory; every message goes through
//! their wire encoding, on the core's in-memory network ([`pump`]). The log (64-byte
//! bodies) is built once, outside the measurement. Each iteration a fresh peer joins (invite and
//! join are setup, not timed) and the timer runs while the two peers talk until both are quiet:
//! the writer serving and encoding batches of 256, the joiner decoding, verifying [VERIFY-1],
//! linking and storing them, all on one core.
//!
//! - `catch_up_10k/follower`: sync only; a follower cannot read.
//! - `catch_up_10k/reader`: sync, then `Peer::read` of every event [VERIFY-2].
//! - `bound/ed25519_verify_strict_200B`: the bound, measured in the same run.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use threads::invite::InviteRole;
use threads_benches::{WriterLog, caught_up, join, pump, writer_with_log};

/// Events in the log.
const EVENTS: u64 = 10_000;
/// Body length of every event.
const BODY_LEN: usize = 64;

/// Catches up a fresh peer (the same seed, so the same ID, every time) and, for a reader, reads
/// every event; timed from the first pull to the last event read.
fn bench_role(
    c: &mut Criterion,
    log: &mut WriterLog,
    role: InviteRole,
    name: &str,
) -> threads_benches::Recorder {
    common::catch_up_bench(
        c,
        ("catch_up_10k", name),
        EVENTS,
        log,
        |log| join(log, role, 2),
        |log, mut joiner| {
            pump(&mut log.writer, &mut joiner);
            assert!(caught_up(log, &joiner));
            if role == InviteRole::Reader {
                let events = joiner.read(&log.thread).expect("a reader reads");
                assert_eq!(events.len() as u64, EVENTS);
            }
            joiner
        },
    )
}

fn catch_up(c: &mut Criterion) {
    let bound = common::measure_bound(c);
    let mut log = writer_with_log(EVENTS, BODY_LEN, 1);
    let follower = bench_role(c, &mut log, InviteRole::Follower, "follower");
    let reader = bench_role(c, &mut log, InviteRole::Reader, "reader");
    common::report_catch_ups(
        &bound,
        EVENTS,
        &[
            (
                "catch-up follower",
                &follower,
                "1 verify per record; plus the record-layer open, three SHA-256 CIDs, the wire \
                 encode and decode, and the writer's serving, on the same core",
            ),
            (
                "catch-up reader (sync + read)",
                &reader,
                "1 verify per record, on ingest, where a reader also opens the header and body \
                 once; Peer::read then returns what ingest opened",
            ),
        ],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = catch_up
}
criterion_main!(benches);
