//! Single-writer logs (spec/logs.md): [LOG-1]..[LOG-8], and [VERIFY-3] (a failed verification never
//! changes stored state).

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use common::{Fixture, code, rng};
use proptest::prelude::*;
use threads::envelope::Envelope;
use threads::keys::IdentityKey;
use threads::log::{Accepted, Log, LogReplica, nothing_older, pull_batch};
use threads::record::{self, Position};
use threads::sync::MAX_BATCH_BYTES;
use threads::verify::VerifiedRecord;
use threads::{ErrorCode, block};

/// A fixture and a writer for its log that has appended `n` events.
fn written(seed: u64, n: usize) -> (Fixture, LogReplica, Vec<Envelope>) {
    let mut fx = Fixture::new(seed);
    let mut writer = LogReplica::new(fx.thread.clone(), fx.identity.log_id());
    let envelopes = (0..n)
        .map(|i| {
            writer
                .append_own(
                    &fx.identity,
                    &fx.keys,
                    format!("event {i}").as_bytes(),
                    1000 + i as u64,
                    &mut fx.rng,
                )
                .expect("a writer appends")
        })
        .collect();
    (fx, writer, envelopes)
}

fn verified(fx: &Fixture, env: &Envelope) -> VerifiedRecord {
    fx.verify(env).expect("a valid envelope")
}

/// Accepts `record`, which must be rejected with `expected`, and checks the log did not change.
fn assert_rejected(log: &mut Log, record: &VerifiedRecord, expected: ErrorCode) {
    let before = log.clone();
    assert_eq!(code(log.accept(record)), expected);
    assert_eq!(
        *log, before,
        "a rejected record must change nothing [LOG-8]"
    );
}

/// Checks [LOG-2].
#[test]
fn log_2_empty_log_has_no_head_and_counter_zero() {
    let log = Log::new();
    assert_eq!(log.head(), None);
    assert_eq!(log.counter(), 0);
    assert_eq!(log.get(0), None);
    assert_eq!(log.get(1), None);
    assert!(log.records().is_empty());
    assert_eq!(log.next_position(), Position::FIRST);
}

/// Checks [LOG-2], [LOG-3].
#[test]
fn log_2_log_3_next_record_is_appended_and_head_and_counter_advance() {
    let (fx, writer, envelopes) = written(1, 3);
    let mut log = Log::new();
    for (i, env) in envelopes.iter().enumerate() {
        let record = verified(&fx, env);
        assert_eq!(log.accept(&record), Ok(Accepted::Appended));
        assert_eq!(log.head(), Some(&env.record_cid()));
        assert_eq!(log.counter(), i as u64 + 1);
        assert_eq!(log.get(i as u64 + 1), Some(&env.record_cid()));
    }
    assert_eq!(&log, writer.chain());
}

/// Checks [LOG-2] for a trimmed log: it keeps its counter and head, and `first_held` names the
/// seq of the first CID it still holds, so a caller knows which ones to ask its store for.
#[test]
fn log_2_a_trimmed_log_reports_the_first_seq_it_holds() {
    let (fx, _, envelopes) = written(2, 5);
    let mut log = Log::new();
    assert_eq!(
        log.first_held(),
        1,
        "an untrimmed log holds every CID from seq 1"
    );
    for env in &envelopes {
        assert_eq!(log.accept(&verified(&fx, env)), Ok(Accepted::Appended));
    }
    assert_eq!(log.first_held(), 1);
    log.trim(2);
    assert_eq!(log.counter(), 5);
    assert_eq!(log.head(), Some(&envelopes[4].record_cid()));
    assert_eq!(log.first_held(), 4);
    assert_eq!(
        log.records(),
        &[envelopes[3].record_cid(), envelopes[4].record_cid()]
    );
    assert_eq!(log.get(log.first_held()), Some(&envelopes[3].record_cid()));
    assert_eq!(log.get(log.first_held() - 1), None);
}

