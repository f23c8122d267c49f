//! The vector operations, executed by the reference implementation.
//!
//! Each operation maps a case's JSON inputs to the JSON output a conforming implementation must give,
//! or to a registry error. The generator uses this to compute every expected value, `cargo test`
//! re-runs it against the committed files, and the harness adapter exposes the same operations to
//! other implementations. Inputs use lower-case hex for bytes and the spec's text forms for IDs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::acl::{AclEvent, AclOp, Action};
use threads::db::{DbEvent, DbRecord, DbView, Op as DbOp, Query, Snapshot};
use threads::envelope::Envelope;
use threads::error::{Error, ErrorCode, Result};
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::{self, Invite};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey, Role};
use threads::log::{Accepted, Admitted, Log, LogReplica, pull_after};
use threads::membership;
use threads::record;
use threads::seal::{self, Layer};
use threads::sync::Message;
use threads::verify::{self, VerifiedRecord};
use threads::{Cid, addr::LogAddr};

/// The JSON type of an input or output field (vectors/README.md, "Field types").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Lower-case hex bytes.
    Hex,
    /// Lower-case hex bytes, or null / absent.
    OptHex,
    /// Any string (text forms of IDs and addresses).
    Text,
    /// A CID in base32 text.
    Cid,
    /// A CID in base32 text, or null.
    OptCid,
    /// An unsigned integer.
    Uint,
    /// `record`, `header` or `body`.
    Layer,
    /// `raw` or `access-controlled`.
    Variant,
    /// `reader` or `follower`.
    Role,
    /// An array of hex strings.
    HexArray,
    /// An array of strings.
    TextArray,
    /// `follower`, `reader` or `writer`: the role an invite offers.
    InviteRole,
    /// `follow`, `read`, `write`, `delete` or `admin`: an ACL decision's action.
    Action,
    /// An array of `{"log": text, "addrs": [text]}`: an invite's logs.
    LogEntries,
    /// An object from log ID text to an array of hex envelopes, each log's in seq order.
    LogMap,
    /// The JSON form of an ACL document: `{"_id", "admins", "default", "peers"}`.
    AclDocument,
    /// An array of CIDs.
    CidArray,
    /// An object from CID to an error code's name.
    CodeMap,
    /// An object from peer ID text to an unsigned integer.
    UintMap,
    /// An unsigned integer, or null.
    OptUint,
    /// The JSON form of a sync message: `type` and the fields of that type [SYNC-1].
    SyncMessage,
    /// An array of `{"index": uint, "errorCode": text}`: records dropped from a batch, and why.
    IndexedCodes,
    /// An array of `{"record": CID, "log": text, "seq": uint, "body": hex}`: the applied events a
    /// database view folds, in arrival order [DB-11].
    DbEvents,
}

/// One operation's contract: its inputs and the fields of its output.
#[derive(Debug, Clone, Copy)]
pub struct OpSpec {
    /// The operation's name, e.g. `tid.decode`.
    pub name: &'static str,
    /// What it does, for vectors/README.md.
    pub summary: &'static str,
    /// Inputs (group parameters and case inputs together); `Opt*` kinds may be absent.
    pub inputs: &'static [(&'static str, Kind)],
    /// Fields of `expected`.
    pub output: &'static [(&'static str, Kind)],
    /// Runs the operation with the reference (private: the runner calls [`execute`]).
    run: Handler,
}

/// An operation's implementation. Only `log.replay` fails with a state; every other operation
/// fails with a plain [`Error`] and is adapted by `plain!`.
type Handler = fn(&Inputs) -> Result<Value, Failure>;

/// Adapts an operation that fails with a plain [`Error`] to a [`Handler`].
macro_rules! plain {
    ($run:path) => {
        |input: &Inputs| $run(input).map_err(Failure::from)
    };
}

const TID_OUT: &[(&str, Kind)] = &[
    ("bytes", Kind::Hex),
    ("random", Kind::Hex),
    ("text", Kind::Text),
    ("variant", Kind::Variant),
];
const LOG_ID_OUT: &[(&str, Kind)] = &[
    ("bytes", Kind::Hex),
    ("publicKey", Kind::Hex),
    ("text", Kind::Text),
];
const CONTEXT: [(&str, Kind); 2] = [("thread", Kind::Text), ("log", Kind::Text)];
const VERIFIED_OUT: [(&str, Kind); 6] = [
    ("body", Kind::Cid),
    ("event", Kind::Cid),
    ("header", Kind::Cid),
    ("prev", Kind::OptCid),
    ("recordCid", Kind::Cid),
    ("seq", Kind::Uint),
];

/// The inputs every ACL operation shares: the thread, its keys, the creator (the log whose seq 1
/// is the genesis), the genesis record's CID when an anchor named it [ACL-11], and the logs a
/// reader holds.
const ACL_CONTEXT: [(&str, Kind); 6] = [
    ("thread", Kind::Text),
    ("followKey", Kind::Hex),
    ("readKey", Kind::Hex),
    ("creator", Kind::Text),
    ("genesis", Kind::OptCid),
    ("logs", Kind::LogMap),
];

/// The inputs every membership proof operation shares [SYNC-18].
const MEMBERSHIP_CONTEXT: [(&str, Kind); 4] = [
    ("thread", Kind::Text),
    ("prover", Kind::Text),
    ("verifier", Kind::Text),
    ("nonce", Kind::Hex),
];

