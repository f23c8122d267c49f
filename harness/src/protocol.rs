//! The messages of threads-harness protocol 1 (spec/harness-protocol.md) as serde types, shared by
//! the reference adapter ([`crate::adapter`]), the runner ([`crate::runner`]) and the network
//! simulator's subprocess client.
//!
//! The types carry what the wire carries: peer IDs, log IDs, thread IDs and CIDs stay text here,
//! since the runner must pass on and compare what an implementation under test sends without
//! judging it by the reference's parsers; the adapter and the simulator parse them with the core's
//! `FromStr`. Only the names the protocol fixes (a thread's variant, an invite's role) are typed,
//! with the core's `FromStr`/`Display`.
//!
//! Unknown members: a request has exactly `id`, `method` and `params` [HP-7], so [`Request`] denies
//! others; the spec gives no such rule for the members of `params` or of a result, and a reply's
//! extra members are ignored [HP-10], so no other type denies them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use threads::id::Variant;
use threads::invite::InviteRole;
use threads::{Error, ErrorCode};

/// The protocol number of this appendix [HP-1].
pub const PROTOCOL: u64 = 1;

/// Bytes, written as lower-case hex on the wire [HP-31].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Hex, D::Error> {
        let text = String::deserialize(deserializer)?;
        // `hex::decode` also takes upper case; the protocol writes lower case only [HP-31].
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(de::Error::custom("hex must be lower case"));
        }
        hex::decode(&text).map(Hex).map_err(de::Error::custom)
    }
}

impl From<&[u8]> for Hex {
    fn from(bytes: &[u8]) -> Hex {
        Hex(bytes.to_vec())
    }
}

/// A name the protocol fixes, carried as text through the core's `Display` and `FromStr`: a
/// thread's variant [HP-33], an invite's role [HP-35].
mod text {
    use super::*;

    pub fn serialize<T: fmt::Display, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
        D: Deserializer<'de>,
    {
        String::deserialize(deserializer)?
            .parse()
            .map_err(de::Error::custom)
    }
}

/// One request line: `{"id", "method", "params"}` [HP-7], with the method and its params typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Numbered 1, 2, 3, … per adapter process [HP-7].
    pub id: u64,
    /// The method and its params.
    pub call: Call,
}

/// A request line as it is read, before its method is known to be one of this appendix's:
/// exactly `id`, `method` and `params` [HP-7].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// The request's id [HP-7].
    pub id: u64,
    /// The method's name [HP-7].
    pub method: String,
    /// The method's params. The harness always sends them [HP-7]; a person driving an adapter by
    /// hand may leave out an empty object.
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl Request {
    /// Decodes a request read by an adapter, checking in the order of [HP-13]: an unknown method is
    /// UNSUPPORTED, params without the members and types the method requires are BAD_REQUEST.
    pub fn decode(raw: RawRequest) -> Result<Request, Error> {
        Ok(Request {
            id: raw.id,
            call: Call::decode(&raw.method, raw.params)?,
        })
    }

    /// The request line, without its line feed [HP-3].
    pub fn to_line(&self) -> String {
        let (method, params) = self.call.parts();
        let raw = RawRequest {
            id: self.id,
            method: method.to_string(),
            params,
        };
        serde_json::to_string(&raw).unwrap_or_default()
    }
}

