//! Suite `db`: database events, the fold of sets of events in several arrival orders to one view,
//! and queries with their one right result (spec chapter 8).

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Value as Json, json};
use threads::ErrorCode as E;
use threads::block::cid_of;
use threads::db::{
    DbEvent, DbRecord, DbView, Document, Kind, MAX_SAFE_INTEGER, Op, Patch, SNAPSHOT_EVERY, Schema,
    Snapshot, Value,
};
use threads::id::LogId;
use threads::keys::IdentityKey;
use threads_fixtures::cbor;

use super::{Intent, InvalidRow, SuiteBuilder, random_seed};
use crate::format::SuiteFile;

/// Generates the `db` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "db",
        &[
            "The event-sourced database (spec/database.md): database event bodies, the fold of a set",
            "of applied events (each given as its record CID, author log, seq and body, in arrival",
            "order) to the canonical view bytes and view CID, and queries over a folded view.",
        ],
    );
    notes(&mut s);
    classify(&mut s);
    let mut rng = s.rng("writers");
    let logs: Vec<LogId> = (0..4)
        .map(|_| IdentityKey::from_seed(&random_seed(&mut rng)).log_id())
        .collect();
    fold(&mut s, &logs);
    query(&mut s, &logs);
    snapshots(&mut s, &logs);
    s.finish()
}

fn notes(s: &mut SuiteBuilder) {
    let notes = [
        (
            "NORMAL",
            "BASIC",
            "A well-formed event or query with an ordinary outcome.",
        ),
        (
            "NOT_DATABASE",
            "FUNCTIONALITY",
            "A body that is not a database event must leave the view alone, not be refused.",
        ),
        (
            "BOUNDARY",
            "EDGE_CASE",
            "A value at the edge of its allowed range.",
        ),
        (
            "MALFORMED",
            "MISSING_CHECK",
            "A database event that breaks its shape must be recorded DB_MALFORMED and never applied.",
        ),
        (
            "ARRIVAL_ORDER",
            "NON_DETERMINISM",
            "The same set in another arrival order must give the same view: a fold in arrival order fails.",
        ),
        (
            "DUPLICATE",
            "FUNCTIONALITY",
            "A record delivered twice counts once.",
        ),
        (
            "OUTCOME",
            "FUNCTIONALITY",
            "An operation refused at its place in the order is recorded with its code; the fold goes on.",
        ),
        (
            "PATCH",
            "EDGE_CASE",
            "Patches set and unset top-level fields only: untouched fields stay, null is a value, lists are replaced whole.",
        ),
        (
            "TYPE_ORDER",
            "EDGE_CASE",
            "Values of different kinds compare by rank; within a kind by value (10 after 9).",
        ),
        (
            "STABLE_ORDER",
            "NON_DETERMINISM",
            "Ties are broken by document ID, and sorting happens before skip and limit.",
        ),
        (
            "INVALID_QUERY",
            "MISSING_CHECK",
            "A query document that is not of the defined shape.",
        ),
        (
            "SNAPSHOT",
            "NON_DETERMINISM",
            "Snapshots are taken every 256 events of the order, never of arrival: the same set gives the same snapshot CIDs.",
        ),
        (
            "COMPACTED",
            "FUNCTIONALITY",
            "A view rebuilt from a snapshot without the covered events must equal the full fold, or say it is behind.",
        ),
        (
            "INVALID_SNAPSHOT",
            "MISSING_CHECK",
            "A snapshot that does not match its view or the events held must be refused, not trusted.",
        ),
    ];
    for (flag, bug, description) in notes {
        s.note(flag, bug, description);
    }
}

// ---- bodies ----