/// `shared` followed by an operation's own fields, as one array of `M` fields: the tables name a
/// shared context once instead of copying its entries. `M` is stated by the caller (stable Rust
/// cannot add const generics); a wrong `M` fails the build, never a run.
const fn with<const M: usize>(
    shared: &[(&'static str, Kind)],
    own: &[(&'static str, Kind)],
) -> [(&'static str, Kind); M] {
    assert!(
        M == shared.len() + own.len(),
        "M must be the number of fields"
    );
    let mut out = [("", Kind::Hex); M];
    let mut i = 0;
    while i < M {
        out[i] = if i < shared.len() {
            shared[i]
        } else {
            own[i - shared.len()]
        };
        i += 1;
    }
    out
}

/// Every operation, in the order vectors/README.md documents them.
pub const OPERATIONS: &[OpSpec] = &[
    OpSpec {
        name: "tid.decode",
        run: plain!(tid_decode),
        summary: "Decode a Thread ID's text form (any accepted multibase).",
        inputs: &[("text", Kind::Text)],
        output: TID_OUT,
    },
    OpSpec {
        name: "tid.decodeBytes",
        run: plain!(tid_decode_bytes),
        summary: "Decode a Thread ID's binary form.",
        inputs: &[("bytes", Kind::Hex)],
        output: TID_OUT,
    },
    OpSpec {
        name: "tid.encode",
        run: plain!(tid_encode),
        summary: "Build a Thread ID from a variant and a random part.",
        inputs: &[("variant", Kind::Variant), ("random", Kind::Hex)],
        output: TID_OUT,
    },
    OpSpec {
        name: "identity.fromSeed",
        run: plain!(identity_from_seed),
        summary: "Derive the log ID of an Ed25519 seed.",
        inputs: &[("seed", Kind::Hex)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logId.decode",
        run: plain!(log_id_decode),
        summary: "Decode a log ID's base58btc text form.",
        inputs: &[("text", Kind::Text)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logId.decodeBytes",
        run: plain!(log_id_decode_bytes),
        summary: "Decode a log ID's binary form.",
        inputs: &[("bytes", Kind::Hex)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logAddr.decode",
        run: plain!(log_addr_decode),
        summary: "Decode a log address.",
        inputs: &[("text", Kind::Text)],
        output: &[
            ("log", Kind::Text),
            ("peer", Kind::Text),
            ("peerAddr", Kind::Text),
            ("text", Kind::Text),
        ],
    },
    OpSpec {
        name: "keyset.decode",
        run: plain!(keyset_decode),
        summary: "Decode a key set.",
        inputs: &[("bytes", Kind::Hex)],
        output: &[
            ("followKey", Kind::Hex),
            ("readKey", Kind::OptHex),
            ("role", Kind::Role),
        ],
    },
    OpSpec {
        name: "keyset.encode",
        run: plain!(keyset_encode),
        summary: "Encode a key set.",
        inputs: &[("followKey", Kind::Hex), ("readKey", Kind::OptHex)],
        output: &[("bytes", Kind::Hex)],
    },
    OpSpec {
        name: "seal.associatedData",
        run: plain!(associated_data),
        summary: "Build a layer's associated data.",
        inputs: &with::<3>(&CONTEXT, &[("layer", Kind::Layer)]),
        output: &[("ad", Kind::Hex)],
    },
    OpSpec {
        name: "seal.open",
        run: plain!(seal_open),
        summary: "Open a sealed layer of a thread's log (associated data built from thread, log and layer); the record layer must carry its synthetic nonce (SEAL-5).",
        inputs: &with::<5>(
            &CONTEXT,
            &[
                ("layer", Kind::Layer),
                ("key", Kind::Hex),
                ("sealed", Kind::Hex),
            ],
        ),
        output: &[("plaintext", Kind::Hex)],
    },
    OpSpec {
        name: "seal.openRaw",
        run: plain!(seal_open_raw),
        summary: "Open nonce ‖ ciphertext ‖ tag with explicit associated data; errors use the layer's code.",
        inputs: &[
            ("layer", Kind::Layer),
            ("key", Kind::Hex),
            ("ad", Kind::Hex),
            ("sealed", Kind::Hex),
        ],
        output: &[("plaintext", Kind::Hex)],
    },
    OpSpec {
        name: "record.signingInput",
        run: plain!(signing_input),
        summary: "Build the bytes a writer signs.",
        inputs: &with::<5>(
            &CONTEXT,
            &[
                ("block", Kind::Cid),
                ("prev", Kind::OptCid),
                ("seq", Kind::Uint),
            ],
        ),
        output: &[("bytes", Kind::Hex)],
    },
    OpSpec {
        name: "envelope.verifyFollower",
        run: plain!(verify_follower),
        summary: "Decode an envelope and run follower verification (VERIFY-1).",
        inputs: &with::<5>(
            &CONTEXT,
            &[
                ("followKey", Kind::Hex),
                ("readKey", Kind::OptHex),
                ("envelope", Kind::Hex),
            ],
        ),
        output: &VERIFIED_OUT,
    },
    OpSpec {
        name: "envelope.verifyReader",
        run: plain!(verify_reader),
        summary: "Decode an envelope and run reader verification (VERIFY-2).",
        inputs: &with::<5>(
            &CONTEXT,
            &[
                ("followKey", Kind::Hex),
                ("readKey", Kind::OptHex),
                ("envelope", Kind::Hex),
            ],
        ),
        output: &[
            VERIFIED_OUT[0],
            VERIFIED_OUT[1],
            VERIFIED_OUT[2],
            ("plaintext", Kind::Hex),
            VERIFIED_OUT[3],
            VERIFIED_OUT[4],
            VERIFIED_OUT[5],
            ("time", Kind::Uint),
        ],
    },
    OpSpec {
        name: "log.replay",
        run: log_replay,
        summary: "Deliver envelopes in order to an empty log; report each outcome and the final head and counter.",
        inputs: &with::<4>(
            &CONTEXT,
            &[("followKey", Kind::Hex), ("deliveries", Kind::HexArray)],
        ),
        output: &[
            ("counter", Kind::Uint),
            ("head", Kind::OptCid),
            ("outcomes", Kind::TextArray),
        ],
    },
    OpSpec {
        name: "hpke.open",
        run: plain!(hpke_open),
        summary: "RFC 9180 single-shot open, base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20Poly1305.",
        inputs: &[
            ("skR", Kind::Hex),
            ("enc", Kind::Hex),
            ("info", Kind::Hex),
            ("aad", Kind::Hex),
            ("ct", Kind::Hex),
        ],
        output: &[("plaintext", Kind::Hex)],
    },
    OpSpec {
        name: "invite.recipientKeys",
        run: plain!(recipient_keys),
        summary: "The X25519 key pair an invite is sealed to, derived from an Ed25519 seed.",
        inputs: &[("seed", Kind::Hex)],
        output: &[("x25519Public", Kind::Hex), ("x25519Secret", Kind::Hex)],
    },
    OpSpec {
        name: "invite.open",
        run: plain!(invite_open),
        summary: "Open an invite with the recipient's seed: every check of INV-6, then INV-9.",
        inputs: &[("recipientSeed", Kind::Hex), ("invite", Kind::Hex)],
        output: &[
            ("acl", Kind::OptHex),
            ("followKey", Kind::Hex),
            ("inviter", Kind::Text),
            ("logs", Kind::LogEntries),
            ("readKey", Kind::OptHex),
            ("role", Kind::InviteRole),
            ("thread", Kind::Text),
        ],
    },
    OpSpec {
        name: "acl.evaluate",
        run: plain!(acl_evaluate),
        summary: "Verify and link every log's envelopes, then fold the genesis and the ACL events.",
        inputs: &ACL_CONTEXT,
        output: &[
            ("applied", Kind::CidArray),
            ("cuts", Kind::UintMap),
            ("document", Kind::AclDocument),
            ("ignored", Kind::CodeMap),
            ("rejected", Kind::CodeMap),
        ],
    },
    OpSpec {
        name: "acl.checkChange",
        run: plain!(acl_check_change),
        summary: "Check one ACL event of the logs as a single event: its outcome in the folded set.",
        inputs: &with::<7>(&ACL_CONTEXT, &[("cid", Kind::Cid)]),
        output: &[],
    },
    OpSpec {
        name: "acl.acceptsRecord",
        run: plain!(acl_accepts_record),
        summary: "Whether the folded ACL accepts the record of `author` at `seq` (write, or a cut covering it).",
        inputs: &with::<8>(&ACL_CONTEXT, &[("author", Kind::Text), ("seq", Kind::Uint)]),
        output: &[],
    },
    OpSpec {
        name: "acl.decide",
        run: plain!(acl_decide),
        summary: "The folded ACL's decision for `peer` and `action`.",
        inputs: &with::<8>(
            &ACL_CONTEXT,
            &[("peer", Kind::Text), ("action", Kind::Action)],
        ),
        output: &[],
    },
    OpSpec {
        name: "sync.decodeMessage",
        run: plain!(decode_message),
        summary: "Decode a sync message (SYNC-1, SYNC-2); envelopes are given by their record CIDs.",
        inputs: &[("bytes", Kind::Hex)],
        output: &[("message", Kind::SyncMessage)],
    },
    OpSpec {
        name: "sync.servePull",
        run: plain!(serve_pull),
        summary: "Answer a pull from a log held from seq 1 (SYNC-5): the server's counter and the records of its answer.",
        inputs: &with::<6>(
            &CONTEXT,
            &[
                ("followKey", Kind::Hex),
                ("held", Kind::HexArray),
                ("after", Kind::Uint),
                ("limit", Kind::Uint),
            ],
        ),
        output: &[("counter", Kind::Uint), ("records", Kind::CidArray)],
    },
    OpSpec {
        name: "sync.decideRecords",
        run: plain!(decide_records),
        summary: "Decide the envelopes of one records message at a peer holding `held` (SYNC-6, SYNC-7, SYNC-11).",
        inputs: &with::<7>(
            &CONTEXT,
            &[
                ("followKey", Kind::Hex),
                ("readKey", Kind::OptHex),
                ("held", Kind::HexArray),
                ("incoming", Kind::HexArray),
                ("senderCounter", Kind::Uint),
            ],
        ),
        output: &[
            ("appended", Kind::CidArray),
            ("counter", Kind::Uint),
            ("duplicates", Kind::Uint),
            ("gap", Kind::OptUint),
            ("pullAfter", Kind::OptUint),
            ("rejected", Kind::IndexedCodes),
        ],
    },
    OpSpec {
        name: "membership.deriveKeys",
        run: plain!(membership_derive),
        summary: "Derive a thread's proof key, gossip topic and gossip key from its follow key with HKDF-SHA256 (SYNC-18, SYNC-24).",
        inputs: &[("thread", Kind::Text), ("followKey", Kind::Hex)],
        output: &[
            ("gossipKey", Kind::Hex),
            ("proofKey", Kind::Hex),
            ("topic", Kind::Text),
        ],
    },
    OpSpec {
        name: "membership.transcript",
        run: plain!(membership_transcript),
        summary: "The DAG-CBOR transcript a membership proof covers (SYNC-18).",
        inputs: &MEMBERSHIP_CONTEXT,
        output: &[("transcript", Kind::Hex)],
    },
    OpSpec {
        name: "membership.prove",
        run: plain!(membership_prove),
        summary: "The proof of `prover` for `verifier` over `nonce`: HMAC-SHA256 of the transcript under the proof key (SYNC-18).",
        inputs: &with::<5>(&MEMBERSHIP_CONTEXT, &[("followKey", Kind::Hex)]),
        output: &[("proof", Kind::Hex)],
    },
    OpSpec {
        name: "membership.checkProof",
        run: plain!(membership_check),
        summary: "Check a proof received from `prover` at `verifier` over the verifier's `nonce` (SYNC-18); PROOF_INVALID if it does not check.",
        inputs: &with::<6>(
            &MEMBERSHIP_CONTEXT,
            &[("followKey", Kind::Hex), ("proof", Kind::Hex)],
        ),
        output: &[],
    },
    OpSpec {
        name: "membership.sealPublication",
        run: plain!(membership_seal),
        summary: "Seal a sync message for the thread's topic with the gossip key and a given 24-byte nonce (SYNC-24).",
        inputs: &[
            ("thread", Kind::Text),
            ("followKey", Kind::Hex),
            ("nonce", Kind::Hex),
            ("message", Kind::Hex),
        ],
        output: &[("sealed", Kind::Hex)],
    },
    OpSpec {
        name: "membership.openPublication",
        run: plain!(membership_open),
        summary: "Open a publication on the thread's topic with the gossip key (SYNC-24).",
        inputs: &[
            ("thread", Kind::Text),
            ("followKey", Kind::Hex),
            ("sealed", Kind::Hex),
        ],
        output: &[("message", Kind::Hex)],
    },
    OpSpec {
        name: "db.classify",
        run: plain!(db_classify),
        summary: "Classify a body: a database event (its clock and op names), or not one (null clock).",
        inputs: &[("body", Kind::Hex)],
        output: &[("clock", Kind::OptUint), ("ops", Kind::TextArray)],
    },
    OpSpec {
        name: "db.fold",
        run: plain!(db_fold),
        summary: "Fold a set of applied events, given in arrival order, into the database view.",
        inputs: &[("events", Kind::DbEvents)],
        output: &[("view", Kind::Hex), ("viewCid", Kind::Cid)],
    },
    OpSpec {
        name: "db.query",
        run: plain!(db_query),
        summary: "Fold a set of events, then run a query document over the view: the IDs in order.",
        inputs: &[("events", Kind::DbEvents), ("query", Kind::Hex)],
        output: &[("ids", Kind::TextArray)],
    },
    OpSpec {
        name: "db.snapshot",
        run: plain!(db_snapshot),
        summary: "Fold a set of events and list its snapshots (DB-19): the CID of each and of its view.",
        inputs: &[("events", Kind::DbEvents)],
        output: &[
            ("snapshotCids", Kind::CidArray),
            ("viewCids", Kind::CidArray),
        ],
    },
    OpSpec {
        name: "db.resume",
        run: plain!(db_resume),
        summary: "Rebuild a view from a snapshot block, its view and the events held (DB-23, DB-24).",
        inputs: &[
            ("snapshot", Kind::Hex),
            ("view", Kind::Hex),
            ("events", Kind::DbEvents),
        ],
        output: &[("viewCid", Kind::Cid)],
    },
];

/// The contract of an operation, by name.
pub fn spec_of(name: &str) -> Option<&'static OpSpec> {
    OPERATIONS.iter().find(|op| op.name == name)
}

/// Why an operation failed: the registry error, and for sequence operations the state it left.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The error, whose code the vector's `errorCode` names.
    pub error: Error,
    /// For `log.replay`: the outcomes, head and counter after every delivery [LOG-8].
    pub state: Option<Value>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, state: None }
    }
}

/// Runs `operation` on `inputs` (group parameters merged with the case's inputs).
pub fn execute(operation: &str, inputs: &Map<String, Value>) -> Result<Value, Failure> {
    match spec_of(operation) {
        Some(op) => (op.run)(&Inputs(inputs)),
        None => Err(Failure::from(Error::new(
            ErrorCode::Unsupported,
            format!("unknown operation {operation}"),
        ))),
    }
}

fn tid_decode(input: &Inputs) -> Result<Value> {
    Ok(tid_json(&ThreadId::from_str(input.str("text")?)?))
}

fn tid_decode_bytes(input: &Inputs) -> Result<Value> {
    Ok(tid_json(&ThreadId::from_bytes(&input.hex("bytes")?)?))
}

fn log_id_decode(input: &Inputs) -> Result<Value> {
    Ok(log_id_json(&LogId::from_str(input.str("text")?)?))
}

fn log_id_decode_bytes(input: &Inputs) -> Result<Value> {
    Ok(log_id_json(&LogId::from_bytes(&input.hex("bytes")?)?))
}

fn keyset_decode(input: &Inputs) -> Result<Value> {
    Ok(keyset_json(&KeySet::from_bytes(&input.hex("bytes")?)?))
}

/// Typed access to a case's inputs; a missing or ill-typed input is BAD_REQUEST.
struct Inputs<'a>(&'a Map<String, Value>);

impl Inputs<'_> {
    fn value(&self, key: &str) -> Result<&Value> {
        self.0
            .get(key)
            .ok_or_else(|| bad_request(format!("missing input {key}")))
    }

    fn str(&self, key: &str) -> Result<&str> {
        self.value(key)?
            .as_str()
            .ok_or_else(|| bad_request(format!("input {key} must be a string")))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(key).map(Some),
        }
    }

    fn hex(&self, key: &str) -> Result<Vec<u8>> {
        hex::decode(self.str(key)?).map_err(|e| bad_request(format!("input {key} is not hex: {e}")))
    }

    fn opt_hex(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.opt_str(key)?
            .map(|s| {
                hex::decode(s).map_err(|e| bad_request(format!("input {key} is not hex: {e}")))
            })
            .transpose()
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.value(key)?
            .as_u64()
            .ok_or_else(|| bad_request(format!("input {key} must be an unsigned integer")))
    }

    fn thread(&self) -> Result<ThreadId> {
        ThreadId::from_str(self.str("thread")?)
    }

    fn log(&self) -> Result<LogId> {
        LogId::from_str(self.str("log")?)
    }

    fn layer(&self) -> Result<Layer> {
        match self.str("layer")? {
            "record" => Ok(Layer::Record),
            "header" => Ok(Layer::Header),
            "body" => Ok(Layer::Body),
            other => Err(bad_request(format!("unknown layer {other}"))),
        }
    }

    fn key32(&self, key: &str) -> Result<[u8; 32]> {
        let bytes = self.hex(key)?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad_request(format!("input {key} must be 32 bytes")))
    }

    fn key_set(&self) -> Result<KeySet> {
        Ok(KeySet {
            follow: FollowKey::from_slice(&self.hex("followKey")?)?,
            read: self
                .opt_hex("readKey")?
                .map(|k| ReadKey::from_slice(&k))
                .transpose()?,
        })
    }

    fn cid(&self, key: &str) -> Result<Option<Cid>> {
        self.opt_str(key)?
            .map(|s| Cid::from_str(s).map_err(|e| bad_request(format!("input {key}: {e}"))))
            .transpose()
    }

    fn envelope(&self, key: &str) -> Result<Envelope> {
        Envelope::from_bytes(&self.hex(key)?)
    }
}

