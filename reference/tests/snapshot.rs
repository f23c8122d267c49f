//! A snapshot of one fully deterministic envelope: fixed identity seed, fixed thread random part,
//! fixed keys and a seeded RNG. Any change to a byte format shows up as a snapshot diff.
//!
//! Covers [ENV-1], [REC-1], [REC-5]..[REC-8], [SEAL-1], [SIG-1].

mod common;

use std::fmt::Write as _;

use common::rng;
use threads::block;
use threads::id::{ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey, ReadKey};
use threads::record::{self, Author, Position};
use threads::verify::verify_reader;

/// Checks [ENV-1].
#[test]
fn env_1_deterministic_envelope_snapshot() {
    let thread = ThreadId::from_parts(Variant::Raw, &(0u8..32).collect::<Vec<_>>()).expect("TID");
    let identity = IdentityKey::from_seed(&[0x01; 32]);
    let follow = FollowKey::from([0x02; 32]);
    let read = ReadKey::from([0x03; 32]);
    let author = Author {
        thread: &thread,
        identity: &identity,
        follow: &follow,
        read: &read,
    };
    let make = || {
        record::create(
            &author,
            Position::FIRST,
            b"hello, threads",
            1_700_000_000_000,
            &mut rng(2024),
        )
    };
    let env = make();
    assert_eq!(env, make(), "same inputs, same envelope");

    // The snapshot is only meaningful for an envelope that verifies and reads back.
    let keys = threads::keys::KeySet {
        follow: follow.clone(),
        read: Some(read.clone()),
    };
    let opened = verify_reader(&env, &thread, &identity.log_id(), &keys).expect("valid");
    assert_eq!(opened.body, b"hello, threads");

    let mut text = String::new();
    let mut line = |name: &str, value: String| {
        writeln!(text, "{name}: {value}").expect("writing to a String cannot fail");
    };
    line("thread", thread.to_string());
    line("log", identity.log_id().to_string());
    line("record cid", env.record_cid().to_string());
    line("event cid", block::cid_of(&env.event).to_string());
    line("header cid", block::cid_of(&env.header).to_string());
    line("body cid", block::cid_of(&env.body).to_string());
    line("record block", hex::encode(&env.record));
    line("event block", hex::encode(&env.event));
    line("header block", hex::encode(&env.header));
    line("body block", hex::encode(&env.body));
    line("envelope", hex::encode(env.to_bytes()));
    insta::assert_snapshot!("deterministic_envelope", text);
}