/// A method and its params [HP-7]: `hello`, `vector`, `shutdown` and the node methods of H.9.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum Call {
    /// `hello` [HP-14].
    #[serde(rename = "hello")]
    Hello(HelloParams),
    /// `vector` [HP-24].
    #[serde(rename = "vector")]
    Vector(VectorParams),
    /// `shutdown` [HP-42].
    #[serde(rename = "shutdown")]
    Shutdown(Empty),
    /// `node.create` [HP-32].
    #[serde(rename = "node.create")]
    NodeCreate(NodeCreate),
    /// `thread.create` [HP-33].
    #[serde(rename = "thread.create")]
    ThreadCreate(ThreadCreate),
    /// `log.append` [HP-34].
    #[serde(rename = "log.append")]
    LogAppend(LogAppend),
    /// `invite.export` [HP-35].
    #[serde(rename = "invite.export")]
    InviteExport(InviteExport),
    /// `invite.accept` [HP-36].
    #[serde(rename = "invite.accept")]
    InviteAccept(InviteAccept),
    /// `node.deliver` [HP-37].
    #[serde(rename = "node.deliver")]
    NodeDeliver(NodeDeliver),
    /// `node.collect` [HP-38].
    #[serde(rename = "node.collect")]
    NodeCollect(NodeAt),
    /// `node.heads` [HP-39].
    #[serde(rename = "node.heads")]
    NodeHeads(NodeThread),
    /// `node.read` [HP-40].
    #[serde(rename = "node.read")]
    NodeRead(NodeThread),
    /// `node.stop` [HP-41].
    #[serde(rename = "node.stop")]
    NodeStop(NodeOnly),
    /// `acl.set` [HP-48] (feature `acl`).
    #[serde(rename = "acl.set")]
    AclSet(AclSet),
    /// `node.acl` [HP-49] (feature `acl`).
    #[serde(rename = "node.acl")]
    NodeAcl(NodeThread),
    /// `node.keys` [HP-50] (feature `acl`).
    #[serde(rename = "node.keys")]
    NodeKeys(NodeThread),
    /// `node.tick` [HP-51] (feature `ticks`).
    #[serde(rename = "node.tick")]
    NodeTick(NodeAt),
    /// `db.declare` [HP-61] (feature `db`).
    #[serde(rename = "db.declare")]
    DbDeclare(DbDeclare),
    /// `db.put` [HP-62] (feature `db`).
    #[serde(rename = "db.put")]
    DbPut(DbPut),
    /// `db.get` [HP-63] (feature `db`).
    #[serde(rename = "db.get")]
    DbGet(DbDoc),
    /// `db.delete` [HP-64] (feature `db`).
    #[serde(rename = "db.delete")]
    DbDelete(DbDelete),
    /// `kv.put` [HP-65] (feature `db`).
    #[serde(rename = "kv.put")]
    KvPut(KvPut),
    /// `kv.get` [HP-66] (feature `db`).
    #[serde(rename = "kv.get")]
    KvGet(KvKey),
    /// `kv.del` [HP-67] (feature `db`).
    #[serde(rename = "kv.del")]
    KvDel(KvDel),
    /// `db.query` [HP-68] (feature `db`).
    #[serde(rename = "db.query")]
    DbQuery(DbQuery),
    /// `db.view` [HP-69] (feature `db`).
    #[serde(rename = "db.view")]
    DbView(NodeThread),
}

impl Call {
    /// Every method name of this appendix [HP-7].
    pub const METHODS: [&'static str; 26] = [
        "hello",
        "vector",
        "shutdown",
        "node.create",
        "thread.create",
        "log.append",
        "invite.export",
        "invite.accept",
        "node.deliver",
        "node.collect",
        "node.heads",
        "node.read",
        "node.stop",
        "acl.set",
        "node.acl",
        "node.keys",
        "node.tick",
        "db.declare",
        "db.put",
        "db.get",
        "db.delete",
        "kv.put",
        "kv.get",
        "kv.del",
        "db.query",
        "db.view",
    ];

