//! Suite `logs`: delivering a log's records to a peer in every order that matters — chains, replays,
//! forks, broken links, gaps and out-of-order arrival (spec chapter 4).

use rand_core::Rng;
use serde_json::{Value, json};
use threads::ErrorCode as E;
use threads::envelope::Envelope;
use threads::id::{ThreadId, Variant};
use threads::keys::{IdentityKey, KeySet};
use threads::record::Position;

use super::forge::{Tweaks, Writer, after, reseal};
use super::records::TIME;
use super::{Intent, SuiteBuilder};
use crate::format::SuiteFile;

/// Generates the `logs` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "logs",
        &[
            "Each case delivers envelopes, in order, to a peer holding an empty copy of one log",
            "(spec/logs.md). `expected` lists each delivery's outcome (appended, duplicate or an error",
            "code) and the head and counter afterwards; errorCode is the first rejection's code.",
        ],
    );
    notes(&mut s);
    let mut rng = s.rng("writer");
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let writer = Writer {
        thread: ThreadId::generate(Variant::Raw, &mut rng),
        identity: IdentityKey::from_seed(&seed),
        keys: KeySet::generate(&mut rng),
    };
    let mut rng = s.rng("chain");
    let mut chain: Vec<Envelope> = Vec::new();
    for i in 0..5u64 {
        let position = chain.last().map_or(Position::FIRST, |last| after(last, i));
        chain.push(writer.envelope(
            position,
            format!("event {}", i + 1).as_bytes(),
            TIME + i,
            &mut rng,
        ));
    }
    let [e1, e2, e3, e4, e5] = [0, 1, 2, 3, 4].map(|i| chain[i].clone());
    let mut rng = s.rng("altered-records");
    // A second record at seq 3, signed by the writer: an equivocation.
    let fork3 = writer.envelope(after(&e2, 2), b"the other event 3", TIME, &mut rng);
    let fork1 = writer.envelope(Position::FIRST, b"the other event 1", TIME, &mut rng);
    // Seq 3 linking seq 1: correctly signed, but not linked to the head.
    let skip_link = writer.envelope(
        Position {
            seq: 3,
            prev: Some(e1.record_cid()),
        },
        b"x",
        TIME,
        &mut rng,
    );
    // e3's own content, re-sealed by a follow-key holder with a random nonce: a new CID.
    let resealed3 = reseal(&writer, &e3, &mut rng);
    let mut tampered = e2.clone();
    tampered.record[10] ^= 0x01;
    let forged = writer.forge(
        after(&e1, 1),
        b"x",
        TIME,
        Tweaks {
            sig: Some(|mut s| {
                s[0] ^= 1;
                s
            }),
            ..Default::default()
        },
        &mut rng,
    );

    let mut params = json!({"thread": writer.thread.to_string(), "log": writer.log().to_string()});
    params["followKey"] = hex::encode(writer.keys.follow.as_bytes()).into();
    s.group("LogReplay", "log.replay", params);
    let d = |envs: &[&Envelope]| -> Value {
        json!({"deliveries": envs.iter().map(|e| hex::encode(e.to_bytes())).collect::<Vec<_>>()})
    };
    let valid: Vec<(&str, &[&str], &str, Value)> = vec![
        (
            "LOG-3",
            &["NORMAL"],
            "five records in order",
            d(&[&e1, &e2, &e3, &e4, &e5]),
        ),
        (
            "LOG-2",
            &["NORMAL"],
            "one record: head is its CID, counter 1",
            d(&[&e1]),
        ),
        (
            "LOG-2",
            &["NORMAL"],
            "no records: no head, counter 0",
            d(&[]),
        ),
        (
            "LOG-4",
            &["REPLAYED_EVENT"],
            "a record delivered twice is a no-op the second time",
            d(&[&e1, &e2, &e2]),
        ),
        (
            "LOG-4",
            &["REPLAYED_EVENT"],
            "an old record replayed after later ones",
            d(&[&e1, &e2, &e3, &e1]),
        ),
        (
            "LOG-1",
            &["NORMAL"],
            "the writer's chain, each record linking the one before",
            d(&[&e1, &e2, &e3]),
        ),
    ];
    for (section, flags, comment, input) in valid {
        s.case(section, flags, comment, input, Intent::Valid);
    }
    let invalid: Vec<(&str, &[&str], &str, Value, E)> = vec![
        (
            "LOG-5",
            &["FORK"],
            "a second, different record at seq 3 after the first was accepted",
            d(&[&e1, &e2, &e3, &fork3]),
            E::LogFork,
        ),
        (
            "LOG-5",
            &["FORK"],
            "the fork arrives first: it is kept and the other is the fork",
            d(&[&e1, &e2, &fork3, &e3]),
            E::LogFork,
        ),
        (
            "LOG-5",
            &["FORK"],
            "two different first records",
            d(&[&e1, &fork1]),
            E::LogFork,
        ),
        (
            "LOG-6",
            &["BROKEN_LINK"],
            "seq 3 whose prev is seq 1, not the head",
            d(&[&e1, &e2, &skip_link]),
            E::LogBrokenLink,
        ),
        (
            "LOG-6",
            &["BROKEN_LINK"],
            "the successor of a record the peer rejected as a fork",
            d(&[&e1, &e2, &fork3, &e4]),
            E::LogBrokenLink,
        ),
        (
            "LOG-7",
            &["GAP"],
            "seq 3 delivered after seq 1: seq 2 is missing",
            d(&[&e1, &e3]),
            E::LogGap,
        ),
        (
            "LOG-7",
            &["GAP", "OUT_OF_ORDER"],
            "out-of-order arrival: 2, 1, 2 ends with both records",
            d(&[&e2, &e1, &e2]),
            E::LogGap,
        ),
        (
            "LOG-7",
            &["GAP", "OUT_OF_ORDER"],
            "reverse order, then the missing records again",
            d(&[&e3, &e2, &e1, &e2, &e3]),
            E::LogGap,
        ),
        (
            "SEAL-5",
            &["RESEALED_RECORD"],
            "a re-sealed copy of seq 3 is refused, not taken for a fork, and the chain goes on",
            d(&[&e1, &e2, &resealed3, &e3, &e4]),
            E::RecordNonceInvalid,
        ),
        (
            "LOG-8",
            &["INVALID_IN_CHAIN"],
            "a tampered record changes nothing; the genuine one still appends",
            d(&[&e1, &tampered, &e2]),
            E::RecordDecryptFailed,
        ),
        (
            "VERIFY-3",
            &["FORGED_SIGNATURE"],
            "a forged record at seq 2 is refused and the log stays at seq 1",
            d(&[&e1, &forged]),
            E::SignatureInvalid,
        ),
    ];
    s.invalid_cases(invalid, |input| input);
    s.finish()
}