/// The events of a `DbEvents` input, in the order given.
fn db_records(input: &Inputs) -> Result<Vec<DbRecord>> {
    let items = input
        .value("events")?
        .as_array()
        .ok_or_else(|| bad_request("events must be an array".into()))?;
    items
        .iter()
        .map(|item| {
            let field = |k: &str| {
                item.get(k)
                    .ok_or_else(|| bad_request(format!("an event lacks {k}")))
            };
            let text = |k: &str| {
                field(k)?
                    .as_str()
                    .ok_or_else(|| bad_request(format!("event {k} must be text")))
            };
            Ok(DbRecord {
                cid: Cid::from_str(text("record")?)
                    .map_err(|e| bad_request(format!("event record: {e}")))?,
                log: LogId::from_str(text("log")?)?,
                seq: field("seq")?
                    .as_u64()
                    .ok_or_else(|| bad_request("event seq must be a uint".into()))?,
                body: hex::decode(text("body")?)
                    .map_err(|e| bad_request(format!("event body: {e}")))?,
            })
        })
        .collect()
}

fn db_classify(input: &Inputs) -> Result<Value> {
    Ok(match DbEvent::classify(&input.hex("body")?)? {
        Some(event) => json!({
            "clock": event.clock,
            "ops": event.ops.iter().map(db_op_name).collect::<Vec<_>>(),
        }),
        None => json!({"clock": null, "ops": []}),
    })
}

