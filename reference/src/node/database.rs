//! The node's database commands (spec/database.md, chapter 8): `db …` and `kv …` lines of the
//! control protocol, each answered by one JSON line like every command ([`super::control`]).
//!
//! Documents, values and queries are written as JSON on the command line, the rest of the line
//! after the fixed words, and go through their canonical DAG-CBOR form, so they are checked
//! exactly as the spec says: a value that is no database value is DB_MALFORMED [DB-4], a query
//! that is no query DB_QUERY_INVALID [DB-17]. JSON numbers must be integers within ±(2^53 − 1).
//!
//! `db watch THREAD` needs a running node: from its reply on, the node writes one extra line
//! `{"watch":THREAD,"change":{...}}` per committed change of the thread's view, in commit order
//! (8.9), between replies.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde_json::{Value as Json, json};

use crate::db::{Change, Database, Delivery, Document, Kind, Query, Schema, Value};
use crate::error::{Error, ErrorCode, Result};
use crate::id::ThreadId;
use crate::store::Store;
use crate::sync::Peer;

/// One `db` or `kv` command line, parsed [DB-2], [DB-17].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbCommand {
    /// `db declare THREAD NAME JSON`: `{"fields": {field: [type]}, "required": [field],
    /// "indexes": [field]}` (`required` and `indexes` optional) [DB-6].
    Declare {
        /// The thread.
        thread: ThreadId,
        /// The collection's name.
        name: String,
        /// Its schema.
        schema: Schema,
        /// Its indexed fields.
        indexes: Vec<String>,
    },
    /// `db put THREAD COLL ID JSON`: create the document, or save the fields that changed [DB-10].
    Put {
        /// The thread.
        thread: ThreadId,
        /// The collection.
        coll: String,
        /// The document ID.
        id: String,
        /// The document.
        doc: Document,
    },
    /// `db get THREAD COLL ID`: the document, or null [DB-12].
    Get {
        /// The thread.
        thread: ThreadId,
        /// The collection.
        coll: String,
        /// The document ID.
        id: String,
    },
    /// `db delete THREAD COLL ID` [DB-12].
    Delete {
        /// The thread.
        thread: ThreadId,
        /// The collection.
        coll: String,
        /// The document ID.
        id: String,
    },
    /// `db query THREAD JSON`: the JSON form of a query document [DB-17], [DB-18].
    Query {
        /// The thread.
        thread: ThreadId,
        /// The query.
        query: Query,
    },
    /// `db view THREAD`: the view CID and the latest snapshot [DB-15], [DB-19].
    View(ThreadId),
    /// `db watch THREAD`: stream the view's changes (a running node only).
    Watch(ThreadId),
    /// `kv put THREAD KEY JSON` [DB-12].
    KvPut {
        /// The thread.
        thread: ThreadId,
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
    /// `kv get THREAD KEY`: the value, or null.
    KvGet {
        /// The thread.
        thread: ThreadId,
        /// The key.
        key: String,
    },
    /// `kv del THREAD KEY` [DB-12].
    KvDel {
        /// The thread.
        thread: ThreadId,
        /// The key.
        key: String,
    },
}

/// Parses the rest of a `db` (`kv` when `kv` is true) line. BAD_REQUEST for an unknown
/// subcommand or missing words; DB_MALFORMED for JSON that is no database value [DB-4].
pub fn parse(kv: bool, rest: &str) -> Result<DbCommand> {
    let (sub, rest) = word(rest);
    let (thread, rest) = word(rest);
    if thread.is_empty() {
        return Err(bad(USAGE));
    }
    let thread: ThreadId = thread.parse()?;
    let (a, after_a) = word(rest);
    let (b, after_b) = word(after_a);
    let need = |w: &str| {
        if w.is_empty() {
            Err(bad(USAGE))
        } else {
            Ok(w.to_owned())
        }
    };
    let none_after = |s: &str| {
        if s.is_empty() {
            Ok(())
        } else {
            Err(bad(USAGE))
        }
    };
    Ok(match (kv, sub) {
        (false, "declare") => {
            let (schema, indexes) = schema(&json(after_a)?)?;
            DbCommand::Declare {
                thread,
                name: need(a)?,
                schema,
                indexes,
            }
        }
        (false, "put") => DbCommand::Put {
            thread,
            coll: need(a)?,
            id: need(b)?,
            doc: document(&json(after_b)?)?,
        },
        (false, "get" | "delete") => {
            none_after(after_b)?;
            let (coll, id) = (need(a)?, need(b)?);
            match sub {
                "get" => DbCommand::Get { thread, coll, id },
                _ => DbCommand::Delete { thread, coll, id },
            }
        }
        (false, "query") => DbCommand::Query {
            thread,
            query: query(&json(rest)?)?,
        },
        (false, "view" | "watch") => {
            none_after(rest)?;
            match sub {
                "view" => DbCommand::View(thread),
                _ => DbCommand::Watch(thread),
            }
        }
        (true, "put") => DbCommand::KvPut {
            thread,
            key: need(a)?,
            value: Value::from_serialize(&json(after_a)?)?,
        },
        (true, "get" | "del") => {
            none_after(after_a)?;
            let key = need(a)?;
            match sub {
                "get" => DbCommand::KvGet { thread, key },
                _ => DbCommand::KvDel { thread, key },
            }
        }
        _ => return Err(bad(USAGE)),
    })
}