/// Checks [LOG-4], [LOG-5] on a trimmed log decided without a store ([`Log::accept`]): a record
/// at a seq it counts but no longer holds can be told neither a duplicate nor a fork, so it is
/// STORE_CORRUPT and changes nothing [LOG-8]; one it still holds is a duplicate as before.
#[test]
fn log_4_a_trimmed_log_without_a_store_answers_an_older_seq_store_corrupt() {
    let (fx, _, envelopes) = written(3, 4);
    let mut log = Log::new();
    for env in &envelopes {
        assert_eq!(log.accept(&verified(&fx, env)), Ok(Accepted::Appended));
    }
    log.trim(1);
    assert_eq!(
        nothing_older(1),
        Ok(None),
        "no store: nothing older is held"
    );
    let before = log.clone();
    for env in &envelopes[..3] {
        assert_eq!(
            code(log.accept(&verified(&fx, env))),
            ErrorCode::StoreCorrupt
        );
        assert_eq!(log, before);
    }
    assert_eq!(
        log.accept(&verified(&fx, &envelopes[3])),
        Ok(Accepted::Duplicate)
    );
}

/// An envelope with blocks of the given lengths: [`pull_batch`] counts bytes, never decodes.
fn sized(record: usize, event: usize, header: usize, body: usize) -> Envelope {
    Envelope {
        body: vec![0; body],
        event: vec![1; event],
        header: vec![2; header],
        record: vec![3; record],
    }
}

/// Checks [SYNC-5]: a pull answer carries no more than MAX_BATCH_BYTES counted over the record,
/// event, header and body blocks together (exactly that many fit, one byte more does not), except
/// that the first record is always carried.
#[test]
fn sync_5_pull_batch_counts_all_four_blocks_up_to_max_batch_bytes_exactly() {
    let (record, event, header) = (1000, 100, 200);
    let of_size = |size: usize| sized(record, event, header, size - record - event - header);
    let half = MAX_BATCH_BYTES / 2;
    let first = of_size(half);
    let fits = of_size(MAX_BATCH_BYTES - half);
    let over = of_size(MAX_BATCH_BYTES - half + 1);
    let batch = pull_batch([first.clone(), fits.clone(), first.clone()], 10);
    assert_eq!(batch.len(), 2, "exactly MAX_BATCH_BYTES in two envelopes");
    assert!(batch[0] == first && batch[1] == fits);
    let batch = pull_batch([first.clone(), over.clone()], 10);
    assert_eq!(batch.len(), 1, "one byte over MAX_BATCH_BYTES");
    assert!(batch[0] == first);
    let huge = of_size(MAX_BATCH_BYTES + 1);
    let batch = pull_batch([huge.clone(), first.clone()], 10);
    assert_eq!(batch.len(), 1, "the first record is always carried");
    assert!(batch[0] == huge);
    assert_eq!(first.size(), half);
    assert_eq!(over.size(), MAX_BATCH_BYTES - half + 1);
}

/// Checks [LOG-4].
#[test]
fn log_4_duplicate_replay_is_a_no_op() {
    let (fx, _, envelopes) = written(2, 2);
    let mut log = Log::new();
    for env in &envelopes {
        log.accept(&verified(&fx, env)).expect("in order");
    }
    let before = log.clone();
    for env in envelopes.iter().rev() {
        assert_eq!(log.accept(&verified(&fx, env)), Ok(Accepted::Duplicate));
        assert_eq!(log, before);
    }
}

/// Checks [LOG-5].
#[test]
fn log_5_second_record_at_a_taken_position_is_a_fork_and_the_first_stays() {
    let (mut fx, _, envelopes) = written(3, 2);
    let mut log = Log::new();
    for env in &envelopes {
        log.accept(&verified(&fx, env)).expect("in order");
    }
    // The writer's key signs a second, different record at seq 1 and at seq 2.
    let fork_1 = fx.create(Position::FIRST, b"equivocation", 1);
    let fork_2 = fx.create(
        Position {
            seq: 2,
            prev: Some(envelopes[0].record_cid()),
        },
        b"equivocation",
        2,
    );
    for fork in [&fork_1, &fork_2] {
        assert_ne!(
            fork.record_cid(),
            log.get(fx.open_record(fork).seq).copied().expect("held")
        );
        assert_rejected(&mut log, &verified(&fx, fork), ErrorCode::LogFork);
    }
    assert_eq!(log.get(1), Some(&envelopes[0].record_cid()));
    assert_eq!(log.get(2), Some(&envelopes[1].record_cid()));
}

