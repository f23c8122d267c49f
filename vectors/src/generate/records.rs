//! Suite `records`: the sealed layers and their associated data, the signing input, and follower
//! and reader verification of envelopes (spec chapter 3).

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Value, json};
use threads::ErrorCode as E;
use threads::block;
use threads::envelope::Envelope;
use threads::id::{ThreadId, Variant};
use threads::keys::{IdentityKey, KeySet};
use threads::record::{Event, Position, Record};
use threads::seal::{self, Layer};

use super::forge::{Tweaks, Writer, add_group_order, after, raw_codec_cid, reseal};
use super::{Intent, SuiteBuilder};
use crate::format::SuiteFile;
use threads_fixtures::cbor;

/// draft-irtf-cfrg-xchacha-03 §A.3.1: the published AEAD_XChaCha20_Poly1305 example.
pub mod xchacha_draft {
    /// Key 80 81 … 9f.
    pub const KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    /// Nonce 40 41 … 57.
    pub const NONCE: &str = "404142434445464748494a4b4c4d4e4f5051525354555657";
    /// Associated data.
    pub const AAD: &str = "50515253c0c1c2c3c4c5c6c7";
    /// "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the
    /// future, sunscreen would be it."
    pub const PLAINTEXT: &str = "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e";
    /// Ciphertext.
    pub const CIPHERTEXT: &str = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e";
    /// Tag.
    pub const TAG: &str = "c0875924c1c7987947deafd8780acf49";
}

/// The fixed time every vector event carries: 2019-10-01T00:00:00Z in Unix milliseconds.
pub const TIME: u64 = 1_569_888_000_000;

struct World {
    writer: Writer,
    other_thread: ThreadId,
    other_identity: IdentityKey,
    other_keys: KeySet,
}

fn world(rng: &mut ChaCha20Rng) -> World {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let identity = IdentityKey::from_seed(&seed);
    rng.fill_bytes(&mut seed);
    let other_identity = IdentityKey::from_seed(&seed);
    World {
        writer: Writer {
            thread: ThreadId::generate(Variant::Raw, rng),
            identity,
            keys: KeySet::generate(rng),
        },
        other_thread: ThreadId::generate(Variant::Raw, rng),
        other_identity,
        other_keys: KeySet::generate(rng),
    }
}

fn key_hex(key: &[u8]) -> String {
    hex::encode(key)
}

/// Generates the `records` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "records",
        &[
            "The three sealed layers, the signing input, and the verification a follower and a reader",
            "run on an envelope (spec/records.md). Bytes are lower-case hex; CIDs are base32 text.",
        ],
    );
    notes(&mut s);
    let w = world(&mut s.rng("world"));
    associated_data(&mut s, &w);
    let mut rng = s.rng("seal-open");
    seal_open(&mut s, &w, &mut rng);
    let mut rng = s.rng("signing-input");
    signing_input(&mut s, &w, &mut rng);
    let mut rng = s.rng("verify-follower");
    verify_follower(&mut s, &w, &mut rng);
    let mut rng = s.rng("verify-reader");
    verify_reader(&mut s, &w, &mut rng);
    s.finish()
}

fn context(w: &World) -> Value {
    json!({"thread": w.writer.thread.to_string(), "log": w.writer.log().to_string()})
}

fn associated_data(s: &mut SuiteBuilder, w: &World) {
    s.group("AssociatedData", "seal.associatedData", context(w));
    for layer in [Layer::Record, Layer::Header, Layer::Body] {
        let comment = format!("associated data of the {} layer", layer.label());
        s.case(
            "SEAL-2",
            &["NORMAL"],
            &comment,
            json!({"layer": layer.label()}),
            Intent::Valid,
        );
    }
}

