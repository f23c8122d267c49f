//! Database events (spec/database.md, [DB-1] to [DB-3], [DB-6], [DB-10]): the body of type `db`,
//! its operations, schemas and patches; strict decoding with DB_MALFORMED, and canonical encoding.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use super::malformed;
use super::value::{Document, Kind, MAX_SAFE_INTEGER, Value};
use crate::block;
use crate::error::Result;

/// The reserved body type of database events [DB-1].
pub const DB_TYPE: &str = "db";
/// Most operations one event carries [DB-1].
pub const MAX_OPS: usize = 1024;
/// Most indexes one collection declares [DB-6].
pub const MAX_INDEXES: usize = 16;

/// A collection's schema: allowed kinds per field, and required fields [DB-6], [DB-7].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// Each listed field's allowed kinds, in rank order.
    pub fields: BTreeMap<String, Vec<Kind>>,
    /// Fields every document must have, in bytewise order.
    pub required: Vec<String>,
}

/// A change to a document's top-level fields [DB-10].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    /// Fields given a value, replacing any earlier value whole.
    pub set: Document,
    /// Fields removed, in bytewise order.
    pub unset: Vec<String>,
}

/// One database operation [DB-2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Declare a collection [DB-6].
    Collection {
        /// The collection's name [DB-3].
        name: String,
        /// Its schema.
        schema: Schema,
        /// Indexed fields, in bytewise order.
        indexes: Vec<String>,
    },
    /// Create a document.
    Create {
        /// Collection.
        coll: String,
        /// Document ID [DB-3].
        id: String,
        /// The whole document.
        doc: Document,
    },
    /// Change a document by a patch [DB-10].
    Save {
        /// Collection.
        coll: String,
        /// Document ID.
        id: String,
        /// The patch.
        patch: Patch,
    },
    /// Delete a document.
    Delete {
        /// Collection.
        coll: String,
        /// Document ID.
        id: String,
    },
    /// Set a key of the key-value store.
    Put {
        /// The key [DB-3].
        key: String,
        /// Its new value.
        value: Value,
    },
    /// Remove a key of the key-value store.
    Del {
        /// The key.
        key: String,
    },
}

/// A database event's body `{"clock", "ops", "type": "db"}` [DB-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbEvent {
    /// The Lamport clock, 1 to 2^53 − 1 [DB-8].
    pub clock: u64,
    /// One to [`MAX_OPS`] operations, applied in list order [DB-9].
    pub ops: Vec<Op>,
}

impl DbEvent {
    /// An event, checked as a decoder would check it: DB_MALFORMED for anything [DB-1] to [DB-6]
    /// or [DB-10] forbid, so a local writer never appends what readers refuse.
    pub fn new(clock: u64, ops: Vec<Op>) -> Result<DbEvent> {
        let event = DbEvent { clock, ops };
        DbEvent::from_ipld(event.to_ipld())?;
        Ok(event)
    }

    /// The canonical body bytes [DB-1].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&self.to_ipld())
    }

    fn to_ipld(&self) -> Ipld {
        node([
            ("clock", Ipld::Integer(i128::from(self.clock))),
            (
                "ops",
                Ipld::List(self.ops.iter().map(Op::to_ipld).collect()),
            ),
            ("type", text(DB_TYPE)),
        ])
    }

    /// Classifies a body [DB-1]: `Ok(None)` when it is not a database event (not strict
    /// DAG-CBOR, or not a map whose `type` is `db`); DB_MALFORMED when it is one but breaks a rule;
    /// never panics.
    pub fn classify(body: &[u8]) -> Result<Option<DbEvent>> {
        let Some(ipld) = strict(body) else {
            return Ok(None);
        };
        match &ipld {
            Ipld::Map(map) if map.get("type") == Some(&text(DB_TYPE)) => {}
            _ => return Ok(None),
        }
        DbEvent::from_ipld(ipld).map(Some)
    }

    fn from_ipld(ipld: Ipld) -> Result<DbEvent> {
        let mut fields = Fields::new(ipld, "a database event")?;
        let clock = fields.uint("clock")?;
        let ops = fields.list("ops")?;
        fields.text("type")?;
        fields.finish()?;
        if clock == 0 || clock > MAX_SAFE_INTEGER as u64 {
            return Err(malformed("clock must be 1 to 2^53 − 1"));
        }
        if ops.is_empty() || ops.len() > MAX_OPS {
            return Err(malformed(format!("an event has 1 to {MAX_OPS} ops")));
        }
        let ops = ops.into_iter().map(Op::from_ipld).collect::<Result<_>>()?;
        Ok(DbEvent { clock, ops })
    }
}