const USAGE: &str = "usage: db declare|put|get|delete|query|view|watch THREAD … or kv put|get|del \
                     THREAD KEY … (threads-node --help)";

/// Runs a database command on `peer` at time `now` (unix ms). `db watch` is BAD_REQUEST here:
/// it needs a running node.
pub fn run<R: CryptoRng, S: Store>(
    peer: &mut Peer<R, S>,
    command: DbCommand,
    now: u64,
) -> Result<Json> {
    let ok = super::control::ok;
    let written = |cid: crate::Cid| ok(json!({"recordCid": cid.to_string()}));
    Ok(match command {
        DbCommand::Declare {
            thread,
            name,
            schema,
            indexes,
        } => {
            let indexes: Vec<&str> = indexes.iter().map(String::as_str).collect();
            written(Database::new(thread).declare(peer, now, &name, schema, &indexes)?)
        }
        DbCommand::Put {
            thread,
            coll,
            id,
            doc,
        } => {
            let doc = Value::Map(doc).to_ipld();
            written(
                Database::new(thread)
                    .docs(peer, now, &coll)
                    .put(&id, &doc)?,
            )
        }
        DbCommand::Get { thread, coll, id } => {
            let mut db = Database::new(thread);
            db.refresh(peer)?;
            let doc = db.view(peer)?.collection(&coll)?.get(&id);
            ok(json!({"doc": doc.map(|d| to_json(&Value::Map(d.clone())))}))
        }
        DbCommand::Delete { thread, coll, id } => {
            written(Database::new(thread).docs(peer, now, &coll).del(&id)?)
        }
        DbCommand::Query { thread, query } => {
            let mut db = Database::new(thread);
            let result = db.docs(peer, now, &query.coll.clone()).query(query)?;
            let docs: Vec<Json> = result
                .docs
                .into_iter()
                .map(|(id, doc)| json!({"id": id, "doc": to_json(&Value::Map(doc))}))
                .collect();
            ok(json!({"docs": docs}))
        }
        DbCommand::View(thread) => {
            let mut db = Database::new(thread);
            db.refresh(peer)?;
            let view = db.view(peer)?;
            let snapshot = view
                .snapshot()
                .map(|s| json!({"snapshotCid": s.cid().to_string(), "count": s.count()}));
            ok(json!({"viewCid": view.cid().to_string(), "snapshot": snapshot}))
        }
        DbCommand::KvPut { thread, key, value } => written(
            Database::new(thread)
                .kv(peer, now)
                .put(&key, &value.to_ipld())?,
        ),
        DbCommand::KvGet { thread, key } => {
            let mut db = Database::new(thread);
            db.refresh(peer)?;
            let value = db.view(peer)?.kv().get(&key).map(to_json);
            ok(json!({"value": value}))
        }
        DbCommand::KvDel { thread, key } => written(Database::new(thread).kv(peer, now).del(&key)?),
        DbCommand::Watch(_) => return Err(bad("db watch needs a running node")),
    })
}

/// The threads a running node watches, each with its subscription [DB-11].
#[derive(Debug, Default)]
pub struct Watches {
    watched: BTreeMap<ThreadId, (Database, crate::db::SubscriberId)>,
}

impl Watches {
    /// Starts watching `thread`: changes committed from now on are reported.
    pub fn watch<R: CryptoRng, S: Store>(
        &mut self,
        peer: &mut Peer<R, S>,
        thread: ThreadId,
    ) -> Result<Json> {
        if !self.watched.contains_key(&thread) {
            let mut db = Database::new(thread.clone());
            db.refresh(peer)?;
            let subscriber = db.subscribe(peer);
            self.watched.insert(thread.clone(), (db, subscriber));
        }
        Ok(super::control::ok(json!({"watching": thread.to_string()})))
    }