    /// The method's name [HP-7].
    pub fn method(&self) -> &'static str {
        match self {
            Call::Hello(_) => "hello",
            Call::Vector(_) => "vector",
            Call::Shutdown(_) => "shutdown",
            Call::NodeCreate(_) => "node.create",
            Call::ThreadCreate(_) => "thread.create",
            Call::LogAppend(_) => "log.append",
            Call::InviteExport(_) => "invite.export",
            Call::InviteAccept(_) => "invite.accept",
            Call::NodeDeliver(_) => "node.deliver",
            Call::NodeCollect(_) => "node.collect",
            Call::NodeHeads(_) => "node.heads",
            Call::NodeRead(_) => "node.read",
            Call::NodeStop(_) => "node.stop",
            Call::AclSet(_) => "acl.set",
            Call::NodeAcl(_) => "node.acl",
            Call::NodeKeys(_) => "node.keys",
            Call::NodeTick(_) => "node.tick",
            Call::DbDeclare(_) => "db.declare",
            Call::DbPut(_) => "db.put",
            Call::DbGet(_) => "db.get",
            Call::DbDelete(_) => "db.delete",
            Call::KvPut(_) => "kv.put",
            Call::KvGet(_) => "kv.get",
            Call::KvDel(_) => "kv.del",
            Call::DbQuery(_) => "db.query",
            Call::DbView(_) => "db.view",
        }
    }

    /// The node a node method addresses [HP-27]; `None` for `hello`, `vector` and `shutdown`.
    pub fn node(&self) -> Option<&str> {
        Some(match self {
            Call::Hello(_) | Call::Vector(_) | Call::Shutdown(_) => return None,
            Call::NodeCreate(p) => &p.node,
            Call::ThreadCreate(p) => &p.node,
            Call::LogAppend(p) => &p.node,
            Call::InviteExport(p) => &p.node,
            Call::InviteAccept(p) => &p.node,
            Call::NodeDeliver(p) => &p.node,
            Call::AclSet(p) => &p.node,
            Call::NodeCollect(p) | Call::NodeTick(p) => &p.node,
            Call::NodeStop(p) => &p.node,
            Call::NodeHeads(p)
            | Call::NodeRead(p)
            | Call::NodeAcl(p)
            | Call::NodeKeys(p)
            | Call::DbView(p) => &p.node,
            Call::DbDeclare(p) => &p.node,
            Call::DbPut(p) => &p.node,
            Call::DbGet(p) => &p.node,
            Call::DbDelete(p) => &p.node,
            Call::KvPut(p) => &p.node,
            Call::KvGet(p) => &p.node,
            Call::KvDel(p) => &p.node,
            Call::DbQuery(p) => &p.node,
        })
    }

    /// The `time` of a method that lets time pass [HP-29], [HP-31]; `None` for the others.
    pub fn time_mut(&mut self) -> Option<&mut u64> {
        Some(match self {
            Call::ThreadCreate(p) => &mut p.time,
            Call::LogAppend(p) => &mut p.time,
            Call::InviteAccept(p) => &mut p.time,
            Call::NodeDeliver(p) => &mut p.time,
            Call::NodeCollect(p) | Call::NodeTick(p) => &mut p.time,
            Call::AclSet(p) => &mut p.time,
            Call::DbDeclare(p) => &mut p.time,
            Call::DbPut(p) => &mut p.time,
            Call::DbDelete(p) => &mut p.time,
            Call::KvPut(p) => &mut p.time,
            Call::KvDel(p) => &mut p.time,
            _ => return None,
        })
    }

    /// The method's name and params, as a request carries them [HP-7].
    pub fn parts(&self) -> (&'static str, Map<String, Value>) {
        let params = match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => match tagged.remove("params") {
                Some(Value::Object(params)) => params,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        (self.method(), params)
    }

    /// A method and its params, checked in the order of [HP-13]: a name that is not one of this
    /// appendix's is UNSUPPORTED, params that do not fit the method are BAD_REQUEST.
    pub fn decode(method: &str, params: Map<String, Value>) -> Result<Call, Error> {
        if !Call::METHODS.contains(&method) {
            return Err(Error::new(
                ErrorCode::Unsupported,
                format!("unknown method {method}"),
            ));
        }
        let mut tagged = Map::new();
        tagged.insert("method".into(), Value::String(method.into()));
        tagged.insert("params".into(), Value::Object(params));
        serde_json::from_value(Value::Object(tagged))
            .map_err(|e| Error::new(ErrorCode::BadRequest, format!("params of {method}: {e}")))
    }
}

/// The empty object: the params of `shutdown` and the result of several node methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Params of `hello` [HP-14].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloParams {
    /// The harness's protocol number [HP-15].
    pub protocol: u64,
    /// The harness's name and version, for logs.
    pub harness: String,
}

impl HelloParams {
    /// The params this harness sends [HP-14].
    pub fn this_harness() -> HelloParams {
        HelloParams {
            protocol: PROTOCOL,
            harness: concat!("threads-conform ", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// The result of `hello` [HP-14].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResult {
    /// The adapter's protocol number: 1 [HP-15].
    pub protocol: u64,
    /// The implementation under test.
    pub implementation: String,
    /// Its version.
    pub version: String,
    /// What it supports.
    pub capabilities: Capabilities,
}

/// What an adapter supports [HP-14].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Vector operations, by the names of `vectors/README.md`.
    pub operations: Vec<String>,
    /// Scenario features: `nodes`, `acl`, `ticks`, `db`.
    pub scenarios: Vec<String>,
}

/// Params of `vector` [HP-24]. The inputs stay a JSON object: each operation reads its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorParams {
    /// The operation's name, e.g. `tid.decode`.
    pub operation: String,
    /// The group's inputs overridden by the case's own.
    pub inputs: Map<String, Value>,
}

/// Params of `node.create` [HP-32].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCreate {
    /// The new node's name [HP-27].
    pub node: String,
    /// 32 bytes, the node's only randomness [HP-29].
    pub seed: Hex,
}