fn seal_open(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) {
    use xchacha_draft as d;
    s.group("SealOpenRaw", "seal.openRaw", json!({"layer": "body"}));
    let published = format!("{}{}{}", d::NONCE, d::CIPHERTEXT, d::TAG);
    s.case(
        "SEAL-1",
        &["PUBLISHED"],
        "draft-irtf-cfrg-xchacha-03 A.3.1: nonce ‖ ciphertext ‖ tag",
        json!({"key": d::KEY, "ad": d::AAD, "sealed": published}),
        Intent::Valid,
    );
    let mut tampered = published.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    s.case("SEAL-4", &["TAMPERED"], "the published example with its tag's last bit changed", json!({"key": d::KEY, "ad": d::AAD, "sealed": String::from_utf8(tampered).unwrap_or_default()}), Intent::Invalid(E::BodyDecryptFailed));
    s.case(
        "SEAL-1",
        &["WRONG_PRIMITIVE"],
        "the published example without its associated data",
        json!({"key": d::KEY, "ad": "", "sealed": published}),
        Intent::Invalid(E::BodyDecryptFailed),
    );

    s.group("SealOpen", "seal.open", context(w));
    let (thread, log) = (&w.writer.thread, w.writer.log());
    let key = *w.writer.keys.follow.as_bytes();
    let plaintext = b"threads: sealed layer plaintext";
    let sealed =
        |layer: Layer, thread: &ThreadId, log: &threads::id::LogId, rng: &mut ChaCha20Rng| {
            let ad = seal::associated_data(layer, thread, log);
            hex::encode(match layer {
                Layer::Record => seal::seal_synthetic(&key, &ad, plaintext),
                Layer::Header | Layer::Body => seal::seal(&key, &ad, plaintext, rng),
            })
        };
    for layer in [Layer::Record, Layer::Header, Layer::Body] {
        let input = json!({"layer": layer.label(), "key": key_hex(&key), "sealed": sealed(layer, thread, &log, rng)});
        s.case(
            "SEAL-3",
            &["NORMAL"],
            &format!("{} layer opens with its key", layer.label()),
            input,
            Intent::Valid,
        );
    }
    // An empty plaintext seals to exactly nonce and tag: the shortest valid sealed layer.
    let empty = seal::seal(
        &key,
        &seal::associated_data(Layer::Body, thread, &log),
        b"",
        rng,
    );
    let input = json!({"layer": "body", "key": key_hex(&key), "sealed": hex::encode(&empty)});
    s.case(
        "SEAL-1",
        &["BOUNDARY"],
        "an empty plaintext: 40 bytes, nonce and tag only",
        input,
        Intent::Valid,
    );
    let ok = seal::seal(
        &key,
        &seal::associated_data(Layer::Header, thread, &log),
        plaintext,
        rng,
    );
    let mut flipped = ok.clone();
    flipped[30] ^= 0x01;
    let header = |sealed: &[u8], key: &[u8]| json!({"layer": "header", "key": key_hex(key), "sealed": hex::encode(sealed)});
    let cases: Vec<(&str, &[&str], &str, Value)> = vec![
        (
            "SEAL-4",
            &["TAMPERED"],
            "one ciphertext bit flipped",
            header(&flipped, &key),
        ),
        (
            "SEAL-4",
            &["WRONG_KEY"],
            "opened with another key",
            header(&ok, w.other_keys.follow.as_bytes()),
        ),
        (
            "SEAL-4",
            &["TRUNCATED"],
            "39 bytes: shorter than nonce and tag",
            header(&ok[..39], &key),
        ),
        ("SEAL-4", &["TRUNCATED"], "empty", header(&[], &key)),
        (
            "SEAL-2",
            &["ASSOCIATED_DATA_SWAP"],
            "sealed for another thread",
            json!({"layer": "header", "key": key_hex(&key), "sealed": sealed(Layer::Header, &w.other_thread, &log, rng)}),
        ),
        (
            "SEAL-2",
            &["ASSOCIATED_DATA_SWAP"],
            "sealed for another log",
            json!({"layer": "header", "key": key_hex(&key), "sealed": sealed(Layer::Header, thread, &w.other_identity.log_id(), rng)}),
        ),
        (
            "SEAL-2",
            &["LAYER_SWAP"],
            "sealed as a body, opened as a header",
            json!({"layer": "header", "key": key_hex(&key), "sealed": sealed(Layer::Body, thread, &log, rng)}),
        ),
    ];
    for (section, flags, comment, input) in cases {
        s.case(
            section,
            flags,
            comment,
            input,
            Intent::Invalid(E::HeaderDecryptFailed),
        );
    }
    let random_nonce = seal::seal(
        &key,
        &seal::associated_data(Layer::Record, thread, &log),
        plaintext,
        rng,
    );
    let input =
        json!({"layer": "record", "key": key_hex(&key), "sealed": hex::encode(random_nonce)});
    s.case(
        "SEAL-5",
        &["RESEALED_RECORD"],
        "a record layer sealed with a random nonce",
        input,
        Intent::Invalid(E::RecordNonceInvalid),
    );
}