/// The body as strict DAG-CBOR (chapter 3): decodes, has no floats, re-encodes to itself.
fn strict(body: &[u8]) -> Option<Ipld> {
    let ipld: Ipld = serde_ipld_dagcbor::from_slice(body).ok()?;
    (!has_float(&ipld) && block::encode(&ipld) == body).then_some(ipld)
}

fn has_float(ipld: &Ipld) -> bool {
    match ipld {
        Ipld::Float(_) => true,
        Ipld::List(items) => items.iter().any(has_float),
        Ipld::Map(map) => map.values().any(has_float),
        _ => false,
    }
}

impl Op {
    fn to_ipld(&self) -> Ipld {
        match self {
            Op::Collection {
                name,
                schema,
                indexes,
            } => node([
                ("op", text("collection")),
                ("name", text(name)),
                ("schema", schema.to_ipld()),
                ("indexes", texts(indexes)),
            ]),
            Op::Create { coll, id, doc } => node([
                ("op", text("create")),
                ("coll", text(coll)),
                ("id", text(id)),
                ("doc", doc_ipld(doc)),
            ]),
            Op::Save { coll, id, patch } => node([
                ("op", text("save")),
                ("coll", text(coll)),
                ("id", text(id)),
                ("patch", patch.to_ipld()),
            ]),
            Op::Delete { coll, id } => node([
                ("op", text("delete")),
                ("coll", text(coll)),
                ("id", text(id)),
            ]),
            Op::Put { key, value } => node([
                ("op", text("put")),
                ("key", text(key)),
                ("value", value.to_ipld()),
            ]),
            Op::Del { key } => node([("op", text("del")), ("key", text(key))]),
        }
    }

    fn from_ipld(ipld: Ipld) -> Result<Op> {
        let mut f = Fields::new(ipld, "an operation")?;
        let op = match f.text("op")?.as_str() {
            "collection" => Op::Collection {
                name: check_name(f.text("name")?)?,
                schema: Schema::from_ipld(f.take("schema")?)?,
                indexes: sorted_fields(f.list("indexes")?, MAX_INDEXES)?,
            },
            "create" => Op::Create {
                coll: check_name(f.text("coll")?)?,
                id: check_id(f.text("id")?)?,
                doc: document(f.take("doc")?)?,
            },
            "save" => Op::Save {
                coll: check_name(f.text("coll")?)?,
                id: check_id(f.text("id")?)?,
                patch: Patch::from_ipld(f.take("patch")?)?,
            },
            "delete" => Op::Delete {
                coll: check_name(f.text("coll")?)?,
                id: check_id(f.text("id")?)?,
            },
            "put" => Op::Put {
                key: check_key(f.text("key")?)?,
                value: Value::from_ipld(&f.take("value")?)?,
            },
            "del" => Op::Del {
                key: check_key(f.text("key")?)?,
            },
            other => return Err(malformed(format!("unknown op {other:?}"))),
        };
        f.finish()?;
        Ok(op)
    }
}

impl Schema {
    fn to_ipld(&self) -> Ipld {
        let fields = self
            .fields
            .iter()
            .map(|(f, kinds)| {
                let names = kinds.iter().map(|k| text(k.name())).collect();
                (f.clone(), Ipld::List(names))
            })
            .collect();
        node([
            ("fields", Ipld::Map(fields)),
            ("required", texts(&self.required)),
        ])
    }

    /// The canonical DAG-CBOR of the schema, as declared [DB-6], [DB-15].
    pub fn ipld(&self) -> Ipld {
        self.to_ipld()
    }

    pub(super) fn from_ipld(ipld: Ipld) -> Result<Schema> {
        let mut f = Fields::new(ipld, "a schema")?;
        let Ipld::Map(listed) = f.take("fields")? else {
            return Err(malformed("schema fields must be a map"));
        };
        let required = sorted_fields(f.list("required")?, usize::MAX)?;
        f.finish()?;
        let mut fields = BTreeMap::new();
        for (field, kinds) in listed {
            fields.insert(check_field(field)?, kinds_of(kinds)?);
        }
        if let Some(missing) = required.iter().find(|r| !fields.contains_key(*r)) {
            return Err(malformed(format!(
                "required field {missing:?} is not listed in fields"
            )));
        }
        Ok(Schema { fields, required })
    }