    /// The change lines of every watched thread since the last call, at most `room` of them;
    /// the rest wait for the next call (the broadcaster keeps them, or reports a lag).
    pub fn changes<R: CryptoRng, S: Store>(
        &mut self,
        peer: &mut Peer<R, S>,
        mut room: usize,
    ) -> Vec<Json> {
        let mut lines = Vec::new();
        for (thread, (db, subscriber)) in &mut self.watched {
            // A thread whose view cannot be read yet (a follower) has no changes to report.
            if db.refresh(peer).is_err() {
                continue;
            }
            while room > 0 {
                let Some(delivery) = db.poll_change(*subscriber) else {
                    break;
                };
                lines.push(json!({"watch": thread.to_string(), "change": change(&delivery)}));
                room -= 1;
            }
        }
        lines
    }

    /// Whether any thread is watched.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }
}

fn change(delivery: &Delivery) -> Json {
    match delivery {
        Delivery::Lagged => json!({"lagged": true}),
        Delivery::Change(Change::Collection { name }) => json!({"collection": name}),
        Delivery::Change(Change::Doc { coll, id, doc }) => json!({
            "coll": coll,
            "id": id,
            "doc": doc.as_ref().map(|d| to_json(&Value::Map(d.clone()))),
        }),
        Delivery::Change(Change::Key { key, value }) => {
            json!({"key": key, "value": value.as_ref().map(to_json)})
        }
    }
}

/// The JSON form of a value (8.2, informative); bytes as `{"/": {"bytes": base64}}`.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Integer(n) => json!(n),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!({"/": {"bytes": base64(b)}}),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// RFC 4648 base64, standard alphabet, without padding: the DAG-JSON bytes form.
fn base64(bytes: &[u8]) -> String {
    data_encoding::BASE64_NOPAD.encode(bytes)
}

fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim_start()),
        None => (s, ""),
    }
}

fn json(text: &str) -> Result<Json> {
    serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))
}

fn document(json: &Json) -> Result<Document> {
    match Value::from_serialize(json)? {
        Value::Map(doc) => Ok(doc),
        _ => Err(Error::new(
            ErrorCode::DbMalformed,
            "a document is a JSON object",
        )),
    }
}

/// `{"fields", "required"?, "indexes"?}` as a schema and its indexes [DB-6].
fn schema(json: &Json) -> Result<(Schema, Vec<String>)> {
    let malformed = |what: &str| Error::new(ErrorCode::DbMalformed, what.to_owned());
    let object = json
        .as_object()
        .ok_or_else(|| malformed("a declaration is a JSON object"))?;
    if let Some(extra) = object
        .keys()
        .find(|k| !["fields", "required", "indexes"].contains(&k.as_str()))
    {
        return Err(malformed(&format!(
            "unknown key {extra:?} in a declaration"
        )));
    }
    let texts = |key: &str| -> Result<Vec<String>> {
        match object.get(key) {
            None => Ok(Vec::new()),
            Some(list) => serde_json::from_value(list.clone())
                .map_err(|_| malformed(&format!("{key:?} is a list of field names"))),
        }
    };
    let mut fields = BTreeMap::new();
    let listed = object
        .get("fields")
        .and_then(Json::as_object)
        .ok_or_else(|| malformed("\"fields\" is an object of field → [type]"))?;
    for (field, kinds) in listed {
        let names: Vec<String> = serde_json::from_value(kinds.clone())
            .map_err(|_| malformed("a field's types are a list of type names"))?;
        let kinds = names
            .iter()
            .map(|n| Kind::from_name(n).ok_or_else(|| malformed(&format!("no type {n:?}"))))
            .collect::<Result<Vec<_>>>()?;
        fields.insert(field.clone(), kinds);
    }
    Ok((
        Schema {
            fields,
            required: texts("required")?,
        },
        texts("indexes")?,
    ))
}

/// The JSON form of a query document, checked through its canonical encoding [DB-17].
fn query(json: &Json) -> Result<Query> {
    let value =
        Value::from_serialize(json).map_err(|e| Error::new(ErrorCode::DbQueryInvalid, e.detail))?;
    Query::from_bytes(&crate::block::encode(&value.to_ipld()))
}

