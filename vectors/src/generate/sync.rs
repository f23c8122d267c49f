//! Suite `sync`: the sync messages, the answer to a pull, and what a peer does with the records of
//! one `records` message (spec chapter 7). Everything here is a pure function of its inputs; the
//! behaviour over time (pushes, head exchange, retries, storage, the libp2p binding) is checked by
//! the tests and scenarios that `CHECKED_ELSEWHERE` in `src/lint.rs` names.

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Map, Value, json};
use threads::ErrorCode as E;
use threads::envelope::Envelope;
use threads::id::{ThreadId, Variant};
use threads::keys::{IdentityKey, KeySet};
use threads::record::Position;
use threads::sync::Message;

use super::forge::{Tweaks, Writer, after, reseal};
use super::records::TIME;
use super::{Intent, SuiteBuilder};
use crate::format::SuiteFile;
use crate::ops;
use threads_fixtures::cbor::{self, bytes, map, text, uint};

/// A message case: spec section, flags, comment, message bytes, and the error code it must fail
/// with.
type CodedMessage = (
    &'static str,
    &'static [&'static str],
    &'static str,
    Vec<u8>,
    E,
);

/// A pull case: spec section, flags, comment, `after`, `limit` and the seqs of the answer.
type PullCase = (
    &'static str,
    &'static [&'static str],
    &'static str,
    u64,
    u64,
    Vec<usize>,
);

/// Records in the log that pulls are served from: more than one full batch of
/// [`threads::sync::PULL_LIMIT`].
const LOG_LENGTH: usize = 300;

/// Generates the `sync` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "sync",
        &[
            "Sync messages and the pure decisions of spec/sync.md: sync.decodeMessage decodes one",
            "message (SYNC-1, SYNC-2); sync.servePull answers a pull from a held log (SYNC-5);",
            "sync.decideRecords decides the envelopes of one records message at a peer holding a",
            "prefix of the log, and says which pull follows (SYNC-6, SYNC-7, SYNC-11, chapter 4).",
            "No case reaches a size limit, which would take a file of more than 8 MiB: the 8 MiB",
            "message limit of SYNC-2 is checked by the reference's unit test",
            "reference/src/sync/message.rs malformed_and_oversized_messages_are_message_malformed,",
            "and the 4 MiB batch limit of SYNC-5 by reference/tests/sync.rs",
            "a_pull_answer_is_cut_at_the_byte_limit_and_the_puller_pulls_the_rest.",
        ],
    );
    notes(&mut s);
    let fx = Fixture::new(&mut s.rng("fixture"));
    let mut errors = Vec::new();
    let mut rng = s.rng("decode-message");
    decode_message(&mut s, &fx, &mut rng, &mut errors);
    serve_pull(&mut s, &fx, &mut errors);
    let mut rng = s.rng("decide-records");
    decide_records(&mut s, &fx, &mut rng, &mut errors);
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    s.finish()
}

/// The logs every group draws from.
struct Fixture {
    /// The writer of the main log.
    writer: Writer,
    /// Its log, [`LOG_LENGTH`] records; `chain[i]` has seq i + 1.
    chain: Vec<Envelope>,
    /// A second writer of the same thread, with the same keys.
    other: Writer,
    /// Its first two records.
    other_chain: Vec<Envelope>,
    /// The main writer in another thread with the same keys.
    elsewhere: Writer,
}

impl Fixture {
    fn new(rng: &mut ChaCha20Rng) -> Fixture {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let writer = Writer {
            thread: ThreadId::generate(Variant::Raw, rng),
            identity: IdentityKey::from_seed(&seed),
            keys: KeySet::generate(rng),
        };
        let chain = log_of(&writer, LOG_LENGTH, "event", rng);
        let other = Writer {
            thread: writer.thread.clone(),
            identity: IdentityKey::generate(rng),
            keys: writer.keys.clone(),
        };
        let other_chain = log_of(&other, 2, "other event", rng);
        let elsewhere = Writer {
            thread: ThreadId::generate(Variant::Raw, rng),
            identity: IdentityKey::from_seed(&seed),
            keys: writer.keys.clone(),
        };
        Fixture {
            writer,
            chain,
            other,
            other_chain,
            elsewhere,
        }
    }

    /// The record at `seq` of the main log.
    fn e(&self, seq: usize) -> &Envelope {
        &self.chain[seq - 1]
    }

    /// The records at seqs `from..=to` of the main log.
    fn span(&self, from: usize, to: usize) -> Vec<&Envelope> {
        (from..=to).map(|seq| self.e(seq)).collect()
    }
}

/// `n` honest records of `writer`'s log, bodies `"<label> <seq>"`.
fn log_of(writer: &Writer, n: usize, label: &str, rng: &mut ChaCha20Rng) -> Vec<Envelope> {
    let mut chain: Vec<Envelope> = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let position = chain.last().map_or(Position::FIRST, |last| after(last, i));
        let body = format!("{label} {}", i + 1);
        chain.push(writer.envelope(position, body.as_bytes(), TIME + i, rng));
    }
    chain
}

fn hex_list(envelopes: &[&Envelope]) -> Value {
    envelopes
        .iter()
        .map(|e| hex::encode(e.to_bytes()))
        .collect::<Vec<_>>()
        .into()
}

fn cids(envelopes: &[&Envelope]) -> Vec<String> {
    envelopes
        .iter()
        .map(|e| e.record_cid().to_string())
        .collect()
}

/// Runs `operation` on the group's `params` and the case's `inputs` and checks that the reference
/// gives `want`: the generator's own statement of the case's intent, beyond valid or invalid.
fn check_output(
    operation: &str,
    params: &Value,
    inputs: &Value,
    want: &Value,
    comment: &str,
    errors: &mut Vec<String>,
) {
    let mut merged: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    merged.extend(inputs.as_object().cloned().unwrap_or_default());
    match ops::execute(operation, &merged) {
        Ok(got) if got == *want => {}
        other => errors.push(format!(
            "{operation} case {comment:?}: intended {want}, reference gave {other:?}"
        )),
    }
}

