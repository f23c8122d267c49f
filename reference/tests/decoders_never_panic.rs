//! Property-based fuzzing of every decoder that takes bytes or text from files or the network:
//! arbitrary input and single-byte mutations of valid input must give a value or a registry error,
//! never a panic. The same entry points are the cargo-fuzz targets in `fuzz/`.

mod common;

use std::str::FromStr;

use common::Fixture;
use proptest::prelude::*;
use threads::acl::{AclAnchor, AclDocument, AclEvent};
use threads::addr::LogAddr;
use threads::db::{DbEvent, DbRecord, DbView, Op, Patch, Query, Value};
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::invite::Invite;
use threads::keys::IdentityKey;
use threads::keys::KeySet;
use threads::log::Log;
use threads::record::{Event, Header, Position, Record};
use threads::sync::Message;
use threads::verify;

/// Runs every byte decoder on `bytes`; each either decodes or returns a registry error.
fn decode_all(bytes: &[u8]) {
    let _ = ThreadId::from_bytes(bytes);
    let _ = LogId::from_bytes(bytes);
    let _ = KeySet::from_bytes(bytes);
    let _ = Header::from_bytes(bytes);
    let _ = Event::from_bytes(bytes);
    let _ = Record::from_bytes(bytes);
    let _ = Envelope::from_bytes(bytes);
    let _ = Invite::from_bytes(bytes);
    let _ = Invite::open(bytes, &IdentityKey::from_seed(&[4; 32]));
    let _ = AclDocument::from_bytes(bytes);
    let _ = AclAnchor::from_bytes(bytes);
    let _ = AclEvent::classify(bytes);
    let _ = Message::from_bytes(bytes);
    let _ = DbEvent::classify(bytes);
    let _ = Query::from_bytes(bytes);
    let _ = DbView::from_records([&db_record(bytes.to_vec())]).cid();
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = ThreadId::from_str(text);
        let _ = LogId::from_str(text);
        let _ = LogAddr::from_str(text);
    }
}

/// A record carrying `body`, as the database fold takes it [DB-11].
fn db_record(body: Vec<u8>) -> DbRecord {
    DbRecord {
        cid: threads::block::cid_of(&body),
        log: IdentityKey::from_seed(&[5; 32]).log_id(),
        seq: 1,
        body,
    }
}

/// A valid database event with every kind of value, for mutation [DB-1].
fn valid_db_event() -> Vec<u8> {
    let doc = [
        (
            "a".to_string(),
            Value::List(vec![Value::Integer(-7), Value::Bytes(vec![1])]),
        ),
        ("b".to_string(), Value::Null),
    ]
    .into();
    let ops = vec![
        Op::Create {
            coll: "c".into(),
            id: "i".into(),
            doc,
        },
        Op::Save {
            coll: "c".into(),
            id: "i".into(),
            patch: Patch::default(),
        },
        Op::Put {
            key: "k".into(),
            value: Value::Bool(true),
        },
    ];
    DbEvent::new(3, ops).expect("a valid event").to_bytes()
}

/// A valid envelope and its context, for mutation.
fn valid_envelope() -> (Fixture, Vec<u8>) {
    let mut fx = Fixture::new(99);
    let envelope = fx.create(Position::FIRST, b"fuzz me", common::TIME);
    (fx, envelope.to_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    /// A store holding arbitrary bytes: a restart reports STORE_CORRUPT or accepts what is valid,
    /// never panics [SYNC-13] (the cargo-fuzz target `stored_thread`).
    #[test]
    fn a_store_of_arbitrary_bytes_never_panics_a_restart(
        meta in proptest::collection::vec(any::<u8>(), 0..200),
        record in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        use rand_core::SeedableRng;
        use threads::store::{MemoryStore, Store};
        let thread = ThreadId::from_parts(threads::id::Variant::Raw, &[7; 32]).expect("tid");
        let log = IdentityKey::from_seed(&[1; 32]).log_id();
        let mut store = MemoryStore::new();
        store.put_thread(thread.as_bytes(), &meta).expect("memory");
        store.put_records(thread.as_bytes(), &log.to_bytes(), 1, &[record]).expect("memory");
        let rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
        let opened = threads::sync::Peer::open(IdentityKey::from_seed(&[2; 32]), rng, store, 0);
        prop_assert_eq!(opened.err().map(|e| e.code), Some(threads::ErrorCode::StoreCorrupt));
    }

    #[test]
    fn arbitrary_text_never_panics_the_text_decoders(text in "\\PC{0,120}") {
        let _ = ThreadId::from_str(&text);
        let _ = LogId::from_str(&text);
        let _ = LogAddr::from_str(&text);
    }

    #[test]
    fn a_mutated_envelope_is_rejected_or_verifies_never_panics(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (fx, mut bytes) = valid_envelope();
        let i = index.index(bytes.len());
        let original = bytes[i];
        bytes[i] = byte;
        decode_all(&bytes);
        let outcome = Envelope::from_bytes(&bytes)
            .and_then(|env| verify::verify_reader(&env, &fx.thread, &fx.log, &fx.keys));
        if byte != original {
            // Any change to the exact bytes of a canonical envelope is caught somewhere: in the
            // encoding, a CID, a tag or the signature.
            prop_assert!(outcome.is_err(), "mutation at {} accepted", i);
        } else {
            prop_assert!(outcome.is_ok());
        }
        if let Ok(record) = Envelope::from_bytes(&bytes).and_then(|env| verify::verify_follower(&env, &fx.thread, &fx.log, &fx.keys.follow)) {
            prop_assert!(Log::new().accept(&record).is_ok());
        }
    }

    /// A mutated database event decodes, is DB_MALFORMED or is not a database event; the fold of
    /// it never panics and gives the same view twice [DB-1], [DB-11].
    #[test]
    fn a_mutated_database_event_never_panics_the_fold(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = valid_db_event();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        if let Err(e) = DbEvent::classify(&bytes) {
            prop_assert_eq!(e.code, threads::ErrorCode::DbMalformed);
        }
        let record = db_record(bytes);
        prop_assert_eq!(DbView::from_records([&record]).cid(), DbView::from_records([&record, &record]).cid());
    }
}
