//! The event-sourced database (spec/database.md, chapter 8), each figure beside what bounds it in
//! the same run.
//!
//! - `db_query_100k/{indexed,scan}`: one equality query over a 100,000-document collection,
//!   through the index on `n` and over the unindexed `m` (the same values): the scan is the
//!   figure the index must beat, and `examined` says why.
//! - `db_fold_10k/{in_order,late_by_100,late_by_all}`: one more event folded into a view of
//!   10,000 KV events: at the end of the order, or from another log with a lower clock, so the
//!   fold redoes the suffix from the checkpoint before it (8.9). `late_by_100` lands 50 clocks
//!   behind the end, where about 100 events follow it (each iteration also appends one in-order
//!   event, untimed, so the distance holds); `late_by_all` lands at clock 1, before every event.
//!   The in-order append is the figure beside the refolds, and the bench prints how many events
//!   each late one made the fold redo (checkpoints are every 32 events).
//! - `db_fold_growing_100k/{fold,decode}`: the fold of 100,000 events creating 50,000
//!   documents (the workload whose checkpoints once held more than 23 GB), beside the decoding of
//!   the same event bodies, which any fold must do; the bench also prints how far the resident
//!   set rises over one fold (Linux `VmHWM`, reset first) and the view's checkpoint count. It runs
//!   first, so no earlier bench's memory muddles the figure.
//! - `db_durable/{put_redb,put_memory,store_commit}`: a `Kv::put` through a peer on redb (sign,
//!   seal, fold, one fsynced write transaction holding the record and the view rows), the same on
//!   the in-memory store, and the store's raw rate: one redb write transaction of one envelope of
//!   the same size, no views.
//! - `db_restart/{full_fold,restored,from_snapshot,compacted}`: rebuilding the view of a restarted
//!   peer over [`RESTART_EVENTS`] events (100,000 by default; set `THREADS_RESTART_EVENTS=1000000`
//!   for the million): folded from every event; restored as a peer restarts, from the
//!   snapshot rows it kept with the events and every event held, decoding only those the
//!   snapshot does not cover ([DB-29]); from the latest snapshot with every event held, each
//!   decoded to find its key ([DB-24]); and from the snapshot with only the events after it (a
//!   compacted view, [DB-26]). The full fold is the figure beside the others, and the bench
//!   prints each ratio.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::block;
use threads::db::{
    Database, DbEvent, DbRecord, DbView, Filter, Op, Query, Reducer, SNAPSHOT_EVERY, Schema, Value,
};
use threads::id::{LogId, Variant};
use threads::keys::IdentityKey;
use threads::store::redb::RedbStore;
use threads::store::{MemoryStore, Store};
use threads::sync::Peer;
use threads_benches::Recorder;

/// A field of /proc/self/status in bytes (Linux; `None` elsewhere): `VmRSS` the resident set,
/// `VmHWM` its peak since the last reset ([`reset_peak`]).
fn vm(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets `VmHWM` to the current resident set (Linux: `5` into clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Documents in the queried collection.
const DOCS: i64 = 100_000;
/// Distinct values of `n` and `m`: each query matches `DOCS / VALUES` documents.
const VALUES: i64 = 1_000;
/// Events in the view the fold benches extend.
const FOLD_EVENTS: u64 = 10_000;
/// How far behind the end the late event of `late_by_100` lands.
const LATE_BY: u64 = 100;
const SAMPLES: usize = 20;
/// Events in the restarted view, unless `THREADS_RESTART_EVENTS` says otherwise.
const RESTART_EVENTS: u64 = 100_000;
const RESTART_SAMPLES: usize = 10;
const DURABLE_SAMPLES: usize = 10;

fn log(seed: u8) -> LogId {
    IdentityKey::from_seed(&[seed; 32]).log_id()
}

/// A record of `log` at `seq` carrying one event.
fn record(log: LogId, seq: u64, clock: u64, ops: Vec<Op>) -> DbRecord {
    let body = DbEvent::new(clock, ops).expect("a valid event").to_bytes();
    DbRecord {
        cid: block::cid_of(&body),
        log,
        seq,
        body,
    }
}

/// A view holding collection `c`, indexed on `n` only, with [`DOCS`] documents `{n, m}`, `n` and
/// `m` both the document's number modulo [`VALUES`].
fn collection_view() -> DbView {
    let writer = log(1);
    let declare = Op::Collection {
        name: "c".into(),
        schema: Schema::default(),
        indexes: vec!["n".into()],
    };
    let mut records = vec![record(writer, 1, 1, vec![declare])];
    let per_event = threads::db::MAX_OPS as i64;
    for (i, start) in (0..DOCS).step_by(per_event as usize).enumerate() {
        let ops = (start..(start + per_event).min(DOCS))
            .map(|d| Op::Create {
                coll: "c".into(),
                id: format!("d{d:06}"),
                doc: BTreeMap::from([
                    ("n".into(), Value::Integer(d % VALUES)),
                    ("m".into(), Value::Integer(d % VALUES)),
                ]),
            })
            .collect();
        let seq = i as u64 + 2;
        records.push(record(writer, seq, seq, ops));
    }
    DbView::from_records(&records)
}

/// A view of [`FOLD_EVENTS`] puts from one log, clocks 1, 2, …, over 100 keys.
fn kv_view() -> DbView {
    let writer = log(2);
    let records: Vec<DbRecord> = (1..=FOLD_EVENTS)
        .map(|i| record(writer, i, i, vec![put(i)]))
        .collect();
    DbView::from_records(&records)
}

fn put(i: u64) -> Op {
    Op::Put {
        key: format!("k{}", i % 100),
        value: Value::Integer(i as i64),
    }
}

fn flat_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    samples: usize,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(samples)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(1));
    group
}