    /// Whether `doc` conforms [DB-7]: required fields present, listed fields of a listed kind.
    pub fn conforms(&self, doc: &Document) -> bool {
        self.required.iter().all(|r| doc.contains_key(r))
            && doc.iter().all(|(field, value)| {
                self.fields
                    .get(field)
                    .is_none_or(|kinds| kinds.contains(&value.kind()))
            })
    }
}

/// A non-empty type list in strictly increasing rank order [DB-6].
fn kinds_of(ipld: Ipld) -> Result<Vec<Kind>> {
    let Ipld::List(names) = ipld else {
        return Err(malformed("a field's types must be a list"));
    };
    let kinds = names
        .into_iter()
        .map(|n| match n {
            Ipld::String(s) => Kind::from_name(&s).ok_or_else(|| malformed("unknown type")),
            _ => Err(malformed("a type must be text")),
        })
        .collect::<Result<Vec<_>>>()?;
    if kinds.is_empty() || !kinds.windows(2).all(|w| w[0] < w[1]) {
        return Err(malformed(
            "a type list is non-empty and strictly in rank order",
        ));
    }
    Ok(kinds)
}

impl Patch {
    fn to_ipld(&self) -> Ipld {
        node([("set", doc_ipld(&self.set)), ("unset", texts(&self.unset))])
    }

    fn from_ipld(ipld: Ipld) -> Result<Patch> {
        let mut f = Fields::new(ipld, "a patch")?;
        let set = document(f.take("set")?)?;
        let unset = sorted_fields(f.list("unset")?, usize::MAX)?;
        f.finish()?;
        if unset.iter().any(|u| set.contains_key(u)) {
            return Err(malformed("a field is both set and unset"));
        }
        Ok(Patch { set, unset })
    }

