//! A follower and a reader catching up a 10,000-event log from its writer, beside the Ed25519
//! verify bound.
//!
//! Two [`Peer`](threads::sync::Peer)s in memory; every message goes through
//! `Message::to_bytes` and `Message::from_bytes` as on the wire ([`pump`]). The log (64-byte
//! bodies) is built once, outside the measurement. Each iteration a fresh peer joins (invite and
//! join are setup, not timed) and the timer runs while the two peers talk until both are quiet:
//! the writer serving and encoding batches of 256, the joiner decoding, verifying [VERIFY-1],
//! linking and storing them, all on one core.
//!
//! - `catch_up_10k/follower`: sync only; a follower cannot read.
//! - `catch_up_10k/reader`: sync, then `Peer::read` of every event [VERIFY-2].
//! - `bound/ed25519_verify_strict_200B`: the bound, measured in the same run.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use threads::invite::InviteRole;
use threads_benches::{
    Bound, Ed25519Fixture, Recorder, WriterLog, caught_up, join, pump, writer_with_log,
};

/// Events in the log.
const EVENTS: u64 = 10_000;
/// Body length of every event.
const BODY_LEN: usize = 64;
/// Samples of each catch-up: each takes on the order of a second.
const SAMPLES: usize = 10;
/// Samples of the bound.
const BOUND_SAMPLES: usize = 50;

/// Catches up a fresh peer (the same seed, so the same ID, every time) and, for a reader, reads
/// every event; timed from the first pull to the last event read.
fn bench_role(c: &mut Criterion, log: &mut WriterLog, role: InviteRole, name: &str) -> Recorder {
    let mut recorder = Recorder::new(SAMPLES);
    let mut group = c.benchmark_group("catch_up_10k");
    group
        .sample_size(SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(EVENTS));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            recorder.time_with_setup(
                iters,
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
        });
    });
    group.finish();
    recorder
}

fn catch_up(c: &mut Criterion) {
    let mut bound = Recorder::new(BOUND_SAMPLES);
    {
        let fixture = Ed25519Fixture::new(1);
        let mut group = c.benchmark_group("bound");
        group
            .sample_size(BOUND_SAMPLES)
            .throughput(Throughput::Elements(1));
        group.bench_function("ed25519_verify_strict_200B", |b| {
            b.iter_custom(|iters| bound.time(iters, || assert!(fixture.verify())));
        });
        group.finish();
    }

    let mut log = writer_with_log(EVENTS, BODY_LEN, 1);
    let follower = bench_role(c, &mut log, InviteRole::Follower, "follower");
    let reader = bench_role(c, &mut log, InviteRole::Reader, "reader");

    if follower.per_second().is_none() && reader.per_second().is_none() {
        return;
    }
    let bound = Bound::from_recorder_or_measure(&bound);
    let per_event = |recorder: &Recorder| recorder.per_second().map(|r| r * EVENTS as f64);
    println!();
    println!("{}", bound.headline());
    if let Some(rate) = per_event(&follower) {
        let note = "1 verify per record; plus the record-layer open, three SHA-256 CIDs, the \
                    wire encode and decode, and the writer's serving, on the same core";
        println!("{}", bound.line("catch-up follower", rate, 1, note));
    }
    if let Some(rate) = per_event(&reader) {
        let note = "1 verify per record, on ingest, where a reader also opens the header and body \
                    once; Peer::read then returns what ingest opened";
        println!(
            "{}",
            bound.line("catch-up reader (sync + read)", rate, 1, note)
        );
    }
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