fn query(c: &mut Criterion) {
    let view = collection_view();
    let coll = view.collection("c").expect("declared");
    let indexed = Query::all("c").filter(Filter::eq("n", 7));
    let scan = Query::all("c").filter(Filter::eq("m", 7));
    // The setup checks what the bench claims: one answer, and the index does not scan.
    let (by_index, by_scan) = (indexed.run(coll), scan.run(coll));
    let matches = (DOCS / VALUES) as usize;
    assert_eq!(coll.docs().len(), DOCS as usize);
    assert_eq!(by_index.docs.len(), matches);
    assert_eq!(by_index.docs, by_scan.docs, "both find the same documents");
    assert_eq!(
        by_index.examined, matches,
        "the index examines its matches only"
    );
    assert_eq!(
        by_scan.examined, DOCS as usize,
        "the scan examines every document"
    );

    let mut group = flat_group(c, "db_query_100k", SAMPLES);
    let mut fast = Recorder::new(SAMPLES);
    group.bench_function("indexed", |b| {
        b.iter_custom(|iters| fast.time(iters, || indexed.run(coll)));
    });
    let mut slow = Recorder::new(SAMPLES);
    group.bench_function("scan", |b| {
        b.iter_custom(|iters| slow.time(iters, || scan.run(coll)));
    });
    group.finish();
    if let (Some(fast), Some(slow)) = (fast.per_second(), slow.per_second()) {
        println!();
        println!(
            "indexed query (n = 7 over {DOCS} documents): {:.1} µs/query, examined {} \
             = {matches} matches",
            1e6 / fast,
            by_index.examined
        );
        println!(
            "full scan (m = 7, unindexed, same documents): {:.1} µs/query, examined {}; the index \
             is {:.0}x faster and examines {:.0}x fewer",
            1e6 / slow,
            by_scan.examined,
            fast / slow,
            by_scan.examined as f64 / by_index.examined as f64
        );
    }
}

/// A view being extended, and the seqs of its two writers' next events.
struct Folding {
    view: DbView,
    /// The two writers' logs, derived once: deriving a log ID is a scalar multiplication.
    own_log: LogId,
    late_log: LogId,
    own_seq: u64,
    late_seq: u64,
    inserted: u64,
}

impl Folding {
    /// The next event of the view's own writer, at the end of the order.
    fn in_order(&mut self) -> DbRecord {
        self.own_seq += 1;
        let clock = self.view.max_clock() + 1;
        record(self.own_log, self.own_seq, clock, vec![put(self.own_seq)])
    }

    /// The next event of another writer, `by` clocks behind the end.
    fn late(&mut self, by: u64) -> DbRecord {
        self.late_seq += 1;
        let clock = self.view.max_clock().saturating_sub(by).max(1);
        record(
            self.late_log,
            self.late_seq,
            clock,
            vec![put(self.late_seq)],
        )
    }