// -------------------------------------------------------------------------------------------------
// sync.decodeMessage
// -------------------------------------------------------------------------------------------------

/// A DAG-CBOR map with its keys in canonical order (shorter first, then bytewise) [SYNC-1].
fn canonical(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|(a, _), (b, _)| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
    map(&sorted)
}

/// A DAG-CBOR array of already encoded items.
fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = cbor::head(4, items.len() as u64);
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

/// The fields of a pull, each encoded, with the type first.
fn pull_fields(thread: &[u8], log: &[u8], after: u64, limit: u64) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("type", text("pull")),
        ("thread", bytes(thread)),
        ("log", bytes(log)),
        ("after", uint(after)),
        ("limit", uint(limit)),
    ]
}

/// `fields` with the entry named `name` replaced by `value`, or removed when `value` is `None`.
fn with(
    fields: &[(&'static str, Vec<u8>)],
    name: &str,
    value: Option<Vec<u8>>,
) -> Vec<(&'static str, Vec<u8>)> {
    fields
        .iter()
        .filter_map(|(key, old)| match (*key == name, &value) {
            (false, _) => Some((*key, old.clone())),
            (true, Some(new)) => Some((*key, new.clone())),
            (true, None) => None,
        })
        .collect()
}

fn decode_message(
    s: &mut SuiteBuilder,
    fx: &Fixture,
    rng: &mut ChaCha20Rng,
    errors: &mut Vec<String>,
) {
    let thread = fx.writer.thread.clone();
    let log = fx.writer.log();
    let (tid, lid) = (thread.as_bytes().to_vec(), log.to_bytes());
    let pull = |after, limit| Message::Pull {
        thread: thread.clone(),
        log,
        after,
        limit,
    };
    let spec_example = pull(3, 64).to_bytes();
    let fields = pull_fields(&tid, &lid, 3, 64);
    // The spec's example is written with its keys in DAG-CBOR order: log, type, after, limit, thread.
    let in_spec_order = map(&[
        fields[2].clone(),
        fields[0].clone(),
        fields[3].clone(),
        fields[4].clone(),
        fields[1].clone(),
    ]);
    if spec_example != canonical(&fields) || spec_example != in_spec_order {
        errors.push("the pull of spec/sync.md 7.2 is not the reference's encoding".into());
    }
    let records = |counter, envelopes: Vec<Envelope>| Message::Records {
        thread: thread.clone(),
        log,
        counter,
        envelopes,
    };
    let access_controlled = ThreadId::generate(Variant::AccessControlled, rng);
    let forged = fx.writer.forge(
        after(fx.e(2), 2),
        b"forged",
        TIME,
        Tweaks {
            sig: Some(|mut sig| {
                sig[0] ^= 1;
                sig
            }),
            ..Default::default()
        },
        rng,
    );

    s.group("SyncDecodeMessage", "sync.decodeMessage", Value::Null);
    let b = |message: &[u8]| json!({"bytes": hex::encode(message)});
    let valid: Vec<(&str, &[&str], &str, Vec<u8>)> = vec![
        (
            "SYNC-1",
            &["NORMAL"],
            "the pull of spec/sync.md 7.2: after 3, limit 64, keys in DAG-CBOR order",
            spec_example.clone(),
        ),
        (
            "SYNC-1",
            &["NORMAL"],
            "a pull of a log in an access-controlled thread, after 0, limit 0",
            Message::Pull {
                thread: access_controlled.clone(),
                log,
                after: 0,
                limit: 0,
            }
            .to_bytes(),
        ),
        (
            "SYNC-1",
            &["LARGEST_INTEGERS"],
            "a pull with after and limit 2^64 - 1",
            pull(u64::MAX, u64::MAX).to_bytes(),
        ),
        (
            "SYNC-1",
            &["NORMAL"],
            "records: counter 5 and the first two records of the log",
            records(5, vec![fx.e(1).clone(), fx.e(2).clone()]).to_bytes(),
        ),
        (
            "SYNC-1",
            &["NORMAL"],
            "records with no envelopes: the answer to a pull for a log the peer does not hold",
            records(0, Vec::new()).to_bytes(),
        ),
        (
            "SYNC-1",
            &["DECODING_IS_NOT_VERIFYING"],
            "records carrying a record with a forged signature: the message decodes; the record is \
             decided later",
            records(3, vec![forged.clone()]).to_bytes(),
        ),
        (
            "SYNC-1",
            &["NORMAL"],
            "heads: two logs, in the order sent",
            Message::Heads {
                thread: thread.clone(),
                heads: vec![(fx.other.log(), 2), (log, 70)],
            }
            .to_bytes(),
        ),
        (
            "SYNC-1",
            &["NORMAL"],
            "heads with an empty list",
            Message::Heads {
                thread: thread.clone(),
                heads: Vec::new(),
            }
            .to_bytes(),
        ),
    ];
    for (section, flags, comment, message) in valid {
        s.case(section, flags, comment, b(&message), Intent::Valid);
    }

    let env = |seq: usize| bytes(&fx.e(seq).to_bytes());
    let records_fields = |envelopes: Vec<Vec<u8>>| {
        vec![
            ("type", text("records")),
            ("thread", bytes(&tid)),
            ("log", bytes(&lid)),
            ("counter", uint(5)),
            ("envelopes", array(&envelopes)),
        ]
    };
    let head =
        |log: &[u8], counter: u64| canonical(&[("log", bytes(log)), ("counter", uint(counter))]);
    let heads_fields = |heads: Vec<Vec<u8>>| {
        vec![
            ("type", text("heads")),
            ("thread", bytes(&tid)),
            ("heads", array(&heads)),
        ]
    };
    let mut trailing = spec_example.clone();
    trailing.push(0x00);
    let mut twice = spec_example.clone();
    twice.extend_from_slice(&spec_example);
    let truncated = spec_example[..spec_example.len() - 1].to_vec();
    let lexicographic = {
        let mut sorted = fields.clone();
        sorted.sort_by_key(|(key, _)| *key);
        map(&sorted)
    };
    let indefinite = {
        let canonical_bytes = canonical(&fields);
        let mut out = vec![0xbf];
        out.extend_from_slice(&canonical_bytes[1..]);
        out.push(0xff);
        out
    };
    let duplicate_key = {
        let mut entries = fields.clone();
        entries.push(("after", uint(3)));
        canonical(&entries)
    };
    let envelope_fields = |e: &Envelope| {
        vec![
            ("body", bytes(&e.body)),
            ("event", bytes(&e.event)),
            ("header", bytes(&e.header)),
            ("record", bytes(&e.record)),
        ]
    };
    let e1_fields = envelope_fields(fx.e(1));
    let malformed_envelope =
        |envelope: Vec<u8>| canonical(&records_fields(vec![env(1), bytes(&envelope)]));
    let non_minimal_after = canonical(&with(&fields, "after", Some(vec![0x18, 0x03])));

    let malformed: Vec<(&str, &[&str], &str, Vec<u8>)> = vec![
        ("SYNC-2", &["NOT_CBOR"], "empty", Vec::new()),
        ("SYNC-2", &["NOT_CBOR"], "a lone break byte", vec![0xff]),
        (
            "SYNC-2",
            &["NOT_CBOR"],
            "a pull cut short by one byte",
            truncated,
        ),
        (
            "SYNC-2",
            &["TRAILING_BYTES"],
            "a pull followed by a zero byte",
            trailing,
        ),
        (
            "SYNC-2",
            &["TRAILING_BYTES"],
            "two pulls in one message",
            twice,
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "an array, not a map",
            array(&[text("pull")]),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "the text string \"pull\"",
            text("pull"),
        ),
        (
            "SYNC-2",
            &["NON_CANONICAL"],
            "a pull with its keys sorted bytewise (after, limit, log, thread, type), not by length first",
            lexicographic,
        ),
        (
            "SYNC-2",
            &["NON_CANONICAL"],
            "a pull whose after (3) takes two bytes",
            non_minimal_after,
        ),
        (
            "SYNC-2",
            &["NON_CANONICAL"],
            "a pull as an indefinite-length map",
            indefinite,
        ),
        (
            "SYNC-2",
            &["NON_CANONICAL"],
            "a pull with the key after twice",
            duplicate_key,
        ),
        (
            "SYNC-2",
            &["UNKNOWN_TYPE"],
            "type \"push\"",
            canonical(&with(&fields, "type", Some(text("push")))),
        ),
        (
            "SYNC-2",
            &["UNKNOWN_TYPE"],
            "type \"Pull\": names are case-sensitive",
            canonical(&with(&fields, "type", Some(text("Pull")))),
        ),
        (
            "SYNC-2",
            &["UNKNOWN_TYPE"],
            "type \"\"",
            canonical(&with(&fields, "type", Some(text("")))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "type as the byte string \"pull\"",
            canonical(&with(&fields, "type", Some(bytes(b"pull")))),
        ),
        (
            "SYNC-2",
            &["MISSING_FIELD"],
            "a pull without a type",
            canonical(&with(&fields, "type", None)),
        ),
        (
            "SYNC-2",
            &["MISSING_FIELD"],
            "a pull without limit",
            canonical(&with(&fields, "limit", None)),
        ),
        (
            "SYNC-2",
            &["MISSING_FIELD"],
            "records without envelopes",
            canonical(&with(&records_fields(vec![env(1)]), "envelopes", None)),
        ),
        (
            "SYNC-2",
            &["MISSING_FIELD"],
            "heads without heads",
            canonical(&with(&heads_fields(Vec::new()), "heads", None)),
        ),
        (
            "SYNC-2",
            &["MISSING_FIELD"],
            "heads whose entry has no counter",
            canonical(&heads_fields(vec![canonical(&[("log", bytes(&lid))])])),
        ),
        (
            "SYNC-2",
            &["UNKNOWN_FIELD"],
            "a pull with an extra field from",
            canonical(&[fields.clone(), vec![("from", bytes(&lid))]].concat()),
        ),
        (
            "SYNC-2",
            &["UNKNOWN_FIELD"],
            "a pull with counter, a field of records",
            canonical(&[fields.clone(), vec![("counter", uint(3))]].concat()),
        ),
        (
            "SYNC-2",
            &["UNKNOWN_FIELD"],
            "heads whose entry has an extra field head",
            canonical(&heads_fields(vec![canonical(&[
                ("log", bytes(&lid)),
                ("counter", uint(2)),
                ("head", bytes(&[0u8; 36])),
            ])])),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "after as the text \"3\"",
            canonical(&with(&fields, "after", Some(text("3")))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "after as the negative integer -1",
            canonical(&with(&fields, "after", Some(cbor::head(1, 0)))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "limit as the float 64.0",
            canonical(&with(
                &fields,
                "limit",
                Some([&[0xfb][..], &64f64.to_be_bytes()].concat()),
            )),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "limit null",
            canonical(&with(&fields, "limit", Some(vec![cbor::NULL]))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "thread as its text form",
            canonical(&with(&fields, "thread", Some(text(&thread.to_string())))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "log as its text form",
            canonical(&with(&fields, "log", Some(text(&log.to_string())))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "thread as a CID link",
            canonical(&with(
                &fields,
                "thread",
                Some(cbor::link(&fx.e(1).record_cid())),
            )),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "records whose envelopes is one byte string, not a list",
            canonical(&with(&records_fields(vec![]), "envelopes", Some(env(1)))),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "records whose envelope is a map, not its bytes",
            canonical(&records_fields(vec![canonical(&e1_fields)])),
        ),
        (
            "SYNC-2",
            &["WRONG_TYPE"],
            "heads whose entry is a list",
            canonical(&heads_fields(vec![array(&[bytes(&lid), uint(2)])])),
        ),
    ];
    for (section, flags, comment, message) in malformed {
        s.case(
            section,
            flags,
            comment,
            b(&message),
            Intent::Invalid(E::MessageMalformed),
        );
    }

    // Well-formed messages whose IDs or envelopes do not decode carry those fields' own codes.
    let random: Vec<u8> = thread.random().to_vec();
    let tid_v2 = [&[0x02, 0x55][..], &random].concat();
    let tid_short = [&[0x01, 0x55][..], &random[..15]].concat();
    let mut small_order_log = lid[..6].to_vec();
    small_order_log.extend_from_slice(&{
        let mut identity = [0u8; 32];
        identity[0] = 1;
        identity
    });
    let own_codes: Vec<CodedMessage> = vec![
        (
            "SYNC-2",
            &["BAD_THREAD_ID"],
            "a pull whose thread has version 2",
            canonical(&with(&fields, "thread", Some(bytes(&tid_v2)))),
            E::TidUnknownVersion,
        ),
        (
            "SYNC-2",
            &["BAD_THREAD_ID"],
            "records whose thread has 15 random bytes",
            canonical(&with(
                &records_fields(vec![env(1)]),
                "thread",
                Some(bytes(&tid_short)),
            )),
            E::TidShortRandom,
        ),
        (
            "SYNC-2",
            &["BAD_THREAD_ID"],
            "heads whose thread is empty",
            canonical(&with(
                &heads_fields(vec![head(&lid, 1)]),
                "thread",
                Some(bytes(&[])),
            )),
            E::TidBadVarint,
        ),
        (
            "SYNC-2",
            &["BAD_LOG_ID"],
            "a pull whose log is 37 bytes",
            canonical(&with(&fields, "log", Some(bytes(&lid[..37])))),
            E::LogIdInvalid,
        ),
        (
            "SYNC-2",
            &["BAD_LOG_ID"],
            "records whose log's key is a point of small order",
            canonical(&with(
                &records_fields(vec![env(1)]),
                "log",
                Some(bytes(&small_order_log)),
            )),
            E::LogIdInvalid,
        ),
        (
            "SYNC-2",
            &["BAD_LOG_ID"],
            "heads whose second entry's log is the text form",
            canonical(&heads_fields(vec![
                head(&lid, 1),
                head(log.to_string().as_bytes(), 2),
            ])),
            E::LogIdInvalid,
        ),
        (
            "SYNC-2",
            &["BAD_ENVELOPE"],
            "records whose second envelope has no body",
            malformed_envelope(canonical(&with(&e1_fields, "body", None))),
            E::EnvelopeMalformed,
        ),
        (
            "SYNC-2",
            &["BAD_ENVELOPE"],
            "records whose second envelope has an extra field",
            malformed_envelope(canonical(
                &[e1_fields.clone(), vec![("seq", uint(1))]].concat(),
            )),
            E::EnvelopeMalformed,
        ),
        (
            "SYNC-2",
            &["BAD_ENVELOPE"],
            "records whose second envelope's keys are not in canonical order",
            malformed_envelope(map(&[
                e1_fields[3].clone(),
                e1_fields[0].clone(),
                e1_fields[1].clone(),
                e1_fields[2].clone(),
            ])),
            E::EnvelopeMalformed,
        ),
        (
            "SYNC-2",
            &["BAD_ENVELOPE"],
            "records whose second envelope is empty",
            malformed_envelope(Vec::new()),
            E::EnvelopeMalformed,
        ),
        (
            "SYNC-2",
            &["BAD_THREAD_ID", "CHECK_ORDER"],
            "a pull whose thread has version 2 and whose log is 37 bytes: the thread's code",
            canonical(&with(
                &with(&fields, "thread", Some(bytes(&tid_v2))),
                "log",
                Some(bytes(&lid[..37])),
            )),
            E::TidUnknownVersion,
        ),
        (
            "SYNC-2",
            &["BAD_LOG_ID", "CHECK_ORDER"],
            "records whose log is 37 bytes and whose second envelope is empty: the log's code",
            canonical(&with(
                &records_fields(vec![env(1), bytes(&[])]),
                "log",
                Some(bytes(&lid[..37])),
            )),
            E::LogIdInvalid,
        ),
    ];
    s.invalid_cases(own_codes, |message| b(&message));
}

// -------------------------------------------------------------------------------------------------
// sync.servePull
// -------------------------------------------------------------------------------------------------

fn serve_pull(s: &mut SuiteBuilder, fx: &Fixture, errors: &mut Vec<String>) {
    let writer = &fx.writer;
    let context = |held: &[&Envelope]| {
        json!({
            "thread": writer.thread.to_string(),
            "log": writer.log().to_string(),
            "followKey": hex::encode(writer.keys.follow.as_bytes()),
            "held": hex_list(held),
        })
    };
    let all: Vec<&Envelope> = fx.chain.iter().collect();
    let groups: Vec<(Value, Vec<PullCase>)> = vec![
        (
            context(&all),
            vec![
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "from the start: the first 10",
                    0,
                    10,
                    (1..=10).collect(),
                ),
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "from the start, limit 256: one full batch",
                    0,
                    256,
                    (1..=256).collect(),
                ),
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "from the middle: seqs 31 to 35",
                    30,
                    5,
                    (31..=35).collect(),
                ),
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "near the end: fewer left than the limit",
                    295,
                    256,
                    (296..=300).collect(),
                ),
                (
                    "SYNC-5",
                    &["STALE_BATCH"],
                    "at the end: nothing after the counter",
                    300,
                    256,
                    Vec::new(),
                ),
                (
                    "SYNC-5",
                    &["STALE_BATCH"],
                    "beyond the end: after 301",
                    301,
                    256,
                    Vec::new(),
                ),
                (
                    "SYNC-5",
                    &["LIMIT_ZERO"],
                    "limit 0: an empty answer",
                    10,
                    0,
                    Vec::new(),
                ),
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "limit 1: exactly the next record",
                    10,
                    1,
                    vec![11],
                ),
                (
                    "SYNC-5",
                    &["UNCAPPED_LIMIT"],
                    "limit 257 is cut to 256",
                    0,
                    257,
                    (1..=256).collect(),
                ),
                (
                    "SYNC-5",
                    &["UNCAPPED_LIMIT"],
                    "limit 1000 from after 3: seqs 4 to 259",
                    3,
                    1000,
                    (4..=259).collect(),
                ),
                (
                    "SYNC-5",
                    &["LARGEST_INTEGERS"],
                    "limit 2^64 - 1 is cut to 256",
                    0,
                    u64::MAX,
                    (1..=256).collect(),
                ),
                (
                    "SYNC-5",
                    &["LARGEST_INTEGERS"],
                    "limit 2^64 - 1 from after 100: the 200 records left",
                    100,
                    u64::MAX,
                    (101..=300).collect(),
                ),
                (
                    "SYNC-5",
                    &["LARGEST_INTEGERS"],
                    "after 2^64 - 1: an empty answer, not a failure",
                    u64::MAX,
                    256,
                    Vec::new(),
                ),
                (
                    "SYNC-5",
                    &["LARGEST_INTEGERS"],
                    "after and limit 2^64 - 1",
                    u64::MAX,
                    u64::MAX,
                    Vec::new(),
                ),
            ],
        ),
        (
            context(&[]),
            vec![
                (
                    "SYNC-5",
                    &["STALE_BATCH"],
                    "a log with no records: counter 0, an empty answer",
                    0,
                    256,
                    Vec::new(),
                ),
                (
                    "SYNC-5",
                    &["LARGEST_INTEGERS"],
                    "a log with no records, after and limit 2^64 - 1",
                    u64::MAX,
                    u64::MAX,
                    Vec::new(),
                ),
            ],
        ),
        (
            context(&fx.span(1, 3)),
            vec![
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "a log of 3: as many as are available",
                    1,
                    64,
                    vec![2, 3],
                ),
                (
                    "SYNC-5",
                    &["NORMAL"],
                    "a log of 3, from the start",
                    0,
                    64,
                    vec![1, 2, 3],
                ),
            ],
        ),
    ];
    for (params, cases) in groups {
        let counter = params["held"].as_array().map_or(0, Vec::len);
        s.group("SyncServePull", "sync.servePull", params.clone());
        for (section, flags, comment, after, limit, seqs) in cases {
            let inputs = json!({"after": after, "limit": limit});
            let records: Vec<&Envelope> = seqs.iter().map(|seq| fx.e(*seq)).collect();
            let want = json!({"counter": counter, "records": cids(&records)});
            check_output("sync.servePull", &params, &inputs, &want, comment, errors);
            s.case(section, flags, comment, inputs, Intent::Valid);
        }
    }
}

// -------------------------------------------------------------------------------------------------
// sync.decideRecords
// -------------------------------------------------------------------------------------------------

/// What a case of `sync.decideRecords` must come to.
struct Want<'a> {
    appended: Vec<&'a Envelope>,
    duplicates: u64,
    rejected: Vec<(usize, E)>,
    gap: Option<usize>,
    counter: u64,
    pull_after: Option<u64>,
}

impl Want<'_> {
    fn json(&self) -> Value {
        let rejected: Vec<Value> = self
            .rejected
            .iter()
            .map(|(index, code)| json!({"errorCode": code.name(), "index": index}))
            .collect();
        json!({
            "appended": cids(&self.appended),
            "counter": self.counter,
            "duplicates": self.duplicates,
            "gap": self.gap,
            "pullAfter": self.pull_after,
            "rejected": rejected,
        })
    }
}