fn db_op_name(op: &DbOp) -> &'static str {
    match op {
        DbOp::Collection { .. } => "collection",
        DbOp::Create { .. } => "create",
        DbOp::Save { .. } => "save",
        DbOp::Delete { .. } => "delete",
        DbOp::Put { .. } => "put",
        DbOp::Del { .. } => "del",
    }
}

fn db_fold(input: &Inputs) -> Result<Value> {
    let view = DbView::from_records(&db_records(input)?);
    Ok(json!({"view": hex::encode(view.to_bytes()), "viewCid": view.cid().to_string()}))
}

fn db_snapshot(input: &Inputs) -> Result<Value> {
    let snapshots = DbView::from_records(&db_records(input)?).snapshots();
    let cids = |f: fn(&Snapshot) -> Cid| -> Vec<String> {
        snapshots.iter().map(|s| f(s).to_string()).collect()
    };
    Ok(json!({"snapshotCids": cids(Snapshot::cid), "viewCids": cids(Snapshot::view_cid)}))
}

fn db_resume(input: &Inputs) -> Result<Value> {
    let snapshot = Snapshot::from_parts(&input.hex("snapshot")?, input.hex("view")?)?;
    let view = DbView::resume(&snapshot, &db_records(input)?)?;
    view.complete()?;
    Ok(json!({"viewCid": view.cid().to_string()}))
}