fn signing_input(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) {
    s.group("SigningInput", "record.signingInput", context(w));
    let first = w.writer.envelope(Position::FIRST, b"first", TIME, rng);
    let event = block::cid_of(&first.event).to_string();
    s.case(
        "SIG-1",
        &["NORMAL"],
        "the first record: prev is null",
        json!({"block": event, "prev": null, "seq": 1}),
        Intent::Valid,
    );
    let prev = first.record_cid().to_string();
    s.case(
        "SIG-1",
        &["NORMAL"],
        "a later record",
        json!({"block": event, "prev": prev, "seq": 2}),
        Intent::Valid,
    );
}

/// Group parameters for verification: the thread, the log and the keys.
fn verify_params(w: &World, keys: &KeySet) -> Value {
    let mut params = context(w);
    params["followKey"] = key_hex(keys.follow.as_bytes()).into();
    if let Some(read) = &keys.read {
        params["readKey"] = key_hex(read.as_bytes()).into();
    }
    params
}

fn env(envelope: &Envelope) -> Value {
    json!({"envelope": hex::encode(envelope.to_bytes())})
}

/// Re-encodes a record with one field changed, for malformed record plaintexts.
fn record_map(r: &Record, sig: &[u8], extra: bool) -> Vec<u8> {
    let prev = r.prev.as_ref().map_or(vec![cbor::NULL], cbor::link);
    let mut entries = vec![
        ("seq", cbor::uint(r.seq)),
        ("sig", cbor::bytes(sig)),
        ("prev", prev),
        ("block", cbor::link(&r.block)),
    ];
    if extra {
        entries.push(("author", cbor::text("mallory")));
    }
    cbor::map(&entries)
}

