//! What the benches share: the bound's own benchmark and the shape of a catch-up benchmark.
//! Included by each bench with `mod common;`; not every bench uses every item.
#![allow(dead_code)]

use criterion::{Criterion, SamplingMode, Throughput};
use threads_benches::{Bound, Ed25519Fixture, Recorder};

/// Samples of the bound.
pub const BOUND_SAMPLES: usize = 50;

/// Samples of each catch-up: each takes on the order of a second.
pub const CATCH_UP_SAMPLES: usize = 10;

/// `bound/ed25519_verify_strict_200B`: one strict Ed25519 verify of a 200-byte message, measured
/// in the same run as what is printed beside it.
pub fn measure_bound(c: &mut Criterion) -> Recorder {
    let mut bound = Recorder::new(BOUND_SAMPLES);
    let fixture = Ed25519Fixture::new(1);
    let mut group = c.benchmark_group("bound");
    group
        .sample_size(BOUND_SAMPLES)
        .throughput(Throughput::Elements(1));
    group.bench_function("ed25519_verify_strict_200B", |b| {
        b.iter_custom(|iters| bound.time(iters, || assert!(fixture.verify())));
    });
    group.finish();
    bound
}

/// `group/name`: catching up `events` events, flat-sampled; each iteration runs `setup` untimed
/// and then `routine` timed.
pub fn catch_up_bench<S, I, O>(
    c: &mut Criterion,
    (group_name, name): (&str, &str),
    events: u64,
    state: &mut S,
    mut setup: impl FnMut(&mut S) -> I,
    mut routine: impl FnMut(&mut S, I) -> O,
) -> Recorder {
    let mut recorder = Recorder::new(CATCH_UP_SAMPLES);
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(CATCH_UP_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(events));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| recorder.time_with_setup(iters, state, &mut setup, &mut routine));
    });
    group.finish();
    recorder
}

/// Prints each catch-up's events per second beside the bound, one verify per event; nothing when
/// no catch-up was measured (`--test`, or a filter).
pub fn report_catch_ups(bound: &Recorder, events: u64, lines: &[(&str, &Recorder, &str)]) {
    let rates: Vec<_> = lines
        .iter()
        .filter_map(|(what, recorder, note)| {
            recorder
                .per_second()
                .map(|r| (*what, r * events as f64, *note))
        })
        .collect();
    if rates.is_empty() {
        return;
    }
    let bound = Bound::from_recorder_or_measure(bound);
    println!();
    println!("{}", bound.headline());
    for (what, rate, note) in rates {
        println!("{}", bound.line(what, rate, 1, note));
    }
}