fn db_query(input: &Inputs) -> Result<Value> {
    let view = DbView::from_records(&db_records(input)?);
    let query = Query::from_bytes(&input.hex("query")?)?;
    let result = query.run(view.collection(&query.coll)?);
    let ids: Vec<String> = result.docs.into_iter().map(|(id, _)| id).collect();
    Ok(json!({ "ids": ids }))
}

fn membership_derive(input: &Inputs) -> Result<Value> {
    let (thread, follow) = (
        input.thread()?,
        FollowKey::from_slice(&input.hex("followKey")?)?,
    );
    Ok(json!({
        "gossipKey": hex::encode(membership::gossip_key(&thread, &follow)),
        "proofKey": hex::encode(membership::proof_key(&thread, &follow)),
        "topic": membership::topic(&thread, &follow),
    }))
}

/// The thread, prover, verifier and nonce of a proof operation [SYNC-18].
fn proof_context(input: &Inputs) -> Result<(ThreadId, LogId, LogId, membership::AuthNonce)> {
    let nonce = input.hex("nonce")?;
    let nonce = nonce.as_slice().try_into().map_err(|_| {
        bad_request(format!(
            "input nonce must be {} bytes",
            membership::AUTH_NONCE_LEN
        ))
    })?;
    Ok((
        input.thread()?,
        LogId::from_str(input.str("prover")?)?,
        LogId::from_str(input.str("verifier")?)?,
        nonce,
    ))
}

fn membership_transcript(input: &Inputs) -> Result<Value> {
    let (thread, prover, verifier, nonce) = proof_context(input)?;
    let transcript = membership::transcript(&thread, &prover, &verifier, &nonce);
    Ok(json!({ "transcript": hex::encode(transcript) }))
}

fn membership_prove(input: &Inputs) -> Result<Value> {
    let (thread, prover, verifier, nonce) = proof_context(input)?;
    let follow = FollowKey::from_slice(&input.hex("followKey")?)?;
    let key = membership::proof_key(&thread, &follow);
    let proof = membership::prove(&key, &thread, &prover, &verifier, &nonce);
    Ok(json!({ "proof": hex::encode(proof) }))
}

fn membership_check(input: &Inputs) -> Result<Value> {
    let (thread, prover, verifier, nonce) = proof_context(input)?;
    let follow = FollowKey::from_slice(&input.hex("followKey")?)?;
    let key = membership::proof_key(&thread, &follow);
    membership::check(
        &key,
        &thread,
        &prover,
        &verifier,
        &nonce,
        &input.hex("proof")?,
    )?;
    Ok(json!({}))
}

fn membership_seal(input: &Inputs) -> Result<Value> {
    let thread = input.thread()?;
    let follow = FollowKey::from_slice(&input.hex("followKey")?)?;
    let nonce: [u8; seal::NONCE_LEN] = input
        .hex("nonce")?
        .as_slice()
        .try_into()
        .map_err(|_| bad_request("input nonce must be 24 bytes".into()))?;
    let sealed = seal::seal_with_nonce(
        &membership::gossip_key(&thread, &follow),
        &nonce,
        &membership::publication_ad(&thread),
        &input.hex("message")?,
    );
    Ok(json!({ "sealed": hex::encode(sealed) }))
}