fn bad(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Variant;

    fn code(line: &str) -> Option<ErrorCode> {
        let (name, rest) = word(line);
        parse(name == "kv", rest).err().map(|e| e.code)
    }

    /// Bad lines get registry codes, never a panic: a typo, no JSON, a float, an unknown type,
    /// a query that is no query.
    #[test]
    fn bad_database_lines_carry_registry_codes() {
        let t = ThreadId::from_parts(Variant::Raw, &[7; 16]).expect("tid");
        assert_eq!(code(&format!("db drop {t}")), Some(ErrorCode::BadRequest));
        assert_eq!(code("db put"), Some(ErrorCode::BadRequest));
        assert_eq!(
            code("db get nothread c i"),
            Some(ErrorCode::TidBadMultibase)
        );
        assert_eq!(
            code(&format!("db put {t} c i {{")),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            code(&format!("db put {t} c i [1]")),
            Some(ErrorCode::DbMalformed)
        );
        assert_eq!(
            code(&format!("kv put {t} k 1.5")),
            Some(ErrorCode::DbMalformed)
        );
        assert_eq!(
            code(&format!("kv put {t} k 9007199254740992")),
            Some(ErrorCode::DbMalformed)
        );
        assert_eq!(
            code(&format!(
                r#"db declare {t} c {{"fields":{{"n":["float"]}}}}"#
            )),
            Some(ErrorCode::DbMalformed)
        );
        assert_eq!(
            code(&format!(r#"db query {t} {{"coll":"c","limit":-1}}"#)),
            Some(ErrorCode::DbQueryInvalid)
        );
        assert_eq!(
            code(&format!("db get {t} c i extra")),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            code(&format!("kv get {t} k v")),
            Some(ErrorCode::BadRequest)
        );
    }

    /// Hostile documents: nesting past the value limit (32) is DB_MALFORMED, nesting past the JSON
    /// parser's own limit a BAD_REQUEST, and neither panics nor writes anything.
    #[test]
    fn deeply_nested_documents_are_refused_with_a_code() {
        let t = ThreadId::from_parts(Variant::Raw, &[7; 16]).expect("tid");
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            code(&format!(r#"db put {t} c i {{"a":{}}}"#, nested(40))),
            Some(ErrorCode::DbMalformed)
        );
        assert_eq!(
            code(&format!(r#"db put {t} c i {{"a":{}}}"#, nested(100_000))),
            Some(ErrorCode::BadRequest)
        );
    }

    /// Checks the bound on watch lines: one call reports at most `room` changes, so the reply
    /// queue stays bounded [DB-13]; the rest wait, in order, for the next call.
    #[test]
    fn watched_changes_are_reported_at_most_room_at_a_time() {
        let mut peer = Peer::from_seed([21; 32]);
        let (t, _) = peer.create_thread(0, Variant::Raw).expect("create");
        let mut watches = Watches::default();
        watches.watch(&mut peer, t.clone()).expect("watch");
        let mut db = Database::new(t.clone());
        for i in 0..3u64 {
            db.kv(&mut peer, 1 + i)
                .put(&format!("k{i}"), &i)
                .expect("put");
        }
        let keys = |lines: Vec<Json>| -> Vec<Json> {
            lines.iter().map(|l| l["change"]["key"].clone()).collect()
        };
        assert_eq!(
            keys(watches.changes(&mut peer, 2)),
            [json!("k0"), json!("k1")]
        );
        assert_eq!(keys(watches.changes(&mut peer, 2)), [json!("k2")]);
        assert!(watches.changes(&mut peer, 2).is_empty());
    }

    #[test]
    fn database_commands_write_read_and_query_through_the_peer() {
        let mut peer = Peer::from_seed([3; 32]);
        let (t, _) = peer.create_thread(0, Variant::Raw).expect("create");
        let mut run_line = |line: String| {
            let (name, rest) = word(&line);
            let command = parse(name == "kv", rest).expect("parses");
            run(&mut peer, command, 1)
        };
        run_line(format!(
            r#"db declare {t} notes {{"fields":{{"n":["integer"]}},"required":["n"],"indexes":["n"]}}"#
        ))
        .expect("declare");
        run_line(format!(r#"db put {t} notes a {{"n":2,"b":{{"x":null}}}}"#)).expect("a");
        run_line(format!(r#"db put {t} notes b {{"n":1}}"#)).expect("b");
        let refused = run_line(format!(r#"db put {t} notes c {{"n":"one"}}"#));
        assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::DbSchemaFailed));
        let found = run_line(format!(
            r#"db query {t} {{"coll":"notes","sort":[{{"desc":false,"field":"n"}}]}}"#
        ))
        .expect("query");
        assert_eq!(found["docs"][0]["id"], "b");
        assert_eq!(found["docs"][1]["doc"], json!({"n": 2, "b": {"x": null}}));
        run_line(format!("kv put {t} k [1,\"two\"]")).expect("put");
        let got = run_line(format!("kv get {t} k")).expect("get");
        assert_eq!(got["value"], json!([1, "two"]));
        let watch = run_line(format!("db watch {t}"));
        assert_eq!(watch.map_err(|e| e.code), Err(ErrorCode::BadRequest));
        let view = run_line(format!("db view {t}")).expect("view");
        assert!(
            view["viewCid"]
                .as_str()
                .is_some_and(|c| c.starts_with("bafyrei"))
        );
    }

    #[test]
    fn bytes_show_in_their_dag_json_form() {
        assert_eq!(
            to_json(&Value::Bytes(b"hello".to_vec())),
            json!({"/": {"bytes": "aGVsbG8"}})
        );
    }
}