/// Params of `thread.create` [HP-33].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCreate {
    /// The node.
    pub node: String,
    /// `raw` or `access-controlled`.
    #[serde(with = "text")]
    pub variant: Variant,
    /// Milliseconds of Unix time [HP-29].
    pub time: u64,
}

/// Params of `log.append` [HP-34].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogAppend {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The body plaintext.
    pub body: Hex,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `invite.export` [HP-35].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteExport {
    /// The inviting node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The role offered [INV-1].
    #[serde(with = "text")]
    pub role: InviteRole,
    /// The name of the invited node.
    pub recipient: String,
}

/// Params of `invite.accept` [HP-36].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteAccept {
    /// The invited node.
    pub node: String,
    /// The invite, as `invite.export` gave it.
    pub invite: Hex,
    /// Milliseconds of Unix time [HP-29].
    pub time: u64,
}

/// Params of `node.deliver` [HP-37].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDeliver {
    /// The receiving node.
    pub node: String,
    /// The name of the node the message was collected from.
    pub from: String,
    /// The message, opaque to the harness [HP-28].
    pub message: Hex,
    /// Milliseconds of Unix time [HP-29].
    pub time: u64,
}

/// Params of `node.collect` [HP-38] and `node.tick` [HP-51]: a node and a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAt {
    /// The node.
    pub node: String,
    /// Milliseconds of Unix time [HP-29].
    pub time: u64,
}

/// Params of `node.heads`, `node.read`, `node.acl` and `node.keys` [HP-39], [HP-40], [HP-49],
/// [HP-50]: a node and a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeThread {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
}

/// Params of `node.stop` [HP-41].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOnly {
    /// The node.
    pub node: String,
}

/// Params of `acl.set` [HP-48].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclSet {
    /// The admin node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The name of the node whose entry is set.
    pub peer: String,
    /// A role list of [ACL-3]; `[]` removes the entry.
    pub roles: Vec<String>,
    /// The header's time [REC-6].
    pub time: u64,
}

/// A collection's schema as `db.declare` carries it [HP-61]: the JSON form of the schema map of
/// [DB-6].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbSchema {
    /// The type names (`null`, `bool`, `integer`, `string`, `bytes`, `list`, `map`) of each field.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Fields every document must have.
    pub required: Vec<String>,
}

/// Params of `db.declare` [HP-61].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbDeclare {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The collection's name [DB-3].
    pub collection: String,
    /// Its schema [DB-6].
    pub schema: DbSchema,
    /// Its indexed fields, in bytewise order [DB-6].
    pub indexes: Vec<String>,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `db.put` [HP-62].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbPut {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The collection.
    pub collection: String,
    /// The document ID [DB-3].
    pub id: String,
    /// The whole new document, in the JSON form of [DB-4].
    pub doc: Map<String, Value>,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `db.get` [HP-63]: a document of a node's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbDoc {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The collection.
    pub collection: String,
    /// The document ID.
    pub id: String,
}

/// Params of `db.delete` [HP-64].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbDelete {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The collection.
    pub collection: String,
    /// The document ID.
    pub id: String,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `kv.put` [HP-65].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvPut {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The key [DB-3].
    pub key: String,
    /// The value, in the JSON form of [DB-4].
    pub value: Value,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `kv.get` [HP-66].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvKey {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The key.
    pub key: String,
}

/// Params of `kv.del` [HP-67].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvDel {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The key.
    pub key: String,
    /// The header's time [REC-6].
    pub time: u64,
}

/// Params of `db.query` [HP-68].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbQuery {
    /// The node.
    pub node: String,
    /// The thread, in text form.
    pub thread: String,
    /// The query document of [DB-17] in the JSON form of [DB-4].
    pub query: Map<String, Value>,
}

/// The result of `db.declare`, `db.put`, `db.delete`, `kv.put` and `kv.del` [HP-61] to [HP-67]:
/// the record of the event appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DbCommitted {
    /// The CID of the event's record.
    pub record_cid: String,
}