fn doc(entries: &[(&str, Value)]) -> Document {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn int(n: i64) -> Value {
    Value::Integer(n)
}

fn body(clock: u64, ops: Vec<Op>) -> Vec<u8> {
    DbEvent::new(clock, ops)
        .map(|e| e.to_bytes())
        .unwrap_or_default()
}

fn declare(indexes: &[&str]) -> Op {
    Op::Collection {
        name: "c".into(),
        schema: Schema {
            fields: BTreeMap::from([("n".into(), vec![Kind::Integer])]),
            required: vec![],
        },
        indexes: indexes.iter().map(|s| s.to_string()).collect(),
    }
}

fn create(id: &str, d: Document) -> Op {
    Op::Create {
        coll: "c".into(),
        id: id.into(),
        doc: d,
    }
}

fn save(id: &str, set: Document, unset: &[&str]) -> Op {
    let unset = unset.iter().map(|s| s.to_string()).collect();
    Op::Save {
        coll: "c".into(),
        id: id.into(),
        patch: Patch { set, unset },
    }
}

fn delete(id: &str) -> Op {
    Op::Delete {
        coll: "c".into(),
        id: id.into(),
    }
}

fn put(key: &str, n: i64) -> Op {
    Op::Put {
        key: key.into(),
        value: int(n),
    }
}

/// A canonical map from the hand-written CBOR writer: keys sorted length first, then bytewise.
fn cmap(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
    cbor::map(&sorted)
}

fn list(items: &[Vec<u8>]) -> Vec<u8> {
    [cbor::head(4, items.len() as u64), items.concat()].concat()
}

fn negative(n: u64) -> Vec<u8> {
    cbor::head(1, n - 1)
}

/// A db event around hand-written ops.
fn raw_event(clock: Vec<u8>, ops: &[Vec<u8>]) -> Vec<u8> {
    cmap(&[
        ("type", cbor::text("db")),
        ("clock", clock),
        ("ops", list(ops)),
    ])
}

fn raw_put(value: Vec<u8>) -> Vec<u8> {
    cmap(&[
        ("op", cbor::text("put")),
        ("key", cbor::text("k")),
        ("value", value),
    ])
}

fn raw_op(op: &str, fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![("op", cbor::text(op))];
    entries.extend(fields.iter().cloned());
    cmap(&entries)
}

fn classify(s: &mut SuiteBuilder) {
    s.group("DbClassify", "db.classify", json!({}));
    let all_ops = vec![
        declare(&["n"]),
        create("a", doc(&[("n", int(1))])),
        save("a", doc(&[("m", Value::Null)]), &["x"]),
        delete("a"),
        put("k", 1),
        Op::Del { key: "k".into() },
    ];
    let mut non_canonical = body(1, vec![Op::Del { key: "k".into() }]);
    non_canonical.pop();
    non_canonical.extend([0x18, 0x01]);
    let edge = vec![
        put("max", MAX_SAFE_INTEGER),
        put("min", -MAX_SAFE_INTEGER),
        Op::Create {
            coll: "a".repeat(64),
            id: "i".repeat(128),
            doc: Document::new(),
        },
    ];
    let valid: Vec<(&str, &[&str], &str, Vec<u8>)> = vec![
        (
            "DB-1",
            &["NORMAL"],
            "the worked example: put k = 1 at clock 1",
            body(1, vec![put("k", 1)]),
        ),
        (
            "DB-2",
            &["NORMAL"],
            "one of every operation",
            body(7, all_ops),
        ),
        (
            "DB-4",
            &["BOUNDARY"],
            "integers ±(2^53 − 1), a 64-byte name, a 128-byte ID",
            body(MAX_SAFE_INTEGER as u64, edge),
        ),
        ("DB-1", &["NOT_DATABASE"], "opaque bytes", b"hello".to_vec()),
        (
            "DB-1",
            &["NOT_DATABASE"],
            "a join body",
            cmap(&[("type", cbor::text("join")), ("addrs", list(&[]))]),
        ),
        (
            "DB-1",
            &["NOT_DATABASE"],
            "a map whose type is DB, not db",
            cmap(&[("type", cbor::text("DB"))]),
        ),
        (
            "DB-1",
            &["NOT_DATABASE"],
            "not canonical (clock 1 in two bytes): not strict DAG-CBOR",
            non_canonical,
        ),
        (
            "DB-1",
            &["NOT_DATABASE"],
            "a float makes it not strict DAG-CBOR",
            raw_event(
                cbor::uint(1),
                &[raw_put(vec![0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])],
            ),
        ),
    ];
    for (section, flags, comment, bytes) in valid {
        s.case(
            section,
            flags,
            comment,
            json!({"body": hex::encode(bytes)}),
            Intent::Valid,
        );
    }
    let good_op = raw_put(cbor::uint(1));
    let name_op = |name: &str| {
        raw_op(
            "delete",
            &[("coll", cbor::text(name)), ("id", cbor::text("i"))],
        )
    };
    let id_op = |id: &str| {
        raw_op(
            "delete",
            &[("coll", cbor::text("c")), ("id", cbor::text(id))],
        )
    };
    let patch = |set: Vec<u8>, unset: &[&str]| {
        let unset: Vec<Vec<u8>> = unset.iter().map(|u| cbor::text(u)).collect();
        raw_op(
            "save",
            &[
                ("coll", cbor::text("c")),
                ("id", cbor::text("i")),
                ("patch", cmap(&[("set", set), ("unset", list(&unset))])),
            ],
        )
    };
    let schema = |fields: Vec<u8>, required: &[&str], indexes: &[&str]| {
        let required: Vec<Vec<u8>> = required.iter().map(|u| cbor::text(u)).collect();
        let indexes: Vec<Vec<u8>> = indexes.iter().map(|u| cbor::text(u)).collect();
        raw_op(
            "collection",
            &[
                ("name", cbor::text("c")),
                (
                    "schema",
                    cmap(&[("fields", fields), ("required", list(&required))]),
                ),
                ("indexes", list(&indexes)),
            ],
        )
    };
    let kinds = |names: &[&str]| list(&names.iter().map(|n| cbor::text(n)).collect::<Vec<_>>());
    let mut deep = cbor::uint(1);
    for _ in 0..32 {
        deep = list(&[deep]);
    }
    let one = |op: Vec<u8>| raw_event(cbor::uint(1), &[op]);
    let rows: Vec<InvalidRow<Vec<u8>>> = vec![
        (
            "DB-8",
            &["MALFORMED"],
            "clock 0",
            raw_event(cbor::uint(0), std::slice::from_ref(&good_op)),
            E::DbMalformed,
        ),
        (
            "DB-8",
            &["MALFORMED"],
            "clock 2^53",
            raw_event(cbor::uint(1 << 53), std::slice::from_ref(&good_op)),
            E::DbMalformed,
        ),
        (
            "DB-1",
            &["MALFORMED"],
            "no ops",
            raw_event(cbor::uint(1), &[]),
            E::DbMalformed,
        ),
        (
            "DB-1",
            &["MALFORMED"],
            "1025 ops",
            raw_event(cbor::uint(1), &vec![good_op.clone(); 1025]),
            E::DbMalformed,
        ),
        (
            "DB-1",
            &["MALFORMED"],
            "an unknown key",
            cmap(&[
                ("type", cbor::text("db")),
                ("clock", cbor::uint(1)),
                ("ops", list(std::slice::from_ref(&good_op))),
                ("v", cbor::uint(1)),
            ]),
            E::DbMalformed,
        ),
        (
            "DB-1",
            &["MALFORMED"],
            "no clock",
            cmap(&[
                ("type", cbor::text("db")),
                ("ops", list(std::slice::from_ref(&good_op))),
            ]),
            E::DbMalformed,
        ),
        (
            "DB-2",
            &["MALFORMED"],
            "an unknown op",
            one(raw_op("drop", &[("key", cbor::text("k"))])),
            E::DbMalformed,
        ),
        (
            "DB-2",
            &["MALFORMED"],
            "an op with an extra key",
            one(raw_op(
                "del",
                &[("key", cbor::text("k")), ("coll", cbor::text("c"))],
            )),
            E::DbMalformed,
        ),
        (
            "DB-4",
            &["MALFORMED", "BOUNDARY"],
            "integer 2^53",
            one(raw_put(cbor::uint(1 << 53))),
            E::DbMalformed,
        ),
        (
            "DB-4",
            &["MALFORMED", "BOUNDARY"],
            "integer −2^53",
            one(raw_put(negative(1 << 53))),
            E::DbMalformed,
        ),
        (
            "DB-4",
            &["MALFORMED"],
            "a link is not a value",
            one(raw_put(cbor::link(&cid_of(b"x")))),
            E::DbMalformed,
        ),
        (
            "DB-4",
            &["MALFORMED", "BOUNDARY"],
            "a value nested 33 deep",
            one(raw_put(deep)),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED"],
            "a collection name with a capital",
            one(name_op("Cats")),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED", "BOUNDARY"],
            "a 65-byte collection name",
            one(name_op(&"a".repeat(65))),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED"],
            "a document ID starting with _",
            one(id_op("_x")),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED", "BOUNDARY"],
            "a 129-byte document ID",
            one(id_op(&"i".repeat(129))),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED"],
            "an empty key",
            one(raw_op("del", &[("key", cbor::text(""))])),
            E::DbMalformed,
        ),
        (
            "DB-10",
            &["MALFORMED", "PATCH"],
            "a field both set and unset",
            one(patch(cmap(&[("a", vec![cbor::NULL])]), &["a"])),
            E::DbMalformed,
        ),
        (
            "DB-10",
            &["MALFORMED", "PATCH"],
            "unset out of order",
            one(patch(cmap(&[]), &["b", "a"])),
            E::DbMalformed,
        ),
        (
            "DB-3",
            &["MALFORMED", "PATCH"],
            "a patch setting the reserved field _id",
            one(patch(cmap(&[("_id", cbor::text("x"))]), &[])),
            E::DbMalformed,
        ),
        (
            "DB-6",
            &["MALFORMED"],
            "schema types out of rank order",
            one(schema(
                cmap(&[("a", kinds(&["string", "integer"]))]),
                &[],
                &[],
            )),
            E::DbMalformed,
        ),
        (
            "DB-6",
            &["MALFORMED"],
            "an unknown schema type",
            one(schema(cmap(&[("a", kinds(&["number"]))]), &[], &[])),
            E::DbMalformed,
        ),
        (
            "DB-6",
            &["MALFORMED"],
            "a required field not listed",
            one(schema(cmap(&[]), &["a"], &[])),
            E::DbMalformed,
        ),
        (
            "DB-6",
            &["MALFORMED"],
            "an index listed twice",
            one(schema(cmap(&[]), &[], &["a", "a"])),
            E::DbMalformed,
        ),
        (
            "DB-4",
            &["MALFORMED"],
            "a document that is not a map",
            one(raw_op(
                "create",
                &[
                    ("coll", cbor::text("c")),
                    ("id", cbor::text("i")),
                    ("doc", list(&[])),
                ],
            )),
            E::DbMalformed,
        ),
    ];
    s.invalid_cases(rows, |bytes| json!({"body": hex::encode(bytes)}));
}

// ---- fold ----

/// Builds events of the given logs with fresh record CIDs.
struct Events<'a> {
    logs: &'a [LogId],
    rng: ChaCha20Rng,
}

