//! A writer appending on a durable store, beside the Ed25519 sign rate measured in the same run.
//!
//! A `Peer` on a `RedbStore` in a temporary directory, its thread created once, outside the
//! measurement:
//!
//! - `append_1KiB/batch_1000`: [`threads::sync::Peer::append_batch`] of 1,000 events of 1 KiB:
//!   each record created, sealed and signed in order, each checked as a reader would ([VERIFY-1],
//!   [VERIFY-2]) on the other cores, all stored in one durable write [SYNC-30], [SYNC-12].
//! - `append_1KiB/single`: [`threads::sync::Peer::append`] of one event, its own durable write.
//! - `bound/ed25519_sign_200B`: one Ed25519 signature of a 200-byte message, on one core.
//!
//! Each record's signature covers the CID of the one before it [LOG-1], so one log is signed on
//! one core: beside the rate, the runner prints it as a fraction of one core's sign rate and of
//! the cores' (issue 14's bound).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_core::SeedableRng;
use threads::id::{ThreadId, Variant};
use threads::store::redb::RedbStore;
use threads::sync::Peer;
use threads_benches::{Ed25519Fixture, Recorder, body, thousands};

/// Events per batch.
const BATCH: usize = 1_000;
/// Body length of every event.
const BODY_LEN: usize = 1024;
/// Samples of each append benchmark.
const SAMPLES: usize = 10;

type DiskPeer = Peer<rand_chacha::ChaCha20Rng, RedbStore>;

/// A peer on a fresh redb store with one thread, verifying its own records on every core.
fn writer(dir: &std::path::Path) -> (DiskPeer, ThreadId) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let identity = threads::keys::IdentityKey::generate(&mut rng);
    let store = RedbStore::open(&dir.join("store.redb")).expect("a store");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut peer = Peer::open_on(identity, rng, store, 0, cores).expect("a peer");
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("a thread");
    (peer, thread)
}

fn append(c: &mut Criterion) {
    let fixture = Ed25519Fixture::new(1);
    let mut sign = Recorder::new(SAMPLES * 5);
    let mut group = c.benchmark_group("bound");
    group
        .sample_size(SAMPLES * 5)
        .throughput(Throughput::Elements(1));
    group.bench_function("ed25519_sign_200B", |b| {
        b.iter_custom(|iters| {
            sign.time(iters, || {
                std::hint::black_box(fixture.sign());
            })
        });
    });
    group.finish();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let (mut peer, thread) = writer(dir.path());
    let bodies: Vec<Vec<u8>> = (0..BATCH as u64).map(|i| body(i, BODY_LEN)).collect();
    let mut batch = Recorder::new(SAMPLES);
    let mut single = Recorder::new(SAMPLES);
    let mut group = c.benchmark_group("append_1KiB");
    group.sample_size(SAMPLES);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("batch_1000", |b| {
        b.iter_custom(|iters| {
            batch.time(iters, || {
                peer.append_batch(1, &thread, &bodies).expect("a batch")
            })
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| {
        b.iter_custom(|iters| {
            single.time(iters, || {
                peer.append(1, &thread, &bodies[0]).expect("an append")
            })
        });
    });
    group.finish();
    report(&sign, &batch, &single);
}

/// The rates beside one core's sign rate and the cores'; nothing when nothing was measured.
fn report(sign: &Recorder, batch: &Recorder, single: &Recorder) {
    let (Some(sign), Some(batch), Some(single)) =
        (sign.per_second(), batch.per_second(), single.per_second())
    else {
        return;
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let batch = batch * BATCH as f64;
    println!();
    println!(
        "Ed25519 sign bound: {} signatures/s of a 200-byte message on one core, {} on {cores} cores",
        thousands(sign),
        thousands(sign * cores)
    );
    for (what, rate) in [
        ("batch of 1,000, one durable write", batch),
        ("single, one durable write each", single),
    ] {
        println!(
            "append {what}: {} events/s = {:.1}% of one core's sign rate, {:.1}% of the cores'",
            thousands(rate),
            100.0 * rate / sign,
            100.0 * rate / (sign * cores)
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = append
}
criterion_main!(benches);