/// Checks [LOG-6].
#[test]
fn log_6_next_seq_with_a_prev_other_than_the_head_is_a_broken_link() {
    let (mut fx, _, envelopes) = written(4, 1);
    let mut log = Log::new();
    log.accept(&verified(&fx, &envelopes[0])).expect("first");
    let fork_1 = fx.create(Position::FIRST, b"other first", 1);
    for prev in [fork_1.record_cid(), block::cid_of(b"nothing")] {
        let next = fx.create(
            Position {
                seq: 2,
                prev: Some(prev),
            },
            b"second",
            2,
        );
        assert_rejected(&mut log, &verified(&fx, &next), ErrorCode::LogBrokenLink);
    }
    assert_eq!(log.counter(), 1);
}

/// Checks [LOG-7].
#[test]
fn log_7_gap_is_rejected_until_the_missing_records_arrive() {
    let (fx, writer, envelopes) = written(5, 3);
    let records: Vec<_> = envelopes.iter().map(|e| verified(&fx, e)).collect();
    let mut log = Log::new();
    assert_rejected(&mut log, &records[1], ErrorCode::LogGap);
    assert_rejected(&mut log, &records[2], ErrorCode::LogGap);
    assert_eq!(log.accept(&records[0]), Ok(Accepted::Appended));
    assert_rejected(&mut log, &records[2], ErrorCode::LogGap);
    assert_eq!(log.accept(&records[1]), Ok(Accepted::Appended));
    assert_eq!(log.accept(&records[2]), Ok(Accepted::Appended));
    assert_eq!(&log, writer.chain());
}

/// Checks [LOG-8].
#[test]
fn log_8_rejections_never_move_the_head() {
    let (mut fx, _, envelopes) = written(6, 3);
    let mut log = Log::new();
    log.accept(&verified(&fx, &envelopes[0])).expect("first");
    log.accept(&verified(&fx, &envelopes[1])).expect("second");
    let head = log.head().copied();
    let fork = fx.create(Position::FIRST, b"fork", 9);
    let broken = fx.create(
        Position {
            seq: 3,
            prev: Some(envelopes[0].record_cid()),
        },
        b"broken",
        9,
    );
    let gap = fx.create(
        Position {
            seq: 5,
            prev: Some(envelopes[2].record_cid()),
        },
        b"gap",
        9,
    );
    assert_rejected(&mut log, &verified(&fx, &fork), ErrorCode::LogFork);
    assert_rejected(&mut log, &verified(&fx, &broken), ErrorCode::LogBrokenLink);
    assert_rejected(&mut log, &verified(&fx, &gap), ErrorCode::LogGap);
    assert_eq!(log.head().copied(), head);
    assert_eq!(log.counter(), 2);
}

/// Checks [LOG-1].
#[test]
fn log_1_writer_appends_at_counter_plus_one_linking_the_head() {
    let (fx, writer, envelopes) = written(7, 4);
    assert_eq!(writer.id(), fx.log);
    let mut prev = None;
    let mut content_keys = Vec::new();
    for (i, env) in envelopes.iter().enumerate() {
        let opened = fx.read(env).expect("the writer's envelopes verify");
        assert_eq!(opened.record.seq(), i as u64 + 1);
        assert_eq!(opened.record.prev(), prev.as_ref());
        assert_eq!(opened.body, format!("event {i}").into_bytes());
        assert_eq!(opened.header.time, 1000 + i as u64);
        content_keys.push(opened.header.content_key);
        prev = Some(env.record_cid());
    }
    assert_eq!(writer.chain().counter(), 4);
    assert_eq!(writer.chain().head(), prev.as_ref());
    // [KEY-4] a fresh content key per event; [SEAL-1] fresh nonces for the header and body layers.
    for (i, a) in envelopes.iter().enumerate() {
        for (j, b) in envelopes.iter().enumerate().skip(i + 1) {
            assert_ne!(content_keys[i], content_keys[j]);
            assert_ne!(a.header[..26], b.header[..26], "header nonces {i} and {j}");
            assert_ne!(a.body[..26], b.body[..26], "body nonces {i} and {j}");
        }
    }
}

/// Checks [LOG-1].
#[test]
fn log_1_a_followers_log_accepts_the_writers_envelopes_in_order() {
    let (fx, writer, envelopes) = written(8, 5);
    let follow = fx.keys.for_follower().follow;
    let mut log = Log::new();
    for env in &envelopes {
        // The envelope crosses the wire as bytes.
        let env = Envelope::from_bytes(&env.to_bytes()).expect("canonical envelope");
        let record = threads::verify::verify_follower(&env, &fx.thread, &fx.log, &follow)
            .expect("a follower verifies");
        assert_eq!(log.accept(&record), Ok(Accepted::Appended));
    }
    assert_eq!(&log, writer.chain());
}