    fn insert(&mut self, record: &DbRecord) -> bool {
        self.inserted += 1;
        self.view.insert(record)
    }
}

fn fold(c: &mut Criterion) {
    let base = kv_view();
    let mut group = flat_group(c, "db_fold_10k", SAMPLES);
    let start = |view: &DbView| Folding {
        view: view.clone(),
        own_log: log(2),
        late_log: log(3),
        own_seq: FOLD_EVENTS,
        late_seq: 0,
        inserted: 0,
    };

    // One more event at the end per iteration: the view grows, the append's cost barely does.
    // Only the insert is timed, here and below; encoding the record is the setup.
    let mut cases = Vec::new();
    let mut folding = start(&base);
    let mut in_order = Recorder::new(SAMPLES);
    group.bench_function("in_order", |b| {
        b.iter_custom(|iters| {
            in_order.time_with_setup(
                iters,
                &mut folding,
                |f| f.in_order(),
                |f, next| f.insert(&next),
            )
        });
    });
    cases.push((
        "in_order",
        in_order,
        folding.view.refolded(),
        folding.inserted,
    ));

    // A late event per iteration, after an untimed in-order one: the late event lands half `by`
    // clocks behind the end, so about `by` events (half of them earlier late ones) follow it.
    for (name, by) in [
        ("late_by_100", LATE_BY / 2),
        ("late_by_all", FOLD_EVENTS * 2),
    ] {
        let mut folding = start(&base);
        let mut recorder = Recorder::new(SAMPLES);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                recorder.time_with_setup(
                    iters,
                    &mut folding,
                    |f| {
                        let next = f.in_order();
                        f.view.insert(&next);
                        f.late(by)
                    },
                    |f, late| f.insert(&late),
                )
            });
        });
        cases.push((name, recorder, folding.view.refolded(), folding.inserted));
    }
    group.finish();

    let rates: Vec<_> = cases
        .iter()
        .filter_map(|(name, r, refolded, inserted)| {
            let per_event = *refolded as f64 / (*inserted).max(1) as f64;
            r.per_second().map(|rate| (*name, rate, per_event))
        })
        .collect();
    let Some(&(_, in_order, _)) = rates.iter().find(|(name, _, _)| *name == "in_order") else {
        return;
    };
    println!();
    for (name, rate, refolded) in rates {
        println!(
            "fold {name} (view of {FOLD_EVENTS}+ events): {:.1} µs/event ({:.0} events/s) = \
             {:.1}x the in-order append; {refolded:.0} events refolded per event",
            1e6 / rate,
            rate,
            in_order / rate
        );
    }
}

/// Events of the growing fold, half of them creating a document.
const GROWING_EVENTS: u64 = 100_000;

/// One writer declaring `c`, then alternately creating a document and putting one of 100 keys.
fn growing_records(n: u64) -> Vec<DbRecord> {
    let writer = log(4);
    let declare = Op::Collection {
        name: "c".into(),
        schema: Schema::default(),
        indexes: vec!["n".into()],
    };
    let mut records = vec![record(writer, 1, 1, vec![declare])];
    for i in 1..n {
        let op = match i % 2 {
            0 => put(i),
            _ => Op::Create {
                coll: "c".into(),
                id: format!("d{i}"),
                doc: BTreeMap::from([("n".into(), Value::Integer((i % 1000) as i64))]),
            },
        };
        records.push(record(writer, i + 1, i + 1, vec![op]));
    }
    records
}