/// The result of `db.get` [HP-63].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbDocument {
    /// The document in the JSON form of [DB-4]; `null` when the view has no such document.
    pub doc: Option<Map<String, Value>>,
}

/// The result of `kv.get` [HP-66].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvValue {
    /// Whether the key is set.
    pub found: bool,
    /// Its value in the JSON form of [DB-4]; `null` when it is not set.
    pub value: Value,
}

/// One document of a query result [HP-68].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbHit {
    /// The document ID.
    pub id: String,
    /// The document.
    pub doc: Map<String, Value>,
}

/// The result of `db.query` [HP-68]: the result of [DB-18], in its order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DbQueryResult {
    /// The matching documents, in order.
    pub docs: Vec<DbHit>,
}

/// The result of `db.view` [HP-69].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DbViewCid {
    /// The view CID of [DB-15].
    pub view_cid: String,
}

/// The result of `node.create` [HP-32].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCreated {
    /// The node's peer ID.
    pub peer: String,
}

/// The result of `thread.create` [HP-33].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadCreated {
    /// The new thread.
    pub thread: String,
    /// The node's log in it.
    pub log: String,
}

/// The result of `log.append` [HP-34].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Appended {
    /// The node's log.
    pub log: String,
    /// The new record's position.
    pub seq: u64,
    /// The new record's CID.
    pub record_cid: String,
}

/// The result of `invite.export` [HP-35].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteExported {
    /// The invite, opaque to the harness.
    pub invite: Hex,
}

/// The result of `invite.accept` [HP-36].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteAccepted {
    /// The joined thread.
    pub thread: String,
    /// The role the invite gave.
    #[serde(with = "text")]
    pub role: InviteRole,
}

/// The result of `acl.set` [HP-48].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclChanged {
    /// The CID of the change's record.
    pub record_cid: String,
}

/// The result of `node.collect` [HP-38].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// Everything the node wants to send.
    pub messages: Vec<Outgoing>,
    /// When the node next wants a `node.tick`, in its clock's milliseconds; `None` when it waits
    /// for nothing, or does not say (optional, feature `ticks`) [HP-52].
    #[serde(rename = "wakeAt", default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<u64>,
}

/// One message in a node's outbox [HP-38].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The destination node's name.
    pub to: String,
    /// The message, opaque to the harness.
    pub message: Hex,
}

/// The result of `node.heads` [HP-39].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heads {
    /// Each known log's head, by log ID.
    pub logs: BTreeMap<String, Head>,
}

/// A log's head and counter [LOG-2], [HP-39].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The head record's CID; `null` for a log of which the node holds no record.
    pub head: Option<String>,
    /// How many records of the log the node holds.
    pub counter: u64,
}

/// The result of `node.read` [HP-40].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    /// The events, by log ID text then seq.
    pub events: Vec<Event>,
}

/// One event a node reads [HP-40].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its log.
    pub log: String,
    /// Its position in the log.
    pub seq: u64,
    /// The body plaintext.
    pub body: Hex,
    /// The header's time.
    pub time: u64,
}

/// The result of `node.acl` [HP-49]: the JSON form of the ACL document [ACL-3], kept as JSON so
/// that documents are compared as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AclDocument {
    /// The document.
    pub document: Value,
}

/// The result of `node.keys` [HP-50].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Keys {
    /// The follow key.
    pub follow_key: Hex,
    /// The read key; `null` exactly when the node holds none [KEY-6].
    pub read_key: Option<Hex>,
}

/// The `error` of a failure reply [HP-9].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The registry name of the code, e.g. `TID_SHORT_RANDOM`.
    pub code: String,
    /// For people; never compared.
    pub message: String,
    /// Only for `log.replay` [HP-25]; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

impl ErrorBody {
    /// The error body of a registry error, with the state a failed operation left, if any.
    pub fn new(error: &Error, state: Option<Value>) -> ErrorBody {
        ErrorBody {
            code: error.code.name().to_string(),
            message: error.detail.clone(),
            state,
        }
    }
}

/// `CODE: message`, and the state if there is one, as a report shows an error reply.
impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(state) = &self.state {
            write!(f, " with state {state}")?;
        }
        Ok(())
    }
}

