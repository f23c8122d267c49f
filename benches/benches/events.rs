//! Per-event costs beside the Ed25519 verify bound.
//!
//! - `bound/ed25519_verify_strict_200B`: one strict Ed25519 verification of a 200-byte message,
//!   about a record's signing input. This is the bound: every record a peer stores costs one.
//! - `event/{64B,4KiB}/create`: [`record::create`], a writer sealing one event (one signature, three
//!   seals).
//! - `event/{64B,4KiB}/verify_follower`: [`verify::verify_follower`], [VERIFY-1] (one verification,
//!   the record layer opened, three CIDs hashed).
//! - `event/{64B,4KiB}/verify_reader`: [`verify::verify_reader`], [VERIFY-2] (the follower's checks,
//!   then the header and body opened).
//! - `event/{64B,4KiB}/envelope_{encode,decode}`: [`Envelope::to_bytes`], [`Envelope::from_bytes`].
//!
//! After criterion's own report it prints each rate beside the bound measured in the same run.

mod common;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use threads::envelope::Envelope;
use threads::verify;
use threads_benches::{Bound, EventFixture, Recorder};

/// Samples per benchmark; set per group so the recorders know which calls are the samples.
const SAMPLES: usize = 50;

/// The two body sizes: a small message and a 4 KiB one.
const BODIES: [(&str, usize); 2] = [("64B", 64), ("4KiB", 4096)];

fn events(c: &mut Criterion) {
    let bound = common::measure_bound(c);

    let mut lines = Vec::new();
    for (name, len) in BODIES {
        let mut fixture = EventFixture::new(len, 2);
        let bytes = fixture.envelope.to_bytes();
        let mut group = c.benchmark_group(format!("event/{name}"));
        group
            .sample_size(SAMPLES)
            .throughput(Throughput::Elements(1));

        let mut create = Recorder::new(SAMPLES);
        group.bench_function("create", |b| {
            b.iter_custom(|iters| create.time(iters, || fixture.create()));
        });
        let mut follower = Recorder::new(SAMPLES);
        group.bench_function("verify_follower", |b| {
            b.iter_custom(|iters| {
                follower.time(iters, || {
                    verify::verify_follower(
                        &fixture.envelope,
                        &fixture.thread,
                        &fixture.log,
                        &fixture.keys.follow,
                    )
                    .expect("the fixture verifies")
                })
            });
        });
        let mut reader = Recorder::new(SAMPLES);
        group.bench_function("verify_reader", |b| {
            b.iter_custom(|iters| {
                reader.time(iters, || {
                    verify::verify_reader(
                        &fixture.envelope,
                        &fixture.thread,
                        &fixture.log,
                        &fixture.keys,
                    )
                    .expect("the fixture opens")
                })
            });
        });
        let mut encode = Recorder::new(SAMPLES);
        group.bench_function("envelope_encode", |b| {
            b.iter_custom(|iters| encode.time(iters, || fixture.envelope.to_bytes()));
        });
        let mut decode = Recorder::new(SAMPLES);
        group.bench_function("envelope_decode", |b| {
            b.iter_custom(|iters| {
                decode.time(iters, || {
                    Envelope::from_bytes(&bytes).expect("the envelope decodes")
                })
            });
        });
        group.finish();
        lines.push((name, bytes.len(), create, follower, reader, encode, decode));
    }

    // Nothing to report under `--test` or when a filter left the measured benches out.
    let measured = |l: &(
        &str,
        usize,
        Recorder,
        Recorder,
        Recorder,
        Recorder,
        Recorder,
    )| {
        [&l.2, &l.3, &l.4, &l.5, &l.6]
            .iter()
            .any(|r| r.per_second().is_some())
    };
    if !lines.iter().any(measured) {
        return;
    }
    let bound = Bound::from_recorder_or_measure(&bound);
    println!();
    println!("{}", bound.headline());
    for (name, envelope_len, create, follower, reader, encode, decode) in &lines {
        let what = |op: &str| format!("{op} ({name} body, {envelope_len} B envelope)");
        if let Some(rate) = follower.per_second() {
            let note = "1 verify per record; plus the record-layer open and three SHA-256 CIDs";
            println!("{}", bound.line(&what("verify_follower"), rate, 1, note));
        }
        if let Some(rate) = reader.per_second() {
            let note = "1 verify per event; plus the follower's opens and hashes, then the \
                        header and body opened";
            println!("{}", bound.line(&what("verify_reader"), rate, 1, note));
        }
        if let Some(rate) = create.per_second() {
            let note = "one Ed25519 sign and three seals: a writer's cost, bounded by signing, \
                        not verifying";
            println!("{}", bound.scale_line(&what("record::create"), rate, note));
        }
        for (op, recorder) in [("envelope encode", encode), ("envelope decode", decode)] {
            if let Some(rate) = recorder.per_second() {
                let note = "no signature: far from the bound";
                println!("{}", bound.scale_line(&what(op), rate, note));
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = events
}
criterion_main!(benches);
