//! The vector operations, executed by the reference implementation.
//!
//! Each operation maps a case's JSON inputs to the JSON output a conforming implementation must give,
//! or to a registry error. The generator uses this to compute every expected value, `cargo test`
//! re-runs it against the committed files, and the harness adapter exposes the same operations to
//! other implementations. Inputs use lower-case hex for bytes and the spec's text forms for IDs.

use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::envelope::Envelope;
use threads::error::{Error, ErrorCode, Result};
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey, Role};
use threads::log::{Accepted, Log};
use threads::record;
use threads::seal::{self, Layer};
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

/// Every operation, in the order vectors/README.md documents them.
pub const OPERATIONS: &[OpSpec] = &[
    OpSpec {
        name: "tid.decode",
        summary: "Decode a Thread ID's text form (any accepted multibase).",
        inputs: &[("text", Kind::Text)],
        output: TID_OUT,
    },
    OpSpec {
        name: "tid.decodeBytes",
        summary: "Decode a Thread ID's binary form.",
        inputs: &[("bytes", Kind::Hex)],
        output: TID_OUT,
    },
    OpSpec {
        name: "tid.encode",
        summary: "Build a Thread ID from a variant and a random part.",
        inputs: &[("variant", Kind::Variant), ("random", Kind::Hex)],
        output: TID_OUT,
    },
    OpSpec {
        name: "identity.fromSeed",
        summary: "Derive the log ID of an Ed25519 seed.",
        inputs: &[("seed", Kind::Hex)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logId.decode",
        summary: "Decode a log ID's base58btc text form.",
        inputs: &[("text", Kind::Text)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logId.decodeBytes",
        summary: "Decode a log ID's binary form.",
        inputs: &[("bytes", Kind::Hex)],
        output: LOG_ID_OUT,
    },
    OpSpec {
        name: "logAddr.decode",
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
        summary: "Encode a key set.",
        inputs: &[("followKey", Kind::Hex), ("readKey", Kind::OptHex)],
        output: &[("bytes", Kind::Hex)],
    },
    OpSpec {
        name: "seal.associatedData",
        summary: "Build a layer's associated data.",
        inputs: &[CONTEXT[0], CONTEXT[1], ("layer", Kind::Layer)],
        output: &[("ad", Kind::Hex)],
    },
    OpSpec {
        name: "seal.open",
        summary: "Open a sealed layer of a thread's log (associated data built from thread, log and layer); the record layer must carry its synthetic nonce (SEAL-5).",
        inputs: &[
            CONTEXT[0],
            CONTEXT[1],
            ("layer", Kind::Layer),
            ("key", Kind::Hex),
            ("sealed", Kind::Hex),
        ],
        output: &[("plaintext", Kind::Hex)],
    },
    OpSpec {
        name: "seal.openRaw",
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
        summary: "Build the bytes a writer signs.",
        inputs: &[
            CONTEXT[0],
            CONTEXT[1],
            ("block", Kind::Cid),
            ("prev", Kind::OptCid),
            ("seq", Kind::Uint),
        ],
        output: &[("bytes", Kind::Hex)],
    },
    OpSpec {
        name: "envelope.verifyFollower",
        summary: "Decode an envelope and run follower verification (VERIFY-1).",
        inputs: &[
            CONTEXT[0],
            CONTEXT[1],
            ("followKey", Kind::Hex),
            ("readKey", Kind::OptHex),
            ("envelope", Kind::Hex),
        ],
        output: &VERIFIED_OUT,
    },
    OpSpec {
        name: "envelope.verifyReader",
        summary: "Decode an envelope and run reader verification (VERIFY-2).",
        inputs: &[
            CONTEXT[0],
            CONTEXT[1],
            ("followKey", Kind::Hex),
            ("readKey", Kind::OptHex),
            ("envelope", Kind::Hex),
        ],
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
        summary: "Deliver envelopes in order to an empty log; report each outcome and the final head and counter.",
        inputs: &[
            CONTEXT[0],
            CONTEXT[1],
            ("followKey", Kind::Hex),
            ("deliveries", Kind::HexArray),
        ],
        output: &[
            ("counter", Kind::Uint),
            ("head", Kind::OptCid),
            ("outcomes", Kind::TextArray),
        ],
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
    if operation == "log.replay" {
        return log_replay(&Inputs(inputs));
    }
    execute_single(operation, &Inputs(inputs)).map_err(Failure::from)
}

fn execute_single(operation: &str, input: &Inputs) -> Result<Value> {
    match operation {
        "tid.decode" => Ok(tid_json(&ThreadId::from_str(input.str("text")?)?)),
        "tid.decodeBytes" => Ok(tid_json(&ThreadId::from_bytes(&input.hex("bytes")?)?)),
        "tid.encode" => tid_encode(input),
        "identity.fromSeed" => identity_from_seed(input),
        "logId.decode" => Ok(log_id_json(&LogId::from_str(input.str("text")?)?)),
        "logId.decodeBytes" => Ok(log_id_json(&LogId::from_bytes(&input.hex("bytes")?)?)),
        "logAddr.decode" => log_addr_decode(input),
        "keyset.decode" => Ok(keyset_json(&KeySet::from_bytes(&input.hex("bytes")?)?)),
        "keyset.encode" => keyset_encode(input),
        "seal.associatedData" => associated_data(input),
        "seal.open" => seal_open(input),
        "seal.openRaw" => seal_open_raw(input),
        "record.signingInput" => signing_input(input),
        "envelope.verifyFollower" => verify_follower(input),
        "envelope.verifyReader" => verify_reader(input),
        other => Err(Error::new(
            ErrorCode::Unsupported,
            format!("unknown operation {other}"),
        )),
    }
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

fn bad_request(detail: String) -> Error {
    Error::new(ErrorCode::BadRequest, detail)
}

fn variant_name(variant: Variant) -> &'static str {
    match variant {
        Variant::Raw => "raw",
        Variant::AccessControlled => "access-controlled",
    }
}

fn tid_json(tid: &ThreadId) -> Value {
    json!({
        "bytes": hex::encode(tid.as_bytes()),
        "random": hex::encode(tid.random()),
        "text": tid.to_string(),
        "variant": variant_name(tid.variant()),
    })
}

fn tid_encode(input: &Inputs) -> Result<Value> {
    let variant = match input.str("variant")? {
        "raw" => Variant::Raw,
        "access-controlled" => Variant::AccessControlled,
        other => return Err(bad_request(format!("unknown variant {other}"))),
    };
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