/// A reply's outcome [HP-8], [HP-9]: `"result"` or `"error"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A success.
    Result(Value),
    /// A failure.
    Error(ErrorBody),
}

/// A reply line as an adapter writes it [HP-8], [HP-9]. `id` is `null` only for a line that was
/// not a request [HP-11].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// The request's id.
    pub id: Option<u64>,
    /// The result or the error.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of a method [HP-8]: what a client reads out of a success reply.
pub trait MethodResult: DeserializeOwned + Serialize {}

macro_rules! method_results {
    ($($t:ty),* $(,)?) => { $(impl MethodResult for $t {})* };
}

method_results!(
    Empty,
    HelloResult,
    NodeCreated,
    ThreadCreated,
    Appended,
    InviteExported,
    InviteAccepted,
    AclChanged,
    Collected,
    Heads,
    Events,
    AclDocument,
    Keys,
    DbCommitted,
    DbDocument,
    KvValue,
    DbQueryResult,
    DbViewCid,
);

/// Reads a typed result out of a JSON result, saying what does not fit.
pub fn result_as<T: MethodResult>(result: &Value) -> Result<T, String> {
    T::deserialize(result).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_line_has_id_method_and_params() {
        let request = Request {
            id: 7,
            call: Call::ThreadCreate(ThreadCreate {
                node: "writer".into(),
                variant: Variant::AccessControlled,
                time: 5,
            }),
        };
        let line: Value = serde_json::from_str(&request.to_line()).unwrap();
        assert_eq!(
            line,
            json!({"id": 7, "method": "thread.create",
                "params": {"node": "writer", "variant": "access-controlled", "time": 5}})
        );
        let raw: RawRequest = serde_json::from_value(line).unwrap();
        assert_eq!(Request::decode(raw), Ok(request));
        let (method, params) = Call::Shutdown(Empty {}).parts();
        assert_eq!((method, params), ("shutdown", Map::new()));
    }

    #[test]
    fn unknown_methods_are_unsupported_and_bad_params_bad_requests() {
        let code = |method: &str, params: Value| {
            let Value::Object(params) = params else {
                unreachable!()
            };
            Call::decode(method, params).map(|_| ()).map_err(|e| e.code)
        };
        assert_eq!(code("node.fly", json!({})), Err(ErrorCode::Unsupported));
        assert_eq!(code("node.stop", json!({})), Err(ErrorCode::BadRequest));
        assert_eq!(
            code("node.create", json!({"node": "a", "seed": "0G"})),
            Err(ErrorCode::BadRequest)
        );
        assert_eq!(
            code("node.create", json!({"node": "a", "seed": "AB"})),
            Err(ErrorCode::BadRequest)
        );
        let variant = json!({"node": "a", "variant": "acl", "time": 1});
        assert_eq!(code("thread.create", variant), Err(ErrorCode::BadRequest));
        let role = json!({"node": "a", "thread": "b", "role": "admin", "recipient": "c"});
        assert_eq!(code("invite.export", role), Err(ErrorCode::BadRequest));
        // Members the spec does not name are not errors in params [HP-7].
        assert_eq!(code("node.stop", json!({"node": "a", "x": 1})), Ok(()));
        // A request has exactly id, method and params [HP-7].
        let extra = json!({"id": 1, "method": "shutdown", "params": {}, "x": 1});
        assert!(serde_json::from_value::<RawRequest>(extra).is_err());
    }

    #[test]
    fn replies_have_id_and_result_or_error() {
        let ok = Reply {
            id: Some(3),
            outcome: Outcome::Result(json!({})),
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"id":3,"result":{}}"#
        );
        let error = Error::new(ErrorCode::BadRequest, "no");
        let failed = Reply {
            id: None,
            outcome: Outcome::Error(ErrorBody::new(&error, None)),
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"id":null,"error":{"code":"BAD_REQUEST","message":"no"}}"#
        );
    }

    #[test]
    fn results_keep_the_spec_names() {
        let keys = Keys {
            follow_key: Hex(vec![1]),
            read_key: None,
        };
        assert_eq!(
            serde_json::to_value(&keys).unwrap(),
            json!({"followKey": "01", "readKey": null})
        );
        let appended: Appended =
            result_as(&json!({"log": "L", "seq": 1, "recordCid": "b", "extra": 0})).unwrap();
        assert_eq!(appended.record_cid, "b");
    }
}