fn membership_open(input: &Inputs) -> Result<Value> {
    let thread = input.thread()?;
    let follow = FollowKey::from_slice(&input.hex("followKey")?)?;
    let message = membership::open_publication(&thread, &follow, &input.hex("sealed")?)?;
    Ok(json!({ "message": hex::encode(message) }))
}

fn bad_request(detail: String) -> Error {
    Error::new(ErrorCode::BadRequest, detail)
}

fn tid_json(tid: &ThreadId) -> Value {
    json!({
        "bytes": hex::encode(tid.as_bytes()),
        "random": hex::encode(tid.random()),
        "text": tid.to_string(),
        "variant": tid.variant().to_string(),
    })
}

fn tid_encode(input: &Inputs) -> Result<Value> {
    let variant = Variant::from_str(input.str("variant")?)?;
    Ok(tid_json(&ThreadId::from_parts(
        variant,
        &input.hex("random")?,
    )?))
}

fn identity_from_seed(input: &Inputs) -> Result<Value> {
    let key = IdentityKey::from_seed(&input.key32("seed")?);
    Ok(log_id_json(&key.log_id()))
}

fn log_id_json(log: &LogId) -> Value {
    json!({
        "bytes": hex::encode(log.to_bytes()),
        "publicKey": hex::encode(log.verifying_key().as_bytes()),
        "text": log.to_string(),
    })
}

fn log_addr_decode(input: &Inputs) -> Result<Value> {
    let addr = LogAddr::from_str(input.str("text")?)?;
    Ok(json!({
        "log": addr.log().to_string(),
        "peer": addr.peer().to_string(),
        "peerAddr": addr.peer_addr().to_string(),
        "text": addr.to_string(),
    }))
}

fn keyset_json(keys: &KeySet) -> Value {
    json!({
        "followKey": hex::encode(keys.follow.as_bytes()),
        "readKey": keys.read.as_ref().map(|k| hex::encode(k.as_bytes())),
        "role": match keys.role() { Role::Reader => "reader", Role::Follower => "follower" },
    })
}

fn keyset_encode(input: &Inputs) -> Result<Value> {
    Ok(json!({ "bytes": hex::encode(input.key_set()?.to_bytes()) }))
}

fn associated_data(input: &Inputs) -> Result<Value> {
    let ad = seal::associated_data(input.layer()?, &input.thread()?, &input.log()?);
    Ok(json!({ "ad": hex::encode(ad) }))
}

fn seal_open(input: &Inputs) -> Result<Value> {
    let layer = input.layer()?;
    let ad = seal::associated_data(layer, &input.thread()?, &input.log()?);
    let (key, sealed) = (input.key32("key")?, input.hex("sealed")?);
    let plaintext = match layer {
        Layer::Record => seal::open_synthetic(&key, &ad, &sealed)?,
        Layer::Header | Layer::Body => seal::open(layer, &key, &ad, &sealed)?,
    };
    Ok(json!({ "plaintext": hex::encode(plaintext) }))
}

fn seal_open_raw(input: &Inputs) -> Result<Value> {
    let plaintext = seal::open(
        input.layer()?,
        &input.key32("key")?,
        &input.hex("ad")?,
        &input.hex("sealed")?,
    )?;
    Ok(json!({ "plaintext": hex::encode(plaintext) }))
}

fn signing_input(input: &Inputs) -> Result<Value> {
    let block = input
        .cid("block")?
        .ok_or_else(|| bad_request("missing input block".into()))?;
    let bytes = record::signing_input(
        &input.thread()?,
        &input.log()?,
        &block,
        input.cid("prev")?.as_ref(),
        input.u64("seq")?,
    );
    Ok(json!({ "bytes": hex::encode(bytes) }))
}

fn verified_json(record: &VerifiedRecord) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("body".into(), record.event().body.to_string().into());
    out.insert("event".into(), record.record().block.to_string().into());
    out.insert("header".into(), record.event().header.to_string().into());
    out.insert("prev".into(), record.prev().map(Cid::to_string).into());
    out.insert("recordCid".into(), record.cid().to_string().into());
    out.insert("seq".into(), record.seq().into());
    out
}

fn verify_follower(input: &Inputs) -> Result<Value> {
    let keys = input.key_set()?;
    let envelope = input.envelope("envelope")?;
    let record = verify::verify_follower(&envelope, &input.thread()?, &input.log()?, &keys.follow)?;
    Ok(Value::Object(verified_json(&record)))
}

fn verify_reader(input: &Inputs) -> Result<Value> {
    let keys = input.key_set()?;
    let envelope = input.envelope("envelope")?;
    let opened = verify::verify_reader(&envelope, &input.thread()?, &input.log()?, &keys)?;
    let mut out = verified_json(&opened.record);
    out.insert("plaintext".into(), hex::encode(&opened.body).into());
    out.insert("time".into(), opened.header.time.into());
    Ok(Value::Object(out))
}

/// Delivers envelopes one by one to an empty log; the output lists each outcome and the final
/// head and counter. The first rejection's code is the case's error code [LOG-3]..[LOG-8].
fn log_replay(input: &Inputs) -> Result<Value, Failure> {
    let (thread, log, keys) = (input.thread()?, input.log()?, input.key_set()?);
    let deliveries = input
        .value("deliveries")?
        .as_array()
        .ok_or_else(|| bad_request("deliveries must be an array".into()))?;
    let mut chain = Log::new();
    let mut outcomes = Vec::new();
    let mut first_error: Option<Error> = None;
    for delivery in deliveries {
        let bytes = delivery
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(|| bad_request("each delivery must be a hex string".into()))?;
        let outcome = Envelope::from_bytes(&bytes)
            .and_then(|env| verify::verify_follower(&env, &thread, &log, &keys.follow))
            .and_then(|record| chain.accept(&record));
        outcomes.push(match outcome {
            Ok(Accepted::Appended) => "appended".to_string(),
            Ok(Accepted::Duplicate) => "duplicate".to_string(),
            Err(e) => {
                let name = e.code.name().to_string();
                first_error.get_or_insert(e);
                name
            }
        });
    }
    let state = json!({
        "counter": chain.counter(),
        "head": chain.head().map(Cid::to_string),
        "outcomes": outcomes,
    });
    match first_error {
        None => Ok(state),
        Some(error) => Err(Failure {
            error,
            state: Some(state),
        }),
    }
}