/// One `sync.decideRecords` case.
struct Decide<'a> {
    section: &'a str,
    flags: &'a [&'a str],
    comment: &'a str,
    /// Overrides of the group's inputs (e.g. another log).
    extra: Value,
    held: Vec<&'a Envelope>,
    incoming: Vec<&'a Envelope>,
    sender: u64,
    want: Want<'a>,
}

fn want<'a>(appended: Vec<&'a Envelope>, counter: u64) -> Want<'a> {
    Want {
        appended,
        duplicates: 0,
        rejected: Vec::new(),
        gap: None,
        counter,
        pull_after: None,
    }
}

fn decide_records(
    s: &mut SuiteBuilder,
    fx: &Fixture,
    rng: &mut ChaCha20Rng,
    errors: &mut Vec<String>,
) {
    let w = &fx.writer;
    let e = |seq: usize| fx.e(seq);
    let flip_sig = Tweaks {
        sig: Some(|mut sig| {
            sig[0] ^= 1;
            sig
        }),
        ..Default::default()
    };
    // Seq 3, signed with the first bit of the signature flipped.
    let forged3 = w.forge(after(e(2), 2), b"forged", TIME, flip_sig, rng);
    // Seq 1 of this log, sealed for it, but signed by another key.
    let wrong_author1 = w.forge(
        Position::FIRST,
        b"not the writer",
        TIME,
        Tweaks {
            signer: Some(fx.other.identity.clone()),
            ..Default::default()
        },
        rng,
    );
    // Seq 3 with another record's body block: its record CID is e3's, but a block is swapped.
    let swapped3 = Envelope {
        body: e(4).body.clone(),
        ..e(3).clone()
    };
    // Seq 3 with one bit of its sealed record flipped.
    let mut flipped3 = e(3).clone();
    flipped3.record[10] ^= 0x01;
    // The writer signs a second seq 3 and builds on it: a fork and its successor.
    let fork3 = w.envelope(after(e(2), 2), b"the other event 3", TIME, rng);
    let fork4 = w.envelope(after(&fork3, 3), b"the other event 4", TIME, rng);
    // Seq 3 linking seq 1.
    let skip3 = w.envelope(
        Position {
            seq: 3,
            prev: Some(e(1).record_cid()),
        },
        b"skips seq 2",
        TIME,
        rng,
    );
    let resealed3 = reseal(w, e(3), rng);
    // Records of the same writer in another thread, and of another writer in this thread, at the
    // position after e1.
    let elsewhere2 = fx
        .elsewhere
        .envelope(after(e(1), 1), b"event 2 elsewhere", TIME, rng);
    let other2 = &fx.other_chain[1];
    // Seq 3 whose body a reader cannot open (sealed with another content key), and seq 3 whose
    // header it cannot open (sealed with another read key): both pass VERIFY-1.
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let unreadable_body3 = w.forge(
        after(e(2), 2),
        b"no one reads this",
        TIME,
        Tweaks {
            body_key: Some(key),
            ..Default::default()
        },
        rng,
    );
    rng.fill_bytes(&mut key);
    let unreadable_header3 = w.forge(
        after(e(2), 2),
        b"no one reads this either",
        TIME,
        Tweaks {
            header_key: Some(key),
            ..Default::default()
        },
        rng,
    );
    let rejected = |items: &[(usize, E)]| items.to_vec();

    let follower_cases: Vec<Decide> = vec![
        Decide {
            section: "SYNC-6",
            flags: &["NORMAL"],
            comment: "an in-order batch extending the held log",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: fx.span(3, 5),
            sender: 5,
            want: want(fx.span(3, 5), 5),
        },
        Decide {
            section: "SYNC-11",
            flags: &["NEW_LOG"],
            comment: "a log the peer does not know yet: its records verify with the log ID and start it",
            extra: json!({}),
            held: vec![],
            incoming: fx.span(1, 2),
            sender: 2,
            want: want(fx.span(1, 2), 2),
        },
        Decide {
            section: "SYNC-11",
            flags: &["NEW_LOG"],
            comment: "the thread's second log, new to the peer",
            extra: json!({"log": fx.other.log().to_string()}),
            held: vec![],
            incoming: fx.other_chain.iter().collect(),
            sender: 2,
            want: want(fx.other_chain.iter().collect(), 2),
        },
        Decide {
            section: "SYNC-11",
            flags: &["SKIPPED_VERIFICATION"],
            comment: "a first record of an unknown log signed by another key is dropped; the log \
                      stays at 0 and the sender is pulled from",
            extra: json!({}),
            held: vec![],
            incoming: vec![&wrong_author1],
            sender: 1,
            want: Want {
                rejected: rejected(&[(0, E::SignatureInvalid)]),
                pull_after: Some(0),
                ..want(vec![], 0)
            },
        },
        Decide {
            section: "LOG-4",
            flags: &["REPLAYED_BATCH"],
            comment: "a batch the peer holds entirely: three duplicates, nothing changes",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: fx.span(1, 3),
            sender: 3,
            want: Want {
                duplicates: 3,
                ..want(vec![], 3)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["REPLAYED_BATCH"],
            comment: "an overlapping batch: two held, two new",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: fx.span(2, 5),
            sender: 5,
            want: Want {
                duplicates: 2,
                ..want(fx.span(4, 5), 5)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["REPLAYED_BATCH"],
            comment: "a record twice in one batch: appended, then a duplicate",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: vec![e(2), e(2), e(3)],
            sender: 3,
            want: Want {
                duplicates: 1,
                ..want(fx.span(2, 3), 3)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["FORWARDED_GAP"],
            comment: "the first record is beyond the next position: nothing is appended, and the \
                      peer pulls after its counter",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: fx.span(3, 4),
            sender: 4,
            want: Want {
                gap: Some(0),
                pull_after: Some(1),
                ..want(vec![], 1)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["FORWARDED_GAP", "DECIDED_PAST_GAP"],
            comment: "a gap after one record: seq 3 after the gap is not appended from this \
                      message, though it would link",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: vec![e(2), e(4), e(3)],
            sender: 4,
            want: Want {
                gap: Some(1),
                pull_after: Some(2),
                ..want(fx.span(2, 2), 2)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["FORWARDED_GAP"],
            comment: "seq 2 of a log the peer does not know: a gap at 0, pull after 0",
            extra: json!({}),
            held: vec![],
            incoming: vec![e(2)],
            sender: 2,
            want: Want {
                gap: Some(0),
                pull_after: Some(0),
                ..want(vec![], 0)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["FORGED_SIGNATURE", "DECIDED_PAST_GAP"],
            comment: "a forged record in the middle is dropped; the records after it are still \
                      decided in order, and seq 4 is then a gap",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: vec![e(2), &forged3, e(4), e(5)],
            sender: 5,
            want: Want {
                rejected: rejected(&[(1, E::SignatureInvalid)]),
                gap: Some(2),
                pull_after: Some(2),
                ..want(fx.span(2, 2), 2)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["SWAPPED_BLOCK"],
            comment: "a copy of seq 3 with another record's body block is dropped; the genuine seq \
                      3 after it appends",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&swapped3, e(3), e(4)],
            sender: 4,
            want: Want {
                rejected: rejected(&[(0, E::CidMismatch)]),
                ..want(fx.span(3, 4), 4)
            },
        },
        Decide {
            section: "LOG-8",
            flags: &["INVALID_IN_CHAIN"],
            comment: "a copy of seq 3 with a flipped bit changes nothing; the genuine one appends",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&flipped3, e(3)],
            sender: 3,
            want: Want {
                rejected: rejected(&[(0, E::RecordDecryptFailed)]),
                ..want(fx.span(3, 3), 3)
            },
        },
        Decide {
            section: "LOG-5",
            flags: &["FORK"],
            comment: "a second signed seq 3 at a held position is a fork; the next genuine record \
                      still appends",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: vec![&fork3, e(4)],
            sender: 4,
            want: Want {
                rejected: rejected(&[(0, E::LogFork)]),
                ..want(fx.span(4, 4), 4)
            },
        },
        Decide {
            section: "LOG-6",
            flags: &["FORK", "BROKEN_LINK"],
            comment: "the forked branch: its seq 3 is a fork, its seq 4 does not link to the held \
                      seq 3; the sender's counter is ahead",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: vec![&fork3, &fork4],
            sender: 4,
            want: Want {
                rejected: rejected(&[(0, E::LogFork), (1, E::LogBrokenLink)]),
                pull_after: Some(3),
                ..want(vec![], 3)
            },
        },
        Decide {
            section: "LOG-6",
            flags: &["BROKEN_LINK"],
            comment: "seq 3 linking seq 1 is dropped; the genuine seq 3 after it appends",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&skip3, e(3)],
            sender: 3,
            want: Want {
                rejected: rejected(&[(0, E::LogBrokenLink)]),
                ..want(fx.span(3, 3), 3)
            },
        },
        Decide {
            section: "SEAL-5",
            flags: &["RESEALED_RECORD"],
            comment: "a re-sealed copy of the held seq 3 is neither a duplicate nor a fork",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: vec![&resealed3, e(4)],
            sender: 4,
            want: Want {
                rejected: rejected(&[(0, E::RecordNonceInvalid)]),
                ..want(fx.span(4, 4), 4)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["WRONG_LOG"],
            comment: "seq 2 of the thread's other log, sent as this log's, is dropped",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: vec![other2, e(2)],
            sender: 2,
            want: Want {
                rejected: rejected(&[(0, E::RecordDecryptFailed)]),
                ..want(fx.span(2, 2), 2)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["WRONG_THREAD"],
            comment: "the same writer's seq 2 in another thread with the same keys is dropped",
            extra: json!({}),
            held: fx.span(1, 1),
            incoming: vec![&elsewhere2, e(2)],
            sender: 2,
            want: Want {
                rejected: rejected(&[(0, E::RecordDecryptFailed)]),
                ..want(fx.span(2, 2), 2)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["MISSED_PULL"],
            comment: "no records and a counter ahead: pull after the peer's counter",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: vec![],
            sender: 5,
            want: Want {
                pull_after: Some(3),
                ..want(vec![], 3)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["MISSED_PULL"],
            comment: "a full batch of a longer log: pull the next batch after it",
            extra: json!({}),
            held: vec![],
            incoming: fx.span(1, 10),
            sender: 70,
            want: Want {
                pull_after: Some(10),
                ..want(fx.span(1, 10), 10)
            },
        },
        Decide {
            section: "SYNC-7",
            flags: &["NEEDLESS_PULL"],
            comment: "the batch brings the peer to the sender's counter: no pull",
            extra: json!({}),
            held: fx.span(1, 3),
            incoming: fx.span(4, 5),
            sender: 5,
            want: want(fx.span(4, 5), 5),
        },
        Decide {
            section: "SYNC-7",
            flags: &["NEEDLESS_PULL"],
            comment: "a sender behind the peer is not pulled from",
            extra: json!({}),
            held: fx.span(1, 5),
            incoming: fx.span(1, 2),
            sender: 2,
            want: Want {
                duplicates: 2,
                ..want(vec![], 5)
            },
        },
    ];
    let follower = json!({
        "thread": w.thread.to_string(),
        "log": w.log().to_string(),
        "followKey": hex::encode(w.keys.follow.as_bytes()),
    });
    s.group(
        "SyncDecideRecordsFollower",
        "sync.decideRecords",
        follower.clone(),
    );
    add_decide_cases(s, &follower, follower_cases, errors);
    // A message whose envelope does not decode is dropped as a whole, before any record of it is
    // decided [SYNC-2].
    let mut inputs = json!({
        "held": hex_list(&fx.span(1, 2)),
        "incoming": hex_list(&[e(3)]),
        "senderCounter": 4,
    });
    if let Some(list) = inputs["incoming"].as_array_mut() {
        list.push(hex::encode(&e(4).to_bytes()[1..]).into());
    }
    s.case(
        "SYNC-2",
        &["MALFORMED_ENVELOPE"],
        "a batch whose second envelope does not decode: the whole message is dropped, seq 3 too",
        inputs,
        Intent::Invalid(E::EnvelopeMalformed),
    );

    let reader_cases: Vec<Decide> = vec![
        Decide {
            section: "SYNC-6",
            flags: &["NORMAL"],
            comment: "a reader appends an in-order batch",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: fx.span(3, 4),
            sender: 4,
            want: want(fx.span(3, 4), 4),
        },
        Decide {
            section: "SYNC-6",
            flags: &["UNREADABLE_IS_STILL_A_RECORD"],
            comment: "a record whose body the reader cannot open passes VERIFY-1: it is appended \
                      like at a follower",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&unreadable_body3],
            sender: 3,
            want: want(vec![&unreadable_body3], 3),
        },
        Decide {
            section: "SYNC-14",
            flags: &["UNREADABLE_IS_STILL_A_RECORD"],
            comment: "a record whose header the reader cannot open is appended, so readers and \
                      followers hold the same log",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&unreadable_header3, e(4)],
            sender: 4,
            want: Want {
                rejected: rejected(&[(1, E::LogBrokenLink)]),
                pull_after: Some(3),
                ..want(vec![&unreadable_header3], 3)
            },
        },
        Decide {
            section: "SYNC-6",
            flags: &["FORGED_SIGNATURE"],
            comment: "a reader drops a forged record like a follower",
            extra: json!({}),
            held: fx.span(1, 2),
            incoming: vec![&forged3, e(3)],
            sender: 3,
            want: Want {
                rejected: rejected(&[(0, E::SignatureInvalid)]),
                ..want(fx.span(3, 3), 3)
            },
        },
    ];
    let mut reader = follower;
    reader["readKey"] = w
        .keys
        .read
        .as_ref()
        .map(|k| hex::encode(k.as_bytes()))
        .into();
    s.group(
        "SyncDecideRecordsReader",
        "sync.decideRecords",
        reader.clone(),
    );
    add_decide_cases(s, &reader, reader_cases, errors);
}

fn add_decide_cases(
    s: &mut SuiteBuilder,
    params: &Value,
    cases: Vec<Decide>,
    errors: &mut Vec<String>,
) {
    for case in cases {
        let mut inputs = json!({
            "held": hex_list(&case.held),
            "incoming": hex_list(&case.incoming),
            "senderCounter": case.sender,
        });
        if let (Some(inputs), Some(extra)) = (inputs.as_object_mut(), case.extra.as_object()) {
            inputs.extend(extra.clone());
        }
        check_output(
            "sync.decideRecords",
            params,
            &inputs,
            &case.want.json(),
            case.comment,
            errors,
        );
        s.case(
            case.section,
            case.flags,
            case.comment,
            inputs,
            Intent::Valid,
        );
    }
}

fn notes(s: &mut SuiteBuilder) {
    s.note("NORMAL", "BASIC", "A well-formed message, pull or batch.");
    s.note(
        "CHECK_ORDER",
        "EDGE_CASE",
        "Two fields fail to decode: the first in the order thread, log, then envelopes or heads entries names the code (SYNC-2).",
    );
    s.note(
        "LARGEST_INTEGERS",
        "EDGE_CASE",
        "after, limit or counter 2^64 - 1: valid, and must neither overflow nor fail.",
    );
    s.note(
        "DECODING_IS_NOT_VERIFYING",
        "FUNCTIONALITY",
        "A message decodes whatever its records are worth; each record is verified when it is decided (SYNC-6).",
    );
    s.note(
        "NOT_CBOR",
        "MISSING_CHECK",
        "Bytes that are not one complete DAG-CBOR item.",
    );
    s.note(
        "TRAILING_BYTES",
        "MALLEABILITY",
        "A message followed by more bytes: one message is exactly one item.",
    );
    s.note(
        "NON_CANONICAL",
        "MALLEABILITY",
        "A DAG-CBOR encoding other than the canonical one (key order, integer width, indefinite length, repeated key).",
    );
    s.note(
        "UNKNOWN_TYPE",
        "MISSING_CHECK",
        "A type other than pull, records or heads, exactly as written.",
    );
    s.note(
        "MISSING_FIELD",
        "MISSING_CHECK",
        "A message or heads entry without one of its fields.",
    );
    s.note(
        "UNKNOWN_FIELD",
        "MISSING_CHECK",
        "A field the message's type does not have, even one another type has.",
    );
    s.note(
        "WRONG_TYPE",
        "MISSING_CHECK",
        "A message, or a field of it, of another CBOR type than SYNC-1 says.",
    );
    s.note(
        "BAD_THREAD_ID",
        "MISSING_CHECK",
        "A well-formed message whose thread ID does not decode: the TID's own code, not MESSAGE_MALFORMED.",
    );
    s.note(
        "BAD_LOG_ID",
        "MISSING_CHECK",
        "A well-formed message whose log ID does not decode: LOG_ID_INVALID, not MESSAGE_MALFORMED.",
    );
    s.note(
        "BAD_ENVELOPE",
        "MISSING_CHECK",
        "A well-formed records message with an envelope that does not decode: ENVELOPE_MALFORMED, not MESSAGE_MALFORMED.",
    );
    s.note(
        "STALE_BATCH",
        "EDGE_CASE",
        "Nothing to send: the answer is empty, with the server's counter, never a failure.",
    );
    s.note(
        "LIMIT_ZERO",
        "EDGE_CASE",
        "A limit of 0 gets an empty answer, not one record.",
    );
    s.note(
        "UNCAPPED_LIMIT",
        "RESOURCE_EXHAUSTION",
        "A limit above 256 (PULL_LIMIT) must be cut to 256.",
    );
    s.note(
        "NEW_LOG",
        "FUNCTIONALITY",
        "Records of a log the peer does not know yet start it, once they verify with the log ID's key.",
    );
    s.note(
        "SKIPPED_VERIFICATION",
        "SIGNATURE_FORGERY",
        "A record of an unknown log must be verified like any other before it starts the log.",
    );
    s.note(
        "REPLAYED_BATCH",
        "REPLAY",
        "Records the peer already holds are duplicates: counted, not appended again, not errors.",
    );
    s.note(
        "FORWARDED_GAP",
        "MISSING_CHECK",
        "A record beyond the next position must not be appended; the peer pulls the missing ones instead.",
    );
    s.note(
        "DECIDED_PAST_GAP",
        "STATE_CORRUPTION",
        "No record after a gap is appended from the same message, even one that would link.",
    );
    s.note(
        "FORGED_SIGNATURE",
        "SIGNATURE_FORGERY",
        "A record the log's key did not sign is dropped; the batch goes on.",
    );
    s.note(
        "SWAPPED_BLOCK",
        "MISSING_CHECK",
        "A block that is not the one its link names; the record CID alone does not make a duplicate of it.",
    );
    s.note(
        "INVALID_IN_CHAIN",
        "STATE_CORRUPTION",
        "A record that fails verification must leave the log unchanged.",
    );
    s.note(
        "FORK",
        "EQUIVOCATION",
        "The writer signed two records for one position; the one held stays.",
    );
    s.note(
        "BROKEN_LINK",
        "MISSING_CHECK",
        "A record at the next position that does not link to the head.",
    );
    s.note(
        "RESEALED_RECORD",
        "EQUIVOCATION",
        "A follow-key holder's re-sealed copy of a held record must not pass for a duplicate or a fork.",
    );
    s.note(
        "WRONG_LOG",
        "CONFUSED_DEPUTY",
        "A record of another log must be verified for the log the message names, and fail.",
    );
    s.note(
        "WRONG_THREAD",
        "CONFUSED_DEPUTY",
        "A record of another thread must be verified for the thread the message names, and fail.",
    );
    s.note(
        "MISSED_PULL",
        "FUNCTIONALITY",
        "The sender's counter is ahead after the batch: the peer must pull after its own counter.",
    );
    s.note(
        "NEEDLESS_PULL",
        "FUNCTIONALITY",
        "The sender is not ahead: no pull follows.",
    );
    s.note(
        "MALFORMED_ENVELOPE",
        "STATE_CORRUPTION",
        "A message with an envelope that does not decode is dropped as a whole: none of its records is decided.",
    );
    s.note(
        "UNREADABLE_IS_STILL_A_RECORD",
        "FUNCTIONALITY",
        "VERIFY-1 alone decides whether a record belongs to its log: a reader that cannot open its header or body still stores and serves it.",
    );
}