fn growing(c: &mut Criterion) {
    let records = growing_records(GROWING_EVENTS);
    // Memory first, once, outside criterion: how far the resident set rises over the fold. The
    // allocator keeps what it freed, so only the peak means anything, not what stays after.
    let before = vm("VmRSS");
    let reset = reset_peak();
    let view = DbView::from_records(&records);
    let peak = vm("VmHWM")
        .zip(before)
        .filter(|_| reset)
        .map(|(p, b)| p - b);
    let checkpoints = view.checkpoint_count();
    drop(view);

    let mut group = c.benchmark_group(format!("db_fold_growing_{}k", GROWING_EVENTS / 1000));
    group
        .sample_size(RESTART_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(GROWING_EVENTS));
    let mut fold = Recorder::new(RESTART_SAMPLES);
    group.bench_function("fold", |b| {
        b.iter_custom(|iters| fold.time(iters, || DbView::from_records(&records)))
    });
    let mut decode = Recorder::new(RESTART_SAMPLES);
    group.bench_function("decode", |b| {
        b.iter_custom(|iters| {
            decode.time(iters, || {
                records
                    .iter()
                    .filter_map(|r| DbEvent::classify(&r.body).ok().flatten())
                    .count()
            })
        })
    });
    group.finish();
    let mb = |bytes: usize| bytes as f64 / 1e6;
    println!();
    println!(
        "fold of {GROWING_EVENTS} events creating {} documents: {checkpoints} checkpoints",
        GROWING_EVENTS / 2
    );
    if let (Some(peak), Some(before)) = (peak, before) {
        println!(
            "  the resident set rose {:.0} MB over the fold, from {:.0} MB holding the records",
            mb(peak),
            mb(before)
        );
    }
    if let (Some(fold), Some(decode)) = (fold.per_second(), decode.per_second()) {
        println!(
            "  fold {:.0} ms beside decoding the bodies alone {:.0} ms ({:.1}x)",
            1e3 / fold,
            1e3 / decode,
            decode / fold
        );
    }
}

fn durable(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RedbStore::open(&dir.path().join("db.redb")).expect("store");
    let mut on_disk = Peer::open(
        IdentityKey::from_seed(&[4; 32]),
        ChaCha20Rng::seed_from_u64(4),
        store,
        0,
    )
    .expect("peer");
    let mut in_memory = Peer::open(
        IdentityKey::from_seed(&[5; 32]),
        ChaCha20Rng::seed_from_u64(5),
        MemoryStore::new(),
        0,
    )
    .expect("peer");
    let mut group = flat_group(c, "db_durable", DURABLE_SAMPLES);

    let (thread, _) = on_disk.create_thread(1, Variant::Raw).expect("thread");
    let mut db = Database::open(&mut on_disk, thread.clone()).expect("db");
    // The envelope a put stores, for the raw store write of the same size.
    db.kv(&mut on_disk, 1).put("k0", &0u64).expect("put");
    let envelope = {
        let heads = on_disk.heads(&thread).expect("heads");
        let own = heads.keys().next().expect("the writer's log");
        on_disk.envelopes(&thread, own).expect("log")[0].to_bytes()
    };
    let mut i = 0u64;
    let mut redb_put = Recorder::new(DURABLE_SAMPLES);
    group.bench_function("put_redb", |b| {
        b.iter_custom(|iters| {
            redb_put.time(iters, || {
                i += 1;
                db.kv(&mut on_disk, i + 1)
                    .put(&format!("k{}", i % 100), &i)
                    .expect("put")
            })
        });
    });

    let (thread_m, _) = in_memory.create_thread(1, Variant::Raw).expect("thread");
    let mut db_m = Database::open(&mut in_memory, thread_m).expect("db");
    let mut j = 0u64;
    let mut memory_put = Recorder::new(DURABLE_SAMPLES);
    group.bench_function("put_memory", |b| {
        b.iter_custom(|iters| {
            memory_put.time(iters, || {
                j += 1;
                db_m.kv(&mut in_memory, j + 1)
                    .put(&format!("k{}", j % 100), &j)
                    .expect("put")
            })
        });
    });

    let mut raw = RedbStore::open(&dir.path().join("raw.redb")).expect("store");
    raw.put_thread(b"bench", b"meta").expect("thread");
    let mut seq = 0u64;
    let mut store_commit = Recorder::new(DURABLE_SAMPLES);
    group.bench_function("store_commit", |b| {
        b.iter_custom(|iters| {
            store_commit.time(iters, || {
                seq += 1;
                raw.put_records(b"bench", b"log", seq, std::slice::from_ref(&envelope))
                    .expect("commit")
            })
        });
    });
    group.finish();

    let (Some(disk), Some(memory), Some(commit)) = (
        redb_put.per_second(),
        memory_put.per_second(),
        store_commit.per_second(),
    ) else {
        return;
    };
    println!();
    println!(
        "redb write transaction, one {}-byte envelope, no views: {commit:.0} commits/s ({:.2} ms)",
        envelope.len(),
        1e3 / commit
    );
    println!(
        "Kv::put on redb (sign, seal, fold, record and view rows in one transaction): {disk:.0} \
         events/s ({:.2} ms) = {:.0}% of the store's raw commit rate",
        1e3 / disk,
        100.0 * disk / commit
    );
    println!(
        "Kv::put in memory (the same without the disk): {memory:.0} events/s ({:.3} ms)",
        1e3 / memory
    );
}