fn notes(s: &mut SuiteBuilder) {
    s.note(
        "NORMAL",
        "BASIC",
        "Records delivered as the writer wrote them.",
    );
    s.note(
        "REPLAYED_EVENT",
        "FUNCTIONALITY",
        "A record the log already holds must be a no-op, not an error and not a second copy.",
    );
    s.note(
        "FORK",
        "EQUIVOCATION",
        "The writer signed two different records at one position; the first accepted stays.",
    );
    s.note(
        "BROKEN_LINK",
        "MISSING_CHECK",
        "A record at the next position that does not link to the head.",
    );
    s.note(
        "GAP",
        "MISSING_CHECK",
        "A record beyond the next position must not be appended before the missing ones.",
    );
    s.note(
        "OUT_OF_ORDER",
        "FUNCTIONALITY",
        "Records arriving out of order end in the same log once the missing ones arrive.",
    );
    s.note("RESEALED_RECORD", "EQUIVOCATION", "A follower must not be able to mint a second CID for a genuine record and frame its writer.");
    s.note(
        "INVALID_IN_CHAIN",
        "STATE_CORRUPTION",
        "A record that fails verification must leave the log unchanged.",
    );
    s.note(
        "FORGED_SIGNATURE",
        "SIGNATURE_FORGERY",
        "A record the log's key did not sign must never enter the log.",
    );
}