/// The JSON form of a sync message [SYNC-1]: IDs in their text forms, each envelope as its record
/// CID.
fn message_json(message: &Message) -> Value {
    match message {
        Message::Pull {
            thread,
            log,
            after,
            limit,
        } => json!({
            "type": "pull",
            "thread": thread.to_string(),
            "log": log.to_string(),
            "after": after,
            "limit": limit,
        }),
        Message::Records {
            thread,
            log,
            counter,
            envelopes,
        } => json!({
            "type": "records",
            "thread": thread.to_string(),
            "log": log.to_string(),
            "counter": counter,
            "envelopes": record_cids(envelopes),
        }),
        Message::Heads { thread, heads } => json!({
            "type": "heads",
            "thread": thread.to_string(),
            "heads": heads
                .iter()
                .map(|(log, counter)| json!({"counter": counter, "log": log.to_string()}))
                .collect::<Vec<_>>(),
        }),
        Message::Auth {
            thread,
            nonce,
            proof,
        } => json!({
            "type": "auth",
            "thread": thread.to_string(),
            "nonce": hex::encode(nonce),
            "proof": hex::encode(proof),
        }),
    }
}

fn record_cids(envelopes: &[Envelope]) -> Vec<String> {
    envelopes
        .iter()
        .map(|e| e.record_cid().to_string())
        .collect()
}

fn decode_message(input: &Inputs) -> Result<Value> {
    let message = Message::from_bytes(&input.hex("bytes")?)?;
    Ok(json!({ "message": message_json(&message) }))
}

/// The envelopes of an array input. An envelope of `held` that does not decode is the runner's
/// fault (BAD_REQUEST); one of `incoming` is ENVELOPE_MALFORMED, for which the message carrying it
/// is dropped as a whole [SYNC-2].
fn envelopes(input: &Inputs, key: &str) -> Result<Vec<Envelope>> {
    let items = input
        .value(key)?
        .as_array()
        .ok_or_else(|| bad_request(format!("{key} must be an array")))?;
    items
        .iter()
        .map(|item| {
            let bytes = item
                .as_str()
                .and_then(|s| hex::decode(s).ok())
                .ok_or_else(|| bad_request(format!("each of {key} must be a hex string")))?;
            Envelope::from_bytes(&bytes).map_err(|e| match key {
                "held" => bad_request(format!("held: {e}")),
                _ => e,
            })
        })
        .collect()
}

/// A replica of the input log holding `held`, its records from seq 1, which must verify and link.
fn held_replica(input: &Inputs) -> Result<(LogReplica, KeySet)> {
    let (thread, log, keys) = (input.thread()?, input.log()?, input.key_set()?);
    let replica = LogReplica::from_held(thread, log, &keys, envelopes(input, "held")?)?;
    Ok((replica, keys))
}

/// Answers a pull from `held`, a log's records from seq 1, which must verify and link [SYNC-5].
fn serve_pull(input: &Inputs) -> Result<Value> {
    let (replica, _) = held_replica(input)?;
    let answer = replica.serve_pull(input.u64("after")?, input.u64("limit")?);
    Ok(json!({ "counter": replica.counter(), "records": record_cids(&answer) }))
}

/// Decides the envelopes of one `records` message for a peer holding `held`, and the pull it sends
/// next given the message's `counter` [SYNC-6], [SYNC-7], [SYNC-11].
fn decide_records(input: &Inputs) -> Result<Value> {
    let (mut replica, keys) = held_replica(input)?;
    let incoming = envelopes(input, "incoming")?;
    let sender_counter = input.u64("senderCounter")?;
    let decided = replica.decide(&keys, incoming);
    let rejected: Vec<Value> = decided
        .rejected
        .iter()
        .map(|(index, error)| json!({"errorCode": error.code.name(), "index": index}))
        .collect();
    Ok(json!({
        "appended": record_cids(&decided.appended),
        "counter": decided.counter,
        "duplicates": decided.duplicates,
        "gap": decided.gap,
        "pullAfter": pull_after(sender_counter, decided.counter),
        "rejected": rejected,
    }))
}

fn hpke_open(input: &Inputs) -> Result<Value> {
    // An `enc` that is not 32 bytes is not an X25519 public key: HPKE cannot open [INV-2].
    let enc: [u8; invite::ENC_LEN] = input.hex("enc")?.try_into().map_err(|_| {
        Error::new(
            ErrorCode::InviteDecryptFailed,
            "enc is not a 32-byte X25519 public key",
        )
    })?;
    let plaintext = invite::hpke_open(
        &input.key32("skR")?,
        &enc,
        &input.hex("info")?,
        &input.hex("aad")?,
        &input.hex("ct")?,
    )?;
    Ok(json!({ "plaintext": hex::encode(plaintext) }))
}

fn recipient_keys(input: &Inputs) -> Result<Value> {
    let identity = IdentityKey::from_seed(&input.key32("seed")?);
    Ok(json!({
        "x25519Public": hex::encode(invite::x25519_public_key(&identity.log_id())),
        "x25519Secret": hex::encode(invite::x25519_secret_key(&identity)),
    }))
}

fn invite_open(input: &Inputs) -> Result<Value> {
    let recipient = IdentityKey::from_seed(&input.key32("recipientSeed")?);
    let opened = Invite::open(&input.hex("invite")?, &recipient)?;
    let logs: Vec<Value> = opened
        .logs
        .iter()
        .map(|entry| json!({"addrs": entry.addrs, "log": entry.log.to_string()}))
        .collect();
    Ok(json!({
        "acl": opened.acl.as_ref().map(hex::encode),
        "followKey": hex::encode(opened.keys.follow.as_bytes()),
        "inviter": opened.inviter.to_string(),
        "logs": logs,
        "readKey": opened.keys.read.as_ref().map(|k| hex::encode(k.as_bytes())),
        "role": opened.role.name(),
        "thread": opened.thread.to_string(),
    }))
}