/// Checks [LOG-1].
#[test]
fn log_1_only_records_signed_by_the_logs_key_belong_to_it() {
    let (mut fx, _, envelopes) = written(9, 1);
    // Someone else's key signs a record that claims this log's next position.
    let intruder = IdentityKey::generate(&mut rng(90));
    let event = block::cid_of(&envelopes[0].event);
    let forged = record::sign(
        &fx.thread,
        &intruder,
        event,
        Some(envelopes[0].record_cid()),
        2,
    );
    let env = fx.with_record(&envelopes[0], &forged);
    assert_eq!(code(fx.verify(&env)), ErrorCode::SignatureInvalid);
}

/// What a follower does with an envelope: verify, then accept [VERIFY-3].
fn receive(fx: &Fixture, log: &mut Log, env: &Envelope) -> threads::Result<Accepted> {
    let record = fx.verify(env)?;
    log.accept(&record)
}

/// Checks [VERIFY-3].
#[test]
fn verify_3_failed_verification_never_changes_stored_state() {
    let (fx, writer, envelopes) = written(10, 2);
    let mut log = Log::new();
    receive(&fx, &mut log, &envelopes[0]).expect("first");
    let before = log.clone();
    let mut tampered = envelopes[1].clone();
    let last = tampered.body.len() - 1;
    tampered.body[last] ^= 1;
    let mut resealed = envelopes[1].clone();
    resealed.record[5] ^= 1;
    let swapped = Envelope {
        event: envelopes[0].event.clone(),
        ..envelopes[1].clone()
    };
    for (bad, expected) in [
        (&tampered, ErrorCode::CidMismatch),
        (&resealed, ErrorCode::RecordDecryptFailed),
        (&swapped, ErrorCode::CidMismatch),
    ] {
        assert_eq!(code(receive(&fx, &mut log, bad)), expected);
        assert_eq!(log, before);
    }
    assert_eq!(
        receive(&fx, &mut log, &envelopes[1]),
        Ok(Accepted::Appended)
    );
    assert_eq!(&log, writer.chain());
}

const N: usize = 8;

/// The writer's log after `N` appends and the verified records a follower makes of them.
fn delivered() -> &'static (Log, Vec<VerifiedRecord>) {
    static DELIVERED: OnceLock<(Log, Vec<VerifiedRecord>)> = OnceLock::new();
    DELIVERED.get_or_init(|| {
        let (fx, writer, envelopes) = written(11, N);
        let records = envelopes.iter().map(|e| verified(&fx, e)).collect();
        (writer.chain().clone(), records)
    })
}

/// Every index once, in any order, plus some replays, interleaved.
fn delivery_order() -> impl Strategy<Value = Vec<usize>> {
    (
        Just((0..N).collect::<Vec<_>>()),
        prop::collection::vec(0..N, 0..N),
    )
        .prop_flat_map(|(all, replays)| Just([all, replays].concat()).prop_shuffle())
}

proptest! {
    /// [LOG-3]..[LOG-8]: whatever the order, holding gaps and retrying them after each fill ends
    /// with the writer's log, and the head never moves backward.
    #[test]
    fn log_8_any_delivery_order_converges_to_the_writers_log(order in delivery_order()) {
        let (writer_log, records) = delivered();
        let mut log = Log::new();
        let mut held: BTreeMap<u64, &VerifiedRecord> = BTreeMap::new();
        for index in order {
            let before = log.clone();
            let record = &records[index];
            match log.accept(record) {
                Ok(Accepted::Appended) => {
                    // Retry held records now that the gap may be filled.
                    while let Some(next) = held.remove(&(log.counter() + 1)) {
                        prop_assert_eq!(log.accept(next), Ok(Accepted::Appended));
                    }
                }
                Ok(Accepted::Duplicate) => prop_assert_eq!(&log, &before),
                Err(e) => {
                    prop_assert_eq!(e.code, ErrorCode::LogGap);
                    prop_assert_eq!(&log, &before);
                    held.insert(record.seq(), record);
                }
            }
            prop_assert!(log.counter() >= before.counter(), "the head moved backward");
            prop_assert_eq!(&log.records()[..before.records().len()], before.records());
        }
        prop_assert!(held.is_empty());
        prop_assert_eq!(&log, writer_log);
    }
}