    /// The patched document [DB-10]: `unset` fields removed, `set` fields replaced whole.
    pub fn apply(&self, doc: &Document) -> Document {
        let mut out = doc.clone();
        for field in &self.unset {
            out.remove(field);
        }
        out.extend(self.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The patch that turns `old` into `new`: changed or added fields set, removed ones unset
    /// [DB-10]. What a writer sends for an update (the paper's Example 8).
    pub fn diff(old: &Document, new: &Document) -> Patch {
        Patch {
            set: new
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            unset: old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .cloned()
                .collect(),
        }
    }
}

/// A document: a map value whose keys are fields [DB-4], [DB-3].
pub(super) fn document(ipld: Ipld) -> Result<Document> {
    match Value::from_ipld(&ipld)? {
        Value::Map(map) => {
            for field in map.keys() {
                check_field(field.clone())?;
            }
            Ok(map)
        }
        _ => Err(malformed("a document must be a map")),
    }
}

/// A collection name: 1 to 64 bytes of a–z, 0–9, `_`, `-`, starting with a letter [DB-3].
pub fn check_name(name: String) -> Result<String> {
    let ok = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then_some(name)
        .ok_or_else(|| malformed("a collection name is 1 to 64 of a-z 0-9 _ -, from a letter"))
}

/// A document ID: 1 to 128 bytes, not starting with `_` [DB-3].
pub fn check_id(id: String) -> Result<String> {
    bounded(id, 128, "a document ID")
}

/// A key-value key: 1 to 256 bytes [DB-3].
pub fn check_key(key: String) -> Result<String> {
    if (1..=256).contains(&key.len()) {
        Ok(key)
    } else {
        Err(malformed("a key is 1 to 256 bytes"))
    }
}

/// A field: 1 to 128 bytes, not starting with `_` [DB-3].
pub fn check_field(field: String) -> Result<String> {
    bounded(field, 128, "a field")
}

fn bounded(s: String, max: usize, what: &str) -> Result<String> {
    if (1..=max).contains(&s.len()) && !s.starts_with('_') {
        Ok(s)
    } else {
        Err(malformed(format!(
            "{what} is 1 to {max} bytes, not starting with _"
        )))
    }
}

/// Fields in strictly increasing bytewise order, at most `max` [DB-6], [DB-10].
pub(super) fn sorted_fields(items: Vec<Ipld>, max: usize) -> Result<Vec<String>> {
    let fields = items
        .into_iter()
        .map(|i| match i {
            Ipld::String(s) => check_field(s),
            _ => Err(malformed("a field must be text")),
        })
        .collect::<Result<Vec<_>>>()?;
    if fields.len() > max || !fields.windows(2).all(|w| w[0] < w[1]) {
        return Err(malformed("field lists are strictly increasing and bounded"));
    }
    Ok(fields)
}

fn doc_ipld(doc: &Document) -> Ipld {
    Ipld::Map(doc.iter().map(|(k, v)| (k.clone(), v.to_ipld())).collect())
}

fn text(s: &str) -> Ipld {
    Ipld::String(s.to_owned())
}

fn texts(items: &[String]) -> Ipld {
    Ipld::List(items.iter().map(|s| text(s)).collect())
}

fn node<const N: usize>(entries: [(&str, Ipld); N]) -> Ipld {
    Ipld::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The keys of a map node, taken one by one; [`Fields::finish`] refuses any left over.
pub(super) struct Fields {
    map: BTreeMap<String, Ipld>,
    what: &'static str,
}

impl Fields {
    pub(super) fn new(ipld: Ipld, what: &'static str) -> Result<Fields> {
        match ipld {
            Ipld::Map(map) => Ok(Fields { map, what }),
            _ => Err(malformed(format!("{what} must be a map"))),
        }
    }

    pub(super) fn take(&mut self, key: &str) -> Result<Ipld> {
        self.map
            .remove(key)
            .ok_or_else(|| malformed(format!("{} lacks {key:?}", self.what)))
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(super) fn text(&mut self, key: &str) -> Result<String> {
        match self.take(key)? {
            Ipld::String(s) => Ok(s),
            _ => Err(malformed(format!("{key:?} must be text"))),
        }
    }

    pub(super) fn uint(&mut self, key: &str) -> Result<u64> {
        match self.take(key)? {
            Ipld::Integer(n) => u64::try_from(n).map_err(|_| malformed(format!("{key:?} < 0"))),
            _ => Err(malformed(format!("{key:?} must be an unsigned integer"))),
        }
    }

    pub(super) fn list(&mut self, key: &str) -> Result<Vec<Ipld>> {
        match self.take(key)? {
            Ipld::List(items) => Ok(items),
            _ => Err(malformed(format!("{key:?} must be a list"))),
        }
    }

    pub(super) fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            Some(extra) => Err(malformed(format!(
                "{} has an unknown key {extra:?}",
                self.what
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
        r.expect_err("must fail").code
    }

    fn doc(entries: &[(&str, Value)]) -> Document {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_put_event_has_this_exact_encoding() {
        let event = DbEvent::new(
            1,
            vec![Op::Put {
                key: "k".into(),
                value: Value::Integer(1),
            }],
        )
        .expect("valid");
        let expected = [
            0xa3, // map(3): ops, type, clock
            0x63, b'o', b'p', b's', 0x81, // "ops": [
            0xa3, 0x62, b'o', b'p', 0x63, b'p', b'u', b't', // {"op": "put",
            0x63, b'k', b'e', b'y', 0x61, b'k', // "key": "k",
            0x65, b'v', b'a', b'l', b'u', b'e', 0x01, // "value": 1}]
            0x64, b't', b'y', b'p', b'e', 0x62, b'd', b'b', // "type": "db"
            0x65, b'c', b'l', b'o', b'c', b'k', 0x01, // "clock": 1
        ];
        assert_eq!(event.to_bytes(), expected);
        assert_eq!(DbEvent::classify(&expected), Ok(Some(event)));
    }

    #[test]
    fn every_op_round_trips() {
        let schema = Schema {
            fields: BTreeMap::from([("age".into(), vec![Kind::Null, Kind::Integer])]),
            required: vec!["age".into()],
        };
        let ops = vec![
            Op::Collection {
                name: "people".into(),
                schema,
                indexes: vec!["age".into(), "name".into()],
            },
            Op::Create {
                coll: "people".into(),
                id: "ada".into(),
                doc: doc(&[("age", Value::Integer(36))]),
            },
            Op::Save {
                coll: "people".into(),
                id: "ada".into(),
                patch: Patch {
                    set: doc(&[("age", Value::Null)]),
                    unset: vec!["nick".into()],
                },
            },
            Op::Delete {
                coll: "people".into(),
                id: "ada".into(),
            },
            Op::Put {
                key: "k".into(),
                value: Value::Bytes(vec![1, 2]),
            },
            Op::Del { key: "k".into() },
        ];
        let event = DbEvent::new(7, ops).expect("valid");
        assert_eq!(DbEvent::classify(&event.to_bytes()), Ok(Some(event)));
    }

    #[test]
    fn other_bodies_are_not_database_events() {
        assert_eq!(DbEvent::classify(b"hello"), Ok(None));
        assert_eq!(DbEvent::classify(&[0xa0]), Ok(None));
        let join = block::encode(&BTreeMap::from([("type", "join")]));
        assert_eq!(DbEvent::classify(&join), Ok(None));
        let acl = block::encode(&BTreeMap::from([("type", "acl")]));
        assert_eq!(DbEvent::classify(&acl), Ok(None));
        // Not canonical (a two-byte 1 for "clock"): not strict DAG-CBOR, so opaque.
        let mut bytes = DbEvent::new(1, vec![Op::Del { key: "k".into() }])
            .expect("valid")
            .to_bytes();
        let last = bytes.len() - 1;
        bytes.splice(last.., [0x18, 0x01]);
        assert_eq!(DbEvent::classify(&bytes), Ok(None));
    }

    fn raw(entries: Vec<(&str, Ipld)>) -> Vec<u8> {
        block::encode(&Ipld::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        ))
    }

    fn del_op() -> Ipld {
        node([("op", text("del")), ("key", text("k"))])
    }

    #[test]
    fn malformed_events_have_their_code() {
        let cases = [
            // clock 0, clock beyond 2^53 − 1, no ops, an unknown key, an unknown op.
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(0)),
                ("ops", Ipld::List(vec![del_op()])),
            ]),
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1 << 53)),
                ("ops", Ipld::List(vec![del_op()])),
            ]),
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1)),
                ("ops", Ipld::List(vec![])),
            ]),
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1)),
                ("ops", Ipld::List(vec![del_op()])),
                ("x", Ipld::Null),
            ]),
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1)),
                ("ops", Ipld::List(vec![node([("op", text("drop"))])])),
            ]),
            raw(vec![
                ("type", text("db")),
                ("ops", Ipld::List(vec![del_op()])),
            ]),
        ];
        for body in cases {
            assert_eq!(code(DbEvent::classify(&body)), ErrorCode::DbMalformed);
        }
    }

    /// Checks [DB-1]: an event holds 1 to 1024 ops; exactly 1024 is an event, 1025 is
    /// DB_MALFORMED, whether decoded or built locally.
    #[test]
    fn db_1_an_event_holds_up_to_max_ops_exactly() {
        let body = |n: usize| {
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1)),
                ("ops", Ipld::List(vec![del_op(); n])),
            ])
        };
        let full = DbEvent::classify(&body(MAX_OPS))
            .expect("1024 ops are allowed")
            .expect("a database event");
        assert_eq!(full.ops.len(), MAX_OPS);
        assert_eq!(
            code(DbEvent::classify(&body(MAX_OPS + 1))),
            ErrorCode::DbMalformed
        );
        let del = || Op::Del { key: "k".into() };
        assert!(DbEvent::new(1, vec![del(); MAX_OPS]).is_ok());
        assert_eq!(
            code(DbEvent::new(1, vec![del(); MAX_OPS + 1])),
            ErrorCode::DbMalformed
        );
    }

    /// Checks [DB-6]: a collection declares at most 16 indexes; exactly 16 is a database event,
    /// both decoded and built locally, and 17 is DB_MALFORMED.
    #[test]
    fn db_6_a_collection_declares_up_to_max_indexes_exactly() {
        let fields = |n: usize| -> Vec<String> { (0..n).map(|i| format!("f{i:02}")).collect() };
        let body = |n: usize| {
            let declared = node([
                ("op", text("collection")),
                ("name", text("c")),
                (
                    "schema",
                    node([
                        ("fields", Ipld::Map(BTreeMap::new())),
                        ("required", Ipld::List(vec![])),
                    ]),
                ),
                ("indexes", texts(&fields(n))),
            ]);
            raw(vec![
                ("type", text("db")),
                ("clock", Ipld::Integer(1)),
                ("ops", Ipld::List(vec![declared])),
            ])
        };
        let full = DbEvent::classify(&body(MAX_INDEXES))
            .expect("16 indexes are allowed")
            .expect("a database event");
        assert!(
            matches!(&full.ops[..], [Op::Collection { indexes, .. }] if indexes.len() == MAX_INDEXES)
        );
        assert_eq!(
            code(DbEvent::classify(&body(MAX_INDEXES + 1))),
            ErrorCode::DbMalformed
        );
        let declare = |n: usize| {
            DbEvent::new(
                1,
                vec![Op::Collection {
                    name: "c".into(),
                    schema: Schema::default(),
                    indexes: fields(n),
                }],
            )
        };
        assert!(declare(MAX_INDEXES).is_ok());
        assert_eq!(code(declare(MAX_INDEXES + 1)), ErrorCode::DbMalformed);
    }

    #[test]
    fn names_ids_fields_and_lists_follow_their_rules() {
        assert!(check_name("a-b_9".into()).is_ok());
        for bad in ["", "9a", "Ab", "a b", &"a".repeat(65)] {
            assert!(check_name(bad.into()).is_err(), "{bad:?}");
        }
        assert!(check_id("x".repeat(128)).is_ok());
        assert!(check_id("x".repeat(129)).is_err());
        assert!(check_id("_x".into()).is_err());
        assert!(check_key("_x".into()).is_ok(), "keys may start with _");
        assert!(check_key(String::new()).is_err());
        let put = |value: Ipld| {
            DbEvent::from_ipld(node([
                ("clock", Ipld::Integer(1)),
                (
                    "ops",
                    Ipld::List(vec![node([
                        ("op", text("put")),
                        ("key", text("k")),
                        ("value", value),
                    ])]),
                ),
                ("type", text("db")),
            ]))
        };
        assert!(put(Ipld::Integer(MAX_SAFE_INTEGER.into())).is_ok());
        assert_eq!(code(put(Ipld::Integer(1 << 53))), ErrorCode::DbMalformed);
        assert_eq!(
            code(put(Ipld::Link(block::cid_of(b"x")))),
            ErrorCode::DbMalformed
        );
        let save = |patch: Patch| {
            DbEvent::new(
                1,
                vec![Op::Save {
                    coll: "c".into(),
                    id: "i".into(),
                    patch,
                }],
            )
        };
        let both = Patch {
            set: doc(&[("a", Value::Null)]),
            unset: vec!["a".into()],
        };
        assert_eq!(code(save(both)), ErrorCode::DbMalformed);
        let unsorted = Patch {
            set: Document::new(),
            unset: vec!["b".into(), "a".into()],
        };
        assert_eq!(code(save(unsorted)), ErrorCode::DbMalformed);
        let reserved = Patch {
            set: doc(&[("_id", Value::Null)]),
            unset: vec![],
        };
        assert_eq!(code(save(reserved)), ErrorCode::DbMalformed);
    }

    #[test]
    fn schemas_are_checked_when_declared_and_decide_conformance() {
        let declare = |fields: Vec<(&str, Vec<Kind>)>, required: Vec<&str>| {
            let schema = Schema {
                fields: fields
                    .into_iter()
                    .map(|(f, k)| (f.to_string(), k))
                    .collect(),
                required: required.into_iter().map(String::from).collect(),
            };
            DbEvent::new(
                1,
                vec![Op::Collection {
                    name: "c".into(),
                    schema,
                    indexes: vec![],
                }],
            )
        };
        assert!(declare(vec![("a", vec![Kind::Null, Kind::Map])], vec!["a"]).is_ok());
        assert!(declare(vec![("a", vec![Kind::Map, Kind::Null])], vec![]).is_err());
        // Strictly increasing: a type listed twice is refused [DB-6].
        assert!(declare(vec![("a", vec![Kind::Null, Kind::Null])], vec![]).is_err());
        assert!(declare(vec![("a", vec![])], vec![]).is_err());
        assert!(declare(vec![("a", vec![Kind::Null])], vec!["b"]).is_err());
        let schema = Schema {
            fields: BTreeMap::from([("n".into(), vec![Kind::Integer])]),
            required: vec!["n".into()],
        };
        assert!(schema.conforms(&doc(&[("n", Value::Integer(1)), ("x", Value::Null)])));
        assert!(!schema.conforms(&doc(&[("n", Value::Null)])));
        assert!(!schema.conforms(&doc(&[("x", Value::Integer(1))])));
    }

    #[test]
    fn patches_keep_null_apart_from_removal_and_replace_lists_whole() {
        let old = doc(&[
            ("a", Value::Integer(1)),
            ("b", Value::List(vec![Value::Integer(1), Value::Integer(2)])),
            ("c", Value::from("x")),
        ]);
        let patch = Patch {
            set: doc(&[
                ("a", Value::Null),
                ("b", Value::List(vec![Value::Integer(3)])),
            ]),
            unset: vec!["c".into(), "zz".into()],
        };
        let new = patch.apply(&old);
        assert_eq!(
            new,
            doc(&[
                ("a", Value::Null),
                ("b", Value::List(vec![Value::Integer(3)]))
            ])
        );
        assert_eq!(Patch::diff(&old, &new).apply(&old), new);
        assert_eq!(Patch::diff(&new, &new), Patch::default());
    }
}