fn verify_follower(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) {
    let wr = &w.writer;
    s.group(
        "VerifyFollower",
        "envelope.verifyFollower",
        verify_params(w, &wr.keys.for_follower()),
    );
    let e1 = wr.envelope(Position::FIRST, b"hello, followers", TIME, rng);
    let p2 = after(&e1, 1);
    let e2 = wr.envelope(p2, b"second event", TIME + 1, rng);
    s.case(
        "VERIFY-1",
        &["NORMAL"],
        "the first record of a log",
        env(&e1),
        Intent::Valid,
    );
    s.case(
        "REC-1",
        &["NORMAL"],
        "the second record, linking the first: every block's CID",
        env(&e2),
        Intent::Valid,
    );
    s.case(
        "REC-5",
        &["NORMAL"],
        "an empty body",
        env(&wr.envelope(p2, b"", TIME, rng)),
        Intent::Valid,
    );
    s.case(
        "REC-4",
        &["NORMAL"],
        "a 64 KiB body",
        env(&wr.envelope(p2, &vec![0x5a; 65536], TIME, rng)),
        Intent::Valid,
    );
    // The largest body whose block is exactly 1 MiB: 5 bytes of byte-string head, nonce and tag.
    let largest = vec![0x5a; block::MAX_BLOCK_SIZE - 5 - seal::OVERHEAD];
    let at_limit = wr.envelope(p2, &largest, TIME, rng);
    assert_eq!(
        at_limit.body.len(),
        block::MAX_BLOCK_SIZE,
        "the body block sits exactly at the limit"
    );
    s.case(
        "REC-4",
        &["BOUNDARY"],
        "a body block of exactly 1 MiB is allowed",
        env(&at_limit),
        Intent::Valid,
    );

    let f = |t: Tweaks, rng: &mut ChaCha20Rng| wr.forge(p2, b"second event", TIME, t, rng);
    let other_writer = Writer {
        thread: w.other_thread.clone(),
        identity: wr.identity.clone(),
        keys: wr.keys.clone(),
    };
    let other_log_writer = Writer {
        thread: wr.thread.clone(),
        identity: w.other_identity.clone(),
        keys: wr.keys.clone(),
    };
    let mut second_log =
        env(&other_log_writer.envelope(Position::FIRST, b"another writer", TIME, rng));
    second_log["log"] = other_log_writer.log().to_string().into();
    s.case(
        "KEY-3",
        &["NORMAL"],
        "another writer's log in the same thread opens with the same thread keys",
        second_log,
        Intent::Valid,
    );
    let mut swapped_event = e2.clone();
    swapped_event.event = e1.event.clone();
    let mut swapped_header = e2.clone();
    swapped_header.header = e1.header.clone();
    let mut swapped_body = e2.clone();
    swapped_body.body = e1.body.clone();
    let mut tampered_record = e2.clone();
    let n = tampered_record.record.len();
    tampered_record.record[n - 20] ^= 0x80;
    let mut oversized = e2.clone();
    oversized.body = block::encode_byte_string(&vec![0; block::MAX_BLOCK_SIZE]);
    let bad_event_link = Event {
        body: raw_codec_cid(&e2.body),
        header: block::cid_of(&e2.header),
    }
    .to_bytes();
    // An event whose body link's tag-42 payload is `payload`: the CID shapes of REC-2.
    let body_cid = block::cid_of(&e2.body).to_bytes();
    let event_linking = |payload: Vec<u8>| {
        let mut link = vec![0xd8, 0x2a];
        link.extend(cbor::bytes(&payload));
        cbor::map(&[
            ("body", link),
            ("header", cbor::link(&block::cid_of(&e2.header))),
        ])
    };
    let cid_v0 = [&[0x00, 0x12, 0x20][..], &body_cid[body_cid.len() - 32..]].concat();
    let cid_v2 = [&[0x00, 0x02][..], &body_cid[1..]].concat();
    let digest_short = [&[0x00][..], &body_cid[..body_cid.len() - 1]].concat();
    let trailing = [&[0x00][..], &body_cid, &[0x00][..]].concat();
    let no_prefix = body_cid.clone();
    let non_canonical_event = cbor::map(&[
        ("header", cbor::link(&block::cid_of(&e2.header))),
        ("body", cbor::link(&block::cid_of(&e2.body))),
    ]);
    let envelope_map =
        |entries: &[(&str, Vec<u8>)]| json!({"envelope": hex::encode(cbor::map(entries))});
    let b = cbor::bytes;

    let cases: Vec<(&str, &[&str], &str, Value, E)> = vec![
        (
            "ENV-1",
            &["MALFORMED_ENVELOPE"],
            "not CBOR at all",
            json!({"envelope": "ff00"}),
            E::EnvelopeMalformed,
        ),
        (
            "ENV-1",
            &["MALFORMED_ENVELOPE"],
            "fields in the wrong order",
            envelope_map(&[
                ("record", b(&e2.record)),
                ("event", b(&e2.event)),
                ("header", b(&e2.header)),
                ("body", b(&e2.body)),
            ]),
            E::EnvelopeMalformed,
        ),
        (
            "ENV-1",
            &["MALFORMED_ENVELOPE"],
            "the body block missing",
            envelope_map(&[
                ("event", b(&e2.event)),
                ("header", b(&e2.header)),
                ("record", b(&e2.record)),
            ]),
            E::EnvelopeMalformed,
        ),
        (
            "ENV-1",
            &["MALFORMED_ENVELOPE"],
            "an extra field",
            envelope_map(&[
                ("body", b(&e2.body)),
                ("event", b(&e2.event)),
                ("extra", b(&[])),
                ("header", b(&e2.header)),
                ("record", b(&e2.record)),
            ]),
            E::EnvelopeMalformed,
        ),
        (
            "ENV-1",
            &["MALFORMED_ENVELOPE"],
            "a block as a text string",
            envelope_map(&[
                ("body", cbor::text("x")),
                ("event", b(&e2.event)),
                ("header", b(&e2.header)),
                ("record", b(&e2.record)),
            ]),
            E::EnvelopeMalformed,
        ),
        (
            "REC-4",
            &["OVERSIZED_BLOCK"],
            "a body block over 1 MiB",
            env(&oversized),
            E::BlockTooLarge,
        ),
        (
            "VERIFY-1",
            &["WRONG_FOLLOW_KEY"],
            "record sealed with another follow key",
            env(&f(
                Tweaks {
                    record_key: Some(*w.other_keys.follow.as_bytes()),
                    ..Default::default()
                },
                rng,
            )),
            E::RecordDecryptFailed,
        ),
        (
            "SEAL-4",
            &["TAMPERED"],
            "one bit of the record ciphertext flipped",
            env(&tampered_record),
            E::RecordDecryptFailed,
        ),
        (
            "SEAL-5",
            &["RESEALED_RECORD"],
            "a genuine record re-sealed with a random nonce by a key holder",
            env(&reseal(wr, &e2, rng)),
            E::RecordNonceInvalid,
        ),
        (
            "SEAL-2",
            &["ASSOCIATED_DATA_SWAP"],
            "a record of the same log in another thread that shares the keys",
            env(&other_writer.envelope(p2, b"x", TIME, rng)),
            E::RecordDecryptFailed,
        ),
        (
            "SEAL-2",
            &["WRONG_LOG"],
            "a record of another log presented as this log's",
            env(&other_log_writer.envelope(Position::FIRST, b"x", TIME, rng)),
            E::RecordDecryptFailed,
        ),
        (
            "REC-8",
            &["MALFORMED_RECORD"],
            "record block is a map, not a byte string",
            env(&f(
                Tweaks {
                    record_block: Some(cbor::map(&[])),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-3",
            &["MALFORMED_RECORD"],
            "record plaintext with an extra field",
            env(&f(
                Tweaks {
                    record_plaintext: Some(|r| record_map(r, &r.sig, true)),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-3",
            &["NON_CANONICAL"],
            "record plaintext with keys in the wrong order",
            env(&f(
                Tweaks {
                    record_plaintext: Some(|r| {
                        cbor::map(&[
                            ("sig", cbor::bytes(&r.sig)),
                            ("seq", cbor::uint(r.seq)),
                            ("prev", r.prev.as_ref().map_or(vec![cbor::NULL], cbor::link)),
                            ("block", cbor::link(&r.block)),
                        ])
                    }),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-8",
            &["MALFORMED_RECORD"],
            "a 63-byte signature",
            env(&f(
                Tweaks {
                    record_plaintext: Some(|r| record_map(r, &r.sig[..63], false)),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-2",
            &["UNSUPPORTED_CID"],
            "the event link uses the raw codec",
            env(&f(
                Tweaks {
                    record_plaintext: Some(|r| {
                        Record {
                            block: raw_codec_cid(b"event"),
                            ..r.clone()
                        }
                        .to_bytes()
                    }),
                    ..Default::default()
                },
                rng,
            )),
            E::CidUnsupported,
        ),
        (
            "REC-9",
            &["BAD_SEQ"],
            "seq 0",
            env(&wr.forge(
                Position { seq: 0, prev: None },
                b"x",
                TIME,
                Tweaks::default(),
                rng,
            )),
            E::RecordBadSeq,
        ),
        (
            "REC-9",
            &["BAD_SEQ"],
            "seq 1 with a prev link",
            env(&wr.forge(
                Position {
                    seq: 1,
                    prev: p2.prev,
                },
                b"x",
                TIME,
                Tweaks::default(),
                rng,
            )),
            E::RecordBadSeq,
        ),
        (
            "REC-9",
            &["BAD_SEQ"],
            "seq 2 without a prev link",
            env(&wr.forge(
                Position { seq: 2, prev: None },
                b"x",
                TIME,
                Tweaks::default(),
                rng,
            )),
            E::RecordBadSeq,
        ),
        (
            "SIG-2",
            &["FORGED_SIGNATURE"],
            "one signature bit flipped",
            env(&f(
                Tweaks {
                    sig: Some(|mut s| {
                        s[5] ^= 1;
                        s
                    }),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "SIG-2",
            &["FORGED_SIGNATURE"],
            "an all-zero signature",
            env(&f(
                Tweaks {
                    sig: Some(|_| [0; 64]),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "SIG-2",
            &["MALLEABLE_SIGNATURE"],
            "S replaced by S + L: the same signature, non-canonical",
            env(&f(
                Tweaks {
                    sig: Some(add_group_order),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "SIG-2",
            &["WRONG_AUTHOR"],
            "signed by another key (a follower forging records)",
            env(&f(
                Tweaks {
                    signer: Some(w.other_identity.clone()),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "SIG-1",
            &["CROSS_THREAD_SIGNATURE"],
            "signature made for another thread",
            env(&f(
                Tweaks {
                    sign_thread: Some(w.other_thread.clone()),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "SIG-1",
            &["UNSIGNED_SEQ"],
            "signature over seq 3 on a record at seq 2",
            env(&f(
                Tweaks {
                    sign_seq: Some(3),
                    ..Default::default()
                },
                rng,
            )),
            E::SignatureInvalid,
        ),
        (
            "VERIFY-1",
            &["SWAPPED_BLOCK"],
            "the event block of another record",
            env(&swapped_event),
            E::CidMismatch,
        ),
        (
            "VERIFY-1",
            &["SWAPPED_BLOCK"],
            "the header block of another record",
            env(&swapped_header),
            E::CidMismatch,
        ),
        (
            "VERIFY-1",
            &["SWAPPED_BLOCK"],
            "the body block of another record",
            env(&swapped_body),
            E::CidMismatch,
        ),
        (
            "REC-7",
            &["NON_CANONICAL"],
            "a signed event block with keys in the wrong order",
            env(&f(
                Tweaks {
                    event_block: Some(non_canonical_event),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-2",
            &["UNSUPPORTED_CID"],
            "a signed event whose body link uses the raw codec",
            env(&f(
                Tweaks {
                    event_block: Some(bad_event_link),
                    ..Default::default()
                },
                rng,
            )),
            E::CidUnsupported,
        ),
        (
            "REC-2",
            &["UNSUPPORTED_CID"],
            "a signed event whose body link is a CIDv0 (well-formed, unsupported)",
            env(&f(
                Tweaks {
                    event_block: Some(event_linking(cid_v0.clone())),
                    ..Default::default()
                },
                rng,
            )),
            E::CidUnsupported,
        ),
        (
            "REC-2",
            &["MALFORMED_CID"],
            "a signed event whose body link says CID version 2",
            env(&f(
                Tweaks {
                    event_block: Some(event_linking(cid_v2.clone())),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-2",
            &["MALFORMED_CID"],
            "a signed event whose body link's multihash declares 32 digest bytes and carries 31",
            env(&f(
                Tweaks {
                    event_block: Some(event_linking(digest_short.clone())),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-2",
            &["MALFORMED_CID"],
            "a signed event whose body link has a byte after the CID",
            env(&f(
                Tweaks {
                    event_block: Some(event_linking(trailing.clone())),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-2",
            &["MALFORMED_CID"],
            "a signed event whose body link lacks the 0x00 multibase prefix",
            env(&f(
                Tweaks {
                    event_block: Some(event_linking(no_prefix.clone())),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-6",
            &["MALFORMED_HEADER"],
            "a signed event whose header block is a map, not a byte string",
            env(&f(
                Tweaks {
                    header_block: Some(cbor::map(&[])),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
    ];
    s.invalid_cases(cases, |input| input);
}

fn verify_reader(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) {
    let wr = &w.writer;
    s.group(
        "VerifyReader",
        "envelope.verifyReader",
        verify_params(w, &wr.keys),
    );
    let e1 = wr.envelope(Position::FIRST, b"hello, readers", TIME, rng);
    let p2 = after(&e1, 1);
    s.case(
        "VERIFY-2",
        &["NORMAL"],
        "the first record: body and time",
        env(&e1),
        Intent::Valid,
    );
    s.case(
        "VERIFY-2",
        &["NORMAL"],
        "a later record",
        env(&wr.envelope(p2, b"{\"op\":\"set\"}", TIME + 42, rng)),
        Intent::Valid,
    );
    let f = |t: Tweaks, rng: &mut ChaCha20Rng| wr.forge(p2, b"secret", TIME, t, rng);
    let other_read = w
        .other_keys
        .read
        .as_ref()
        .map_or([0; 32], |k| *k.as_bytes());
    let short_key_header = cbor::map(&[("key", cbor::bytes(&[1; 31])), ("time", cbor::uint(TIME))]);
    let mut follower_only = env(&e1);
    follower_only["readKey"] = Value::Null;
    let mut wrong_read = env(&e1);
    wrong_read["readKey"] = key_hex(&other_read).into();
    let cases: Vec<(&str, &[&str], &str, Value, E)> = vec![
        (
            "KEY-7",
            &["FOLLOWER_CANNOT_READ"],
            "a follower holds no read key",
            follower_only,
            E::KeyUnavailable,
        ),
        (
            "VERIFY-2",
            &["WRONG_READ_KEY"],
            "the reader's read key is not the thread's",
            wrong_read,
            E::HeaderDecryptFailed,
        ),
        (
            "SEAL-3",
            &["WRONG_READ_KEY"],
            "a signed record whose header was sealed with another read key",
            env(&f(
                Tweaks {
                    header_key: Some(other_read),
                    ..Default::default()
                },
                rng,
            )),
            E::HeaderDecryptFailed,
        ),
        (
            "SEAL-2",
            &["LAYER_SWAP"],
            "a signed record whose header was sealed under the body label",
            env(&f(
                Tweaks {
                    header_layer: Some(Layer::Body),
                    ..Default::default()
                },
                rng,
            )),
            E::HeaderDecryptFailed,
        ),
        (
            "REC-6",
            &["MALFORMED_HEADER"],
            "a header whose content key has 31 bytes",
            env(&f(
                Tweaks {
                    header_plaintext: Some(short_key_header),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "REC-6",
            &["MALFORMED_HEADER"],
            "a header with time as a text string",
            env(&f(
                Tweaks {
                    header_plaintext: Some(cbor::map(&[
                        ("key", cbor::bytes(&[1; 32])),
                        ("time", cbor::text("now")),
                    ])),
                    ..Default::default()
                },
                rng,
            )),
            E::BlockMalformed,
        ),
        (
            "KEY-4",
            &["WRONG_CONTENT_KEY"],
            "the body sealed with a key other than the header's content key",
            env(&f(
                Tweaks {
                    body_key: Some([7; 32]),
                    ..Default::default()
                },
                rng,
            )),
            E::BodyDecryptFailed,
        ),
        (
            "SEAL-2",
            &["LAYER_SWAP"],
            "the body sealed under the header label",
            env(&f(
                Tweaks {
                    body_layer: Some(Layer::Header),
                    ..Default::default()
                },
                rng,
            )),
            E::BodyDecryptFailed,
        ),
    ];
    s.invalid_cases(cases, |input| input);
}

fn notes(s: &mut SuiteBuilder) {
    s.note(
        "BOUNDARY",
        "EDGE_CASE",
        "A value exactly at a limit, which must be accepted.",
    );
    s.note("NORMAL", "BASIC", "A well-formed input.");
    s.note(
        "PUBLISHED",
        "BASIC",
        "A published example from the primitive's specification.",
    );
    s.note(
        "WRONG_PRIMITIVE",
        "WRONG_PRIMITIVE",
        "Detects an AEAD that ignores associated data.",
    );
    s.note(
        "TAMPERED",
        "AUTH_BYPASS",
        "Changed ciphertext or tag bytes must not open.",
    );
    s.note(
        "WRONG_KEY",
        "AUTH_BYPASS",
        "A layer must not open with another key.",
    );
    s.note(
        "TRUNCATED",
        "MISSING_CHECK",
        "A sealed layer shorter than nonce and tag.",
    );
    s.note(
        "ASSOCIATED_DATA_SWAP",
        "CONFUSED_DEPUTY",
        "A ciphertext moved to another thread or log must not open: the associated data binds it.",
    );
    s.note(
        "LAYER_SWAP",
        "CONFUSED_DEPUTY",
        "A ciphertext moved between layers must not open: the label binds it.",
    );
    s.note(
        "WRONG_LOG",
        "CONFUSED_DEPUTY",
        "A record of one log presented as another's.",
    );
    s.note(
        "MALFORMED_ENVELOPE",
        "MISSING_CHECK",
        "An envelope that is not the canonical four-field map.",
    );
    s.note(
        "OVERSIZED_BLOCK",
        "RESOURCE_EXHAUSTION",
        "A block over the 1 MiB limit.",
    );
    s.note(
        "WRONG_FOLLOW_KEY",
        "AUTH_BYPASS",
        "The record layer sealed with a key other than the thread's follow key.",
    );
    s.note(
        "WRONG_READ_KEY",
        "AUTH_BYPASS",
        "The header layer sealed or opened with a key other than the thread's read key.",
    );
    s.note(
        "WRONG_CONTENT_KEY",
        "AUTH_BYPASS",
        "The body sealed with a key other than the one its header carries.",
    );
    s.note(
        "MALFORMED_RECORD",
        "MISSING_CHECK",
        "A record block or plaintext of the wrong shape.",
    );
    s.note(
        "MALFORMED_HEADER",
        "MISSING_CHECK",
        "A header block or plaintext of the wrong shape.",
    );
    s.note(
        "NON_CANONICAL",
        "MALLEABILITY",
        "A DAG-CBOR encoding other than the canonical one.",
    );
    s.note(
        "MALFORMED_CID",
        "MISSING_CHECK",
        "A tag-42 value that is not exactly one well-formed binary CID (REC-2): another version, a digest of another length than the multihash declares, trailing bytes, no 0x00 prefix. BLOCK_MALFORMED, not CID_UNSUPPORTED.",
    );
    s.note(
        "UNSUPPORTED_CID",
        "MISSING_CHECK",
        "A link that is not CIDv1/dag-cbor/sha2-256.",
    );
    s.note("BAD_SEQ", "MISSING_CHECK", "seq and prev disagree.");
    s.note(
        "FORGED_SIGNATURE",
        "SIGNATURE_FORGERY",
        "A signature the log's key did not make.",
    );
    s.note(
        "MALLEABLE_SIGNATURE",
        "SIGNATURE_MALLEABILITY",
        "A non-canonical S (S >= L) that only strict verification rejects.",
    );
    s.note(
        "WRONG_AUTHOR",
        "SIGNATURE_FORGERY",
        "A valid signature by a key other than the log's.",
    );
    s.note(
        "CROSS_THREAD_SIGNATURE",
        "CONFUSED_DEPUTY",
        "The signature must cover the thread ID.",
    );
    s.note(
        "UNSIGNED_SEQ",
        "SIGNATURE_FORGERY",
        "The signature must cover seq.",
    );
    s.note("RESEALED_RECORD", "EQUIVOCATION", "Anyone with the follow key could re-seal a record under a new CID and frame the writer with a fork; the synthetic nonce makes that detectable.");
    s.note(
        "SWAPPED_BLOCK",
        "MISSING_CHECK",
        "A block that is not the one its link names.",
    );
    s.note(
        "FOLLOWER_CANNOT_READ",
        "BASIC",
        "A follower has no read key and must say so.",
    );
}