impl Events<'_> {
    fn event(&mut self, log: usize, seq: u64, body: Vec<u8>) -> Json {
        let mut nonce = [0u8; 32];
        self.rng.fill_bytes(&mut nonce);
        json!({
            "record": cid_of(&nonce).to_string(),
            "log": self.logs[log].to_string(),
            "seq": seq,
            "body": hex::encode(body),
        })
    }
}

fn events(list: &[&Json]) -> Json {
    json!({"events": list})
}

fn fold(s: &mut SuiteBuilder, logs: &[LogId]) {
    s.group("DbFold", "db.fold", json!({}));
    let mut e = Events {
        logs,
        rng: s.rng("fold"),
    };
    s.case(
        "DB-15",
        &["NORMAL"],
        "no events: the empty view",
        events(&[]),
        Intent::Valid,
    );
    let worked = e.event(0, 1, body(1, vec![put("k", 1)]));
    s.case(
        "DB-15",
        &["NORMAL"],
        "the worked example: one put",
        events(&[&worked]),
        Intent::Valid,
    );

    let outcomes = e.event(
        0,
        1,
        body(
            1,
            vec![
                create("a", doc(&[])),
                declare(&[]),
                declare(&[]),
                create("a", doc(&[("n", int(1))])),
                create("a", doc(&[("n", int(2))])),
                create("b", doc(&[("n", Value::from("x"))])),
                save("a", doc(&[("n", Value::Null)]), &[]),
                save("z", doc(&[]), &[]),
                delete("z"),
                Op::Del { key: "k".into() },
                put("k", 5),
            ],
        ),
    );
    s.case(
        "DB-12",
        &["OUTCOME"],
        "every refusal of DB-12 in one event, each recorded, the rest applied",
        events(&[&outcomes]),
        Intent::Valid,
    );

    let bad = e.event(1, 1, cmap(&[("type", cbor::text("db"))]));
    let opaque = e.event(2, 1, b"hello".to_vec());
    let good = e.event(3, 1, body(1, vec![put("k", 1)]));
    s.case(
        "DB-14",
        &["MALFORMED", "NOT_DATABASE"],
        "a malformed event is recorded with op null; an opaque body leaves no trace",
        events(&[&bad, &opaque, &good]),
        Intent::Valid,
    );
    s.case(
        "DB-11",
        &["DUPLICATE"],
        "the same records, one delivered three times",
        events(&[&good, &bad, &good, &good]),
        Intent::Valid,
    );

    let setup = e.event(
        0,
        1,
        body(
            1,
            vec![
                declare(&["n"]),
                create("a", doc(&[("n", int(0)), ("l", Value::List(vec![int(1)]))])),
            ],
        ),
    );
    let save_x = e.event(
        1,
        1,
        body(
            2,
            vec![save("a", doc(&[("n", int(2)), ("x", int(1))]), &[])],
        ),
    );
    let save_y = e.event(
        2,
        1,
        body(
            2,
            vec![save(
                "a",
                doc(&[
                    ("n", int(3)),
                    ("y", Value::Null),
                    ("l", Value::List(vec![int(2)])),
                ]),
                &["x"],
            )],
        ),
    );
    for (comment, order) in [
        (
            "concurrent saves at one clock: the log IDs order them",
            [&setup, &save_x, &save_y],
        ),
        (
            "the same saves arriving the other way round",
            [&save_y, &save_x, &setup],
        ),
        (
            "the same saves arriving before the create",
            [&save_x, &save_y, &setup],
        ),
    ] {
        s.case(
            "DB-9",
            &["ARRIVAL_ORDER", "PATCH"],
            comment,
            events(&order),
            Intent::Valid,
        );
    }
    let del = e.event(3, 1, body(2, vec![delete("a")]));
    for (comment, order) in [
        (
            "a delete racing a save at one clock",
            [&setup, &save_x, &del],
        ),
        ("the race, delete first to arrive", [&del, &setup, &save_x]),
        ("the race, save last to arrive", [&setup, &del, &save_x]),
    ] {
        s.case(
            "DB-12",
            &["ARRIVAL_ORDER", "OUTCOME"],
            comment,
            events(&order),
            Intent::Valid,
        );
    }
    let late = e.event(1, 2, body(3, vec![save("a", doc(&[("z", int(1))]), &[])]));
    let recreate = e.event(2, 2, body(4, vec![create("a", doc(&[("n", int(9))]))]));
    s.case(
        "DB-12",
        &["OUTCOME"],
        "a save after the delete makes nothing; a create makes the document anew",
        events(&[&setup, &del, &late, &recreate]),
        Intent::Valid,
    );
    let bad_save = e.event(
        1,
        2,
        body(
            3,
            vec![save("a", doc(&[("n", Value::from("nine"))]), &["l"])],
        ),
    );
    s.case(
        "DB-7",
        &["OUTCOME", "PATCH"],
        "a save failing the schema leaves the document as it was",
        events(&[&bad_save, &setup]),
        Intent::Valid,
    );

    let mut many = vec![e.event(0, 1, body(1, vec![declare(&["n"])]))];
    for i in 0..40u64 {
        let id = format!("d{}", i % 5);
        let op = match i % 3 {
            0 => create(&id, doc(&[("n", int(i as i64))])),
            1 => save(&id, doc(&[("n", int(-(i as i64)))]), &["m"]),
            _ => delete(&id),
        };
        let writer = (i % 4) as usize;
        many.push(e.event(
            writer,
            2 + i / 4,
            body(2 + i / 3, vec![op, put(&format!("k{}", i % 3), i as i64)]),
        ));
    }
    let mut shuffle = s.rng("fold-shuffle");
    for round in 0..3 {
        let mut order: Vec<&Json> = many.iter().collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (shuffle.next_u64() % (i as u64 + 1)) as usize);
        }
        if round > 0 {
            order.push(order[round]);
        }
        let comment = format!("41 events of four writers, arrival order {}", round + 1);
        s.case(
            "DB-11",
            &["ARRIVAL_ORDER", "DUPLICATE"],
            &comment,
            events(&order),
            Intent::Valid,
        );
    }
}