/// Three writers' puts and document writes, clocks growing, as a restarted peer holds them.
fn restart_records(n: u64) -> Vec<DbRecord> {
    let logs = [log(5), log(6), log(7)];
    let declare = Op::Collection {
        name: "c".into(),
        schema: Schema::default(),
        indexes: vec!["n".into()],
    };
    let mut records = vec![record(logs[0], 1, 1, vec![declare])];
    let mut seqs = [1u64, 0, 0];
    for i in 0..n - 1 {
        let w = (i % 3) as usize;
        seqs[w] += 1;
        // A bounded state (100 keys, 200 documents): the restart figures are about the events,
        // `db_fold_growing` is the bench of a state that grows with them.
        let (j, coll, id) = (i / 2, "c".to_owned(), format!("d{}", (i / 2) % 200));
        let n = BTreeMap::from([("n".into(), Value::Integer((i % 1000) as i64))]);
        let op = match (i % 2, j < 200) {
            (0, _) => put(i),
            (_, true) => Op::Create { coll, id, doc: n },
            _ => Op::Save {
                coll,
                id,
                patch: threads::db::Patch {
                    set: n,
                    unset: Vec::new(),
                },
            },
        };
        records.push(record(logs[w], seqs[w], 2 + i / 3, vec![op]));
    }
    records
}

fn restart(c: &mut Criterion) {
    let n = std::env::var("THREADS_RESTART_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RESTART_EVENTS);
    let records = restart_records(n);
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("at least 256 events");
    let after: Vec<DbRecord> = records
        .iter()
        .filter(|r| r.order_key().is_some_and(|k| k > *snapshot.last()))
        .cloned()
        .collect();
    // The rows a peer stores with the events, the kept snapshot among them [DB-28].
    let rows = full.rows();
    // The setup checks what the bench claims: all four give the view of the whole set.
    let resumed = DbView::resume(&snapshot, &records).expect("resume");
    let compacted = DbView::resume(&snapshot, &after).expect("compacted");
    let restored = DbView::restore(&rows, &records)
        .expect("restore")
        .expect("a kept snapshot");
    assert_eq!(resumed.cid(), full.cid());
    assert_eq!(compacted.cid(), full.cid());
    assert_eq!(restored.cid(), full.cid());
    assert!(after.len() < SNAPSHOT_EVERY, "the snapshot is the latest");
    drop((full, resumed, compacted, restored));

    let mut group = c.benchmark_group(format!("db_restart_{n}"));
    group
        .sample_size(RESTART_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(n));
    let mut figures = Vec::new();
    let cases: [(&str, &dyn Fn() -> DbView); 4] = [
        ("full_fold", &|| DbView::from_records(&records)),
        ("restored", &|| {
            DbView::restore(&rows, &records)
                .expect("restore")
                .expect("kept")
        }),
        ("from_snapshot", &|| {
            DbView::resume(&snapshot, &records).expect("resume")
        }),
        ("compacted", &|| {
            DbView::resume(&snapshot, &after).expect("resume")
        }),
    ];
    for (name, rebuild) in cases {
        let mut recorder = Recorder::new(RESTART_SAMPLES);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| recorder.time(iters, || std::hint::black_box(rebuild())))
        });
        if let Some(rate) = recorder.per_second() {
            figures.push((name, rate));
        }
    }
    group.finish();
    let Some(&(_, full_rate)) = figures.iter().find(|(name, _)| *name == "full_fold") else {
        return;
    };
    println!();
    for (name, rate) in figures {
        println!(
            "restart of a view over {n} events, {name}: {:.1} ms = {:.1}x faster than the full fold",
            1e3 / rate,
            rate / full_rate
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = growing, query, fold, durable, restart
}
criterion_main!(benches);
