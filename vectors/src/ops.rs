//! The vector operations, executed by the reference implementation.
//!
//! Each operation maps a case's JSON inputs to the JSON output a conforming implementation must give,
//! or to a registry error. The generator uses this to compute every expected value, `cargo test`
//! re-runs it against the committed files, and the harness adapter exposes the same operations to
//! other implementations. Inputs use lower-case hex for bytes and the spec's text forms for IDs.

use std::str::FromStr;

use serde_json::{Map, Value, json};
use threads::block;
use threads::envelope::Envelope;
use threads::error::{Error, ErrorCode, Result};
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey, Role};
use threads::log::{Accepted, Log};
use threads::record;
use threads::seal::{self, Layer};
use threads::verify::{self, VerifiedRecord};
use threads::{Cid, addr::LogAddr};

/// Every operation this module executes, in the order vectors/README.md documents them.
pub const OPERATIONS: &[&str] = &[
    "tid.decode",
    "tid.decodeBytes",
    "tid.encode",
    "identity.fromSeed",
    "logId.decode",
    "logId.decodeBytes",
    "logAddr.decode",
    "keyset.decode",
    "keyset.encode",
    "seal.associatedData",
    "seal.open",
    "seal.openRaw",
    "record.signingInput",
    "envelope.verifyFollower",
    "envelope.verifyReader",
    "log.replay",
];

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
    let plaintext = seal::open(layer, &input.key32("key")?, &ad, &input.hex("sealed")?)?;
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

/// Encodes a block in the form the vectors use (for generators and tests).
pub fn cid_text(bytes: &[u8]) -> String {
    block::cid_of(bytes).to_string()
}