// ---- queries ----

fn q_value(v: &Json) -> Vec<u8> {
    match v {
        Json::Null => vec![cbor::NULL],
        Json::String(t) => cbor::text(t),
        Json::Number(n) => match n.as_i64() {
            Some(i) if i < 0 => negative(i.unsigned_abs()),
            Some(i) => cbor::uint(i as u64),
            None => vec![cbor::NULL],
        },
        _ => vec![cbor::NULL],
    }
}

fn cmp(field: &str, op: &str, v: Json) -> Vec<u8> {
    cmap(&[
        ("field", cbor::text(field)),
        ("op", cbor::text(op)),
        ("value", q_value(&v)),
    ])
}

/// A query document: `coll` "c" plus the given keys.
fn q(fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![("coll", cbor::text("c"))];
    entries.extend(fields.iter().cloned());
    cmap(&entries)
}

fn sort(keys: &[(&str, bool)]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = keys
        .iter()
        .map(|(f, desc)| {
            cmap(&[
                ("field", cbor::text(f)),
                ("desc", vec![if *desc { 0xf5 } else { 0xf4 }]),
            ])
        })
        .collect();
    list(&items)
}

fn query(s: &mut SuiteBuilder, logs: &[LogId]) {
    let mut e = Events {
        logs,
        rng: s.rng("query"),
    };
    let people = [
        ("a", doc(&[("n", int(10)), ("s", Value::from("x"))])),
        ("b", doc(&[("n", int(9))])),
        ("c", doc(&[("s", Value::from("y"))])),
        ("d", doc(&[("n", int(9)), ("s", Value::Null)])),
        ("e", doc(&[("n", int(-3)), ("s", Value::Bytes(vec![1]))])),
        ("f", doc(&[("s", Value::Bool(true))])),
        ("g", doc(&[("s", Value::List(vec![]))])),
        ("h", doc(&[("s", Value::Map(BTreeMap::new()))])),
        ("i", doc(&[("s", int(100))])),
    ];
    let mut ops = vec![declare(&["n", "s"])];
    ops.extend(people.into_iter().map(|(id, d)| create(id, d)));
    let state = e.event(0, 1, body(1, ops));
    s.group("DbQuery", "db.query", events(&[&state]));
    let and = |items: Vec<Vec<u8>>| cmap(&[("and", list(&items))]);
    let or = |items: Vec<Vec<u8>>| cmap(&[("or", list(&items))]);
    let valid: Vec<(&str, &[&str], &str, Vec<u8>)> = vec![
        (
            "DB-18",
            &["NORMAL"],
            "no filter, no sort: every document by ID",
            q(&[]),
        ),
        (
            "DB-16",
            &["TYPE_ORDER"],
            "sort by a field of every kind, ascending: missing first",
            q(&[("sort", sort(&[("s", false)]))]),
        ),
        (
            "DB-16",
            &["TYPE_ORDER"],
            "sort by a field of every kind, descending: missing last",
            q(&[("sort", sort(&[("s", true)]))]),
        ),
        (
            "DB-18",
            &["TYPE_ORDER", "STABLE_ORDER"],
            "integers numerically (10 before 9 descending), ties by ID",
            q(&[("sort", sort(&[("n", true)])), ("limit", cbor::uint(4))]),
        ),
        (
            "DB-18",
            &["STABLE_ORDER"],
            "sorted before skip and limit",
            q(&[
                ("sort", sort(&[("n", true)])),
                ("skip", cbor::uint(1)),
                ("limit", cbor::uint(2)),
            ]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "sort by _id descending",
            q(&[("sort", sort(&[("_id", true)]))]),
        ),
        (
            "DB-18",
            &["TYPE_ORDER"],
            "lt matches integers only",
            q(&[("filter", cmp("n", "lt", json!(10)))]),
        ),
        (
            "DB-18",
            &["TYPE_ORDER"],
            "gt \"\" matches strings only",
            q(&[("filter", cmp("s", "gt", json!("")))]),
        ),
        (
            "DB-18",
            &["TYPE_ORDER"],
            "lte 1000 on a field of many kinds",
            q(&[("filter", cmp("s", "lte", json!(1000)))]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "eq null matches an explicit null only",
            q(&[("filter", cmp("s", "eq", json!(null)))]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "ne does not match a missing field",
            q(&[("filter", cmp("n", "ne", json!(9)))]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "a comparison on _id",
            q(&[("filter", cmp("_id", "gte", json!("g")))]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "or",
            q(&[(
                "filter",
                or(vec![cmp("n", "eq", json!(10)), cmp("s", "eq", json!("y"))]),
            )]),
        ),
        (
            "DB-18",
            &["NORMAL"],
            "and, sorted by two keys",
            q(&[
                (
                    "filter",
                    and(vec![cmp("n", "gte", json!(-3)), cmp("n", "lt", json!(10))]),
                ),
                ("sort", sort(&[("n", false), ("s", true)])),
            ]),
        ),
    ];
    for (section, flags, comment, bytes) in valid {
        s.case(
            section,
            flags,
            comment,
            json!({"query": hex::encode(bytes)}),
            Intent::Valid,
        );
    }
    // {"coll": "c", "limit": 1} written limit first: not the canonical key order.
    let unsorted = [
        cbor::head(5, 2),
        cbor::text("limit"),
        cbor::uint(1),
        cbor::text("coll"),
        cbor::text("c"),
    ]
    .concat();
    let rows: Vec<InvalidRow<Vec<u8>>> = vec![
        (
            "DB-17",
            &["INVALID_QUERY"],
            "an empty or",
            q(&[("filter", or(vec![]))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY"],
            "an unknown comparison",
            q(&[("filter", cmp("n", "like", json!(1)))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY"],
            "a reserved field other than _id",
            q(&[("filter", cmp("_n", "eq", json!(1)))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY", "BOUNDARY"],
            "limit 2^53",
            q(&[("limit", cbor::uint(1 << 53))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY"],
            "an unknown key",
            q(&[("offset", cbor::uint(1))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY"],
            "keys out of canonical order",
            unsorted,
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["INVALID_QUERY"],
            "a sort key without desc",
            q(&[("sort", list(&[cmap(&[("field", cbor::text("n"))])]))]),
            E::DbQueryInvalid,
        ),
        (
            "DB-17",
            &["NORMAL"],
            "a collection not declared",
            cmap(&[("coll", cbor::text("nope"))]),
            E::DbUnknownCollection,
        ),
    ];
    s.invalid_cases(rows, |bytes| json!({"query": hex::encode(bytes)}));
}

// ---- snapshots ----

/// A history of `n` events by three writers, in order of their keys' clocks: puts, documents
/// created, saved and deleted, with refusals [DB-12].
fn history(e: &mut Events, n: u64) -> Vec<Json> {
    let mut out = vec![e.event(0, 1, body(1, vec![declare(&["n"])]))];
    let mut seqs = [1u64, 0, 0];
    for i in 0..n - 1 {
        let writer = (i % 3) as usize;
        seqs[writer] += 1;
        let id = format!("d{}", i % 9);
        let op = match i % 5 {
            0 => create(&id, doc(&[("n", int(i as i64))])),
            1 => save(&id, doc(&[("n", int(-(i as i64)))]), &[]),
            2 => delete(&id),
            _ => put(&format!("k{}", i % 13), i as i64),
        };
        out.push(e.event(writer, seqs[writer], body(2 + i / 3, vec![op])));
    }
    out
}

/// The record a JSON event stands for.
fn record_of(event: &Json) -> DbRecord {
    let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
    DbRecord {
        cid: text("record").parse().expect("the generator's CIDs parse"),
        log: text("log").parse().expect("the generator's log IDs parse"),
        seq: event["seq"].as_u64().unwrap_or_default(),
        body: hex::decode(text("body")).unwrap_or_default(),
    }
}

fn latest_snapshot(list: &[Json]) -> Snapshot {
    let records: Vec<DbRecord> = list.iter().map(record_of).collect();
    DbView::from_records(&records)
        .snapshot()
        .expect("at least 256 events")
}

fn key_above(event: &Json, snapshot: &Snapshot) -> bool {
    record_of(event)
        .order_key()
        .is_some_and(|key| key > *snapshot.last())
}

fn shuffled(list: &[Json], rng: &mut ChaCha20Rng) -> Vec<Json> {
    let mut order = list.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

fn snapshots(s: &mut SuiteBuilder, logs: &[LogId]) {
    let mut e = Events {
        logs,
        rng: s.rng("snapshot"),
    };
    let mut rng = s.rng("snapshot-shuffle");
    let every = SNAPSHOT_EVERY as u64;
    let base = history(&mut e, every + 40);
    let bad = e.event(3, 1, cmap(&[("type", cbor::text("db"))]));
    let opaque = e.event(3, 2, b"not a database event".to_vec());
    let late = e.event(3, 3, body(2, vec![put("late", 1)]));

    s.group("DbSnapshot", "db.snapshot", json!({}));
    let cases: Vec<(&str, &[&str], &str, Vec<Json>)> = vec![
        (
            "DB-19",
            &["SNAPSHOT", "BOUNDARY"],
            "255 events: no snapshot yet",
            base[..SNAPSHOT_EVERY - 1].to_vec(),
        ),
        (
            "DB-19",
            &["SNAPSHOT", "BOUNDARY"],
            "exactly 256 events: one snapshot of them all",
            base[..SNAPSHOT_EVERY].to_vec(),
        ),
        (
            "DB-20",
            &["SNAPSHOT", "NORMAL"],
            "296 events of three writers with refusals, in order: the first 256 events",
            base.clone(),
        ),
        (
            "DB-21",
            &["SNAPSHOT", "ARRIVAL_ORDER"],
            "the same 296 events in another arrival order: the same snapshot",
            shuffled(&base, &mut rng),
        ),
        (
            "DB-20",
            &["SNAPSHOT", "MALFORMED", "NOT_DATABASE"],
            "a malformed event and an opaque body are not counted and not in the snapshot view",
            [vec![bad.clone(), opaque.clone()], shuffled(&base, &mut rng)].concat(),
        ),
        (
            "DB-22",
            &["SNAPSHOT", "ARRIVAL_ORDER"],
            "a late event at clock 2 moves every later event one place: another snapshot",
            [base.clone(), vec![late.clone()]].concat(),
        ),
    ];
    for (section, flags, comment, list) in cases {
        s.case(section, flags, comment, events_owned(&list), Intent::Valid);
    }
    let long = history(&mut e, 2 * every + 30);
    s.case(
        "DB-19",
        &["SNAPSHOT", "ARRIVAL_ORDER"],
        "541 events in a shuffled order: two snapshots",
        events_owned(&shuffled(&long, &mut rng)),
        Intent::Valid,
    );

    s.group("DbResume", "db.resume", json!({}));
    let snapshot = latest_snapshot(&base);
    let after: Vec<Json> = base
        .iter()
        .filter(|ev| key_above(ev, &snapshot))
        .cloned()
        .collect();
    let resume = |snap: &Snapshot, view: &[u8], list: &[Json]| {
        json!({
            "snapshot": hex::encode(snap.to_bytes()),
            "view": hex::encode(view),
            "events": list,
        })
    };
    let view = snapshot.view().to_vec();
    let valid: Vec<(&str, &[&str], &str, Vec<Json>)> = vec![
        (
            "DB-23",
            &["NORMAL"],
            "a restart: the snapshot and every event held, shuffled; the view of them all",
            shuffled(&base, &mut rng),
        ),
        (
            "DB-26",
            &["COMPACTED"],
            "a compacted view: the snapshot and only the events after its last key",
            after.clone(),
        ),
        (
            "DB-26",
            &["COMPACTED", "DUPLICATE"],
            "compacted, offered covered events again: they change nothing",
            [after.clone(), base[..5].to_vec()].concat(),
        ),
        (
            "DB-23",
            &["MALFORMED", "NOT_DATABASE"],
            "a restart with a malformed event and an opaque body: recorded for the whole set",
            [vec![bad.clone(), opaque.clone()], base.clone()].concat(),
        ),
    ];
    for (section, flags, comment, list) in valid {
        s.case(
            section,
            flags,
            comment,
            resume(&snapshot, &view, &list),
            Intent::Valid,
        );
    }
    let mut tampered = view.clone();
    if let Some(byte) = tampered.last_mut() {
        *byte ^= 1;
    }
    let other = latest_snapshot(&long);
    let mut non_canonical = snapshot.to_bytes();
    // `count` 256 is 19 01 00; written as 1a 00 00 01 00 it decodes to the same map.
    let at = non_canonical
        .windows(9)
        .position(|w| w == [0x65, b'c', b'o', b'u', b'n', b't', 0x19, 0x01, 0x00])
        .map_or(0, |i| i + 6);
    non_canonical.splice(at..at + 3, [0x1a, 0, 0, 1, 0]);
    let rows: Vec<InvalidRow<Json>> = vec![
        (
            "DB-24",
            &["INVALID_SNAPSHOT"],
            "the view bytes are not the view the snapshot links",
            resume(&snapshot, &tampered, &base),
            E::DbSnapshotInvalid,
        ),
        (
            "DB-24",
            &["INVALID_SNAPSHOT"],
            "the view of another snapshot",
            resume(&snapshot, other.view(), &base),
            E::DbSnapshotInvalid,
        ),
        (
            "DB-20",
            &["INVALID_SNAPSHOT"],
            "a snapshot block that is not canonical (count in five bytes)",
            json!({
                "snapshot": hex::encode(&non_canonical),
                "view": hex::encode(&view),
                "events": base,
            }),
            E::DbSnapshotInvalid,
        ),
        (
            "DB-24",
            &["INVALID_SNAPSHOT"],
            "every covered event and one more sorting before the last key: the snapshot is stale",
            resume(
                &snapshot,
                &view,
                &[base.clone(), vec![late.clone()]].concat(),
            ),
            E::DbSnapshotInvalid,
        ),
        (
            "DB-24",
            &["INVALID_SNAPSHOT"],
            "the events of another history: not the ones the snapshot covers",
            resume(
                &other,
                other.view(),
                &[long[..2 * SNAPSHOT_EVERY - 1].to_vec(), base[..1].to_vec()].concat(),
            ),
            E::DbSnapshotInvalid,
        ),
        (
            "DB-27",
            &["COMPACTED"],
            "compacted, then an event that sorts before the last key and is not covered",
            resume(
                &snapshot,
                &view,
                &[after.clone(), vec![late.clone()]].concat(),
            ),
            E::DbCompacted,
        ),
    ];
    s.invalid_cases(rows, |inputs| inputs);
}

fn events_owned(list: &[Json]) -> Json {
    json!({"events": list})
}