/// What a reader holding the input logs knows: the core's view (the folded ACL, the malformed
/// and the unreadable records), and the records no log could take.
struct AclView {
    view: threads::acl::AclView,
    /// Records that failed [VERIFY-1] or log linkage ([LOG-5] to [LOG-7]), and records that passed
    /// them but do not open under the read key [SYNC-6]: neither takes part in the fold.
    rejected: BTreeMap<Cid, Error>,
}

/// Admits every log's envelopes in order to a replica of that log, as a reader receiving them
/// would [SYNC-6], then builds the core's ACL view from the replicas [ACL-4], [ACL-6], [ACL-12].
/// In an access-controlled thread a log's ID is its author's peer ID. An envelope that does not
/// decode fails the whole operation (nothing names it); a thread without a valid genesis has no
/// ACL: ACL_MALFORMED.
fn acl_view(input: &Inputs) -> Result<AclView> {
    let thread = input.thread()?;
    let keys = input.key_set()?;
    let creator = LogId::from_str(input.str("creator")?)?;
    let genesis = input.cid("genesis")?;
    let logs = input
        .value("logs")?
        .as_object()
        .ok_or_else(|| bad_request("logs must be an object".into()))?;
    let mut replicas = Vec::new();
    let mut rejected = BTreeMap::new();
    for (text, envelopes) in logs {
        let mut replica = LogReplica::new(thread.clone(), LogId::from_str(text)?);
        let envelopes = envelopes
            .as_array()
            .ok_or_else(|| bad_request(format!("logs[{text}] must be an array")))?;
        for item in envelopes {
            let bytes = item
                .as_str()
                .and_then(|s| hex::decode(s).ok())
                .ok_or_else(|| bad_request("each envelope must be a hex string".into()))?;
            let envelope = Envelope::from_bytes(&bytes)?;
            let cid = envelope.record_cid();
            match replica.admit(&keys, envelope) {
                Admitted::Appended | Admitted::Duplicate => {}
                Admitted::Gap(error) | Admitted::Rejected(error) => {
                    rejected.entry(cid).or_insert(error);
                }
            }
        }
        replicas.push(replica);
    }
    // A record some log holds is not "rejected" because a copy failed under another log.
    for replica in &replicas {
        for cid in replica.chain().records() {
            rejected.remove(cid);
        }
    }
    let view = threads::acl::AclView::from_logs(&thread, &creator, genesis.as_ref(), &replicas)?;
    rejected.extend(view.unreadable().iter().map(|(cid, e)| (*cid, e.clone())));
    Ok(AclView { view, rejected })
}

thread_local! {
    /// The last few views computed, by their inputs: the cases of a group share their logs, and
    /// verifying every envelope again for each case would dominate the run time.
    static VIEWS: RefCell<Vec<(String, Rc<AclView>)>> = const { RefCell::new(Vec::new()) };
}

/// [`acl_view`], remembered for the last few inputs (it is a pure function of them).
fn cached_acl_view(input: &Inputs) -> Result<Rc<AclView>> {
    let key = ACL_CONTEXT
        .iter()
        .map(|(name, _)| input.0.get(*name).map_or(String::new(), Value::to_string))
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(view) = VIEWS.with_borrow(|views| {
        views
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Rc::clone(v))
    }) {
        return Ok(view);
    }
    let view = Rc::new(acl_view(input)?);
    VIEWS.with_borrow_mut(|views| {
        if views.len() >= 8 {
            views.remove(0);
        }
        views.push((key, Rc::clone(&view)));
    });
    Ok(view)
}

fn code_map<'a>(errors: impl IntoIterator<Item = (&'a Cid, &'a Error)>) -> Map<String, Value> {
    errors
        .into_iter()
        .map(|(cid, error)| (cid.to_string(), error.code.name().into()))
        .collect()
}

fn acl_evaluate(input: &Inputs) -> Result<Value> {
    let view = cached_acl_view(input)?;
    let acl = view.view.acl();
    let document = serde_json::to_value(acl.document())
        .map_err(|e| Error::new(ErrorCode::Internal, format!("ACL document as JSON: {e}")))?;
    // Only set-peer ops give cuts [ACL-7], so their peers are every peer that may have one.
    let mut cuts = Map::new();
    for event in acl.events() {
        if let AclEvent::Change(change) = &event.body
            && let AclOp::SetPeer { peer, .. } = change.op()
            && let Some(cut) = acl.cut(peer)
        {
            cuts.insert(peer.to_string(), cut.into());
        }
    }
    let applied: Vec<String> = acl.applied().iter().map(Cid::to_string).collect();
    Ok(json!({
        "applied": applied,
        "cuts": cuts,
        "document": document,
        "ignored": code_map(acl.ignored().iter().chain(view.view.malformed())),
        "rejected": code_map(view.rejected.iter()),
    }))
}

fn acl_check_change(input: &Inputs) -> Result<Value> {
    let cid = input
        .cid("cid")?
        .ok_or_else(|| bad_request("missing input cid".into()))?;
    let view = cached_acl_view(input)?;
    if let Some(error) = view.rejected.get(&cid).or(view.view.malformed().get(&cid)) {
        return Err(error.clone());
    }
    let event = view
        .view
        .events()
        .get(&cid)
        .ok_or_else(|| bad_request(format!("{cid} is not an ACL event among the logs")))?;
    view.view.acl().check_change(event)?;
    Ok(json!({}))
}

fn acl_accepts_record(input: &Inputs) -> Result<Value> {
    let author = LogId::from_str(input.str("author")?)?;
    let seq = input.u64("seq")?;
    cached_acl_view(input)?
        .view
        .acl()
        .accepts_record(&author, seq)?;
    Ok(json!({}))
}

fn acl_decide(input: &Inputs) -> Result<Value> {
    let peer = LogId::from_str(input.str("peer")?)?;
    let action = Action::from_str(input.str("action")?)?;
    cached_acl_view(input)?.view.acl().may(&peer, action)?;
    Ok(json!({}))
}
