//! Tests of the database: every outcome of the fold [DB-12], order independence [DB-11], the
//! view encoding [DB-15], queries [DB-16] to [DB-18], and the dispatcher over real peers [DB-13].

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use super::fold::State;
use super::*;
use crate::block;
use crate::error::ErrorCode;
use crate::id::{LogId, Variant};
use crate::invite::InviteRole;
use crate::keys::IdentityKey;
use crate::sync::{Destination, Net};

fn log(seed: u8) -> LogId {
    IdentityKey::from_seed(&[seed; 32]).log_id()
}

/// A record of `log`'s at `seq` carrying one event; its CID is derived from all three.
fn rec(log_seed: u8, seq: u64, clock: u64, ops: Vec<Op>) -> DbRecord {
    let body = DbEvent::new(clock, ops).expect("valid event").to_bytes();
    raw(log_seed, seq, body)
}

fn raw(log_seed: u8, seq: u64, body: Vec<u8>) -> DbRecord {
    let mut id = vec![log_seed];
    id.extend(seq.to_be_bytes());
    id.extend(&body);
    DbRecord {
        cid: block::cid_of(&id),
        log: log(log_seed),
        seq,
        body,
    }
}

fn doc(entries: &[(&str, Value)]) -> Document {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn int(n: i64) -> Value {
    Value::Integer(n)
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
    Op::Save {
        coll: "c".into(),
        id: id.into(),
        patch: Patch {
            set,
            unset: unset.iter().map(|s| s.to_string()).collect(),
        },
    }
}

fn delete(id: &str) -> Op {
    Op::Delete {
        coll: "c".into(),
        id: id.into(),
    }
}

fn codes(view: &DbView) -> Vec<(Option<u32>, ErrorCode)> {
    view.rejected()
        .into_iter()
        .map(|((_, op), c)| (op, c))
        .collect()
}

fn docs_of(view: &DbView) -> BTreeMap<String, Document> {
    view.collection("c").expect("declared").docs().clone()
}

#[test]
fn the_empty_view_has_this_exact_encoding() {
    let expected = [
        0xa3, 0x62, b'k', b'v', 0xa0, // "kv": {}
        0x68, b'r', b'e', b'j', b'e', b'c', b't', b'e', b'd', 0x80, // "rejected": []
        0x6b, b'c', b'o', b'l', b'l', b'e', b'c', b't', b'i', b'o', b'n', b's', 0xa0,
    ];
    assert_eq!(DbView::new().to_bytes(), expected);
    assert_eq!(DbView::new().cid(), block::cid_of(&expected));
    // The spec's worked example (8.10): after one put of "k" = 1, "kv" is a1 61 6b 01.
    let put = rec(
        1,
        1,
        1,
        vec![Op::Put {
            key: "k".into(),
            value: int(1),
        }],
    );
    let mut with_k = expected.to_vec();
    with_k.splice(4..5, [0xa1, 0x61, b'k', 0x01]);
    assert_eq!(DbView::from_records([&put]).to_bytes(), with_k);
}

#[test]
fn values_beyond_the_json_safe_range_are_refused_before_appending() {
    let (thread, mut peers) = writers(2, 20);
    let mut db = Database::new(thread.clone());
    let before = peers[0].read(&thread).expect("read").len();
    let mut kv = db.kv(&mut peers[0], 1);
    assert!(kv.put("max", &MAX_SAFE_INTEGER).is_ok());
    assert_eq!(
        kv.put("big", &(1u64 << 53)).map_err(|e| e.code),
        Err(ErrorCode::DbMalformed)
    );
    assert_eq!(
        kv.put("neg", &-(1i64 << 53)).map_err(|e| e.code),
        Err(ErrorCode::DbMalformed)
    );
    assert_eq!(
        kv.put("float", &0.5f64).map_err(|e| e.code),
        Err(ErrorCode::DbMalformed)
    );
    assert_eq!(kv.get::<i64>("max"), Ok(Some(MAX_SAFE_INTEGER)));
    assert_eq!(peers[0].read(&thread).expect("read").len(), before + 1);
}

#[test]
fn every_refusal_is_recorded_with_its_code_and_the_fold_goes_on() {
    let event = rec(
        1,
        1,
        1,
        vec![
            create("a", doc(&[])),                      // 0: unknown collection
            declare(&[]),                               // 1
            declare(&[]),                               // 2: declared twice
            create("a", doc(&[("n", int(1))])),         // 3
            create("a", doc(&[("n", int(2))])),         // 4: exists
            create("b", doc(&[("n", "x".into())])),     // 5: schema
            save("a", doc(&[("n", Value::Null)]), &[]), // 6: schema, a unchanged
            save("z", doc(&[]), &[]),                   // 7: not found, nothing made
            delete("z"),                                // 8: not found
            Op::Del { key: "k".into() },                // 9: not found
            Op::Put {
                key: "k".into(),
                value: int(5),
            }, // 10
        ],
    );
    let view = DbView::from_records([&event]);
    // Each refusal is also a stored row holding its code [DB-14].
    let rows = Reducer::rows(&view);
    for (op, code) in codes(&view) {
        let key = super::reducer::RowKey::Rejected(event.cid.to_bytes(), op).to_bytes();
        let row = block::encode(&ipld_core::ipld::Ipld::Integer(code.number().into()));
        assert_eq!(rows.get(&key), Some(&row), "op {op:?}");
        // The stored layout, which a store written by an earlier run is read back with: `r`,
        // the CID's bytes, then the op's index plus one as 8 bytes (0 is an event refused whole).
        let index = op.expect("an op's refusal");
        let mut layout = vec![b'r'];
        layout.extend_from_slice(&event.cid.to_bytes());
        layout.extend_from_slice(&(u64::from(index) + 1).to_be_bytes());
        assert_eq!(key, layout, "op {op:?}");
    }
    assert_eq!(
        codes(&view),
        vec![
            (Some(0), ErrorCode::DbUnknownCollection),
            (Some(2), ErrorCode::DbCollectionExists),
            (Some(4), ErrorCode::DbExists),
            (Some(5), ErrorCode::DbSchemaFailed),
            (Some(6), ErrorCode::DbSchemaFailed),
            (Some(7), ErrorCode::DbNotFound),
            (Some(8), ErrorCode::DbNotFound),
            (Some(9), ErrorCode::DbNotFound),
        ]
    );
    assert_eq!(
        docs_of(&view),
        BTreeMap::from([("a".into(), doc(&[("n", int(1))]))])
    );
    assert_eq!(view.kv(), &BTreeMap::from([("k".into(), int(5))]));
}

#[test]
fn a_malformed_event_is_recorded_without_an_op_and_changes_nothing_else() {
    let body = block::encode(&BTreeMap::from([("type", "db")]));
    let bad = raw(1, 1, body);
    let good = rec(
        2,
        1,
        1,
        vec![Op::Put {
            key: "k".into(),
            value: int(1),
        }],
    );
    let view = DbView::from_records([&bad, &good]);
    assert_eq!(codes(&view), vec![(None, ErrorCode::DbMalformed)]);
    assert_eq!(view.kv().len(), 1);
    // Opaque bodies are not database events and leave no trace.
    let opaque = raw(3, 1, b"hello".to_vec());
    let with_opaque = DbView::from_records([&bad, &good, &opaque]);
    assert_eq!(with_opaque.cid(), view.cid());
}

#[test]
fn a_save_to_a_deleted_document_makes_nothing_and_a_create_makes_it_anew() {
    let setup = rec(
        1,
        1,
        1,
        vec![
            declare(&[]),
            create("a", doc(&[("n", int(1)), ("x", int(1))])),
        ],
    );
    let del = rec(1, 2, 2, vec![delete("a")]);
    let late_save = rec(2, 1, 3, vec![save("a", doc(&[("y", int(1))]), &[])]);
    let recreate = rec(2, 2, 4, vec![create("a", doc(&[("n", int(9))]))]);
    let view = DbView::from_records([&setup, &del, &late_save]);
    assert!(docs_of(&view).is_empty());
    assert_eq!(codes(&view), vec![(Some(0), ErrorCode::DbNotFound)]);
    let view = DbView::from_records([&setup, &del, &late_save, &recreate]);
    assert_eq!(
        docs_of(&view)["a"],
        doc(&[("n", int(9))]),
        "nothing of the old one remains"
    );
}

#[test]
fn a_delete_racing_a_save_resolves_by_the_order_the_same_everywhere() {
    let setup = rec(
        1,
        1,
        1,
        vec![declare(&[]), create("a", doc(&[("n", int(1))]))],
    );
    // Both at clock 2: the log ID bytes decide; check both arrival orders give one answer.
    let from_2 = rec(2, 1, 2, vec![save("a", doc(&[("n", int(2))]), &[])]);
    let from_3 = rec(3, 1, 2, vec![delete("a")]);
    let ab = DbView::from_records([&setup, &from_2, &from_3]);
    let ba = DbView::from_records([&from_3, &from_2, &setup]);
    assert_eq!(ab.to_bytes(), ba.to_bytes());
    let save_first = log(2).to_bytes() < log(3).to_bytes();
    assert_eq!(
        docs_of(&ab).is_empty(),
        save_first,
        "delete last removes it"
    );
    // A higher clock always sorts later, whatever the log.
    let late_save = rec(2, 1, 3, vec![save("a", doc(&[("n", int(2))]), &[])]);
    let view = DbView::from_records([&late_save, &from_3, &setup]);
    assert!(docs_of(&view).is_empty());
    assert_eq!(codes(&view), vec![(Some(0), ErrorCode::DbNotFound)]);
}

#[test]
fn concurrent_saves_merge_field_by_field_and_the_later_wins_a_field() {
    let setup = rec(
        1,
        1,
        1,
        vec![declare(&[]), create("a", doc(&[("n", int(0))]))],
    );
    let x = rec(
        2,
        1,
        2,
        vec![save("a", doc(&[("x", int(1)), ("n", int(2))]), &[])],
    );
    let y = rec(
        3,
        1,
        2,
        vec![save("a", doc(&[("y", Value::Null), ("n", int(3))]), &["z"])],
    );
    let view = DbView::from_records([&y, &setup, &x]);
    let winner = if log(2).to_bytes() < log(3).to_bytes() {
        3
    } else {
        2
    };
    assert_eq!(
        docs_of(&view)["a"],
        doc(&[("n", int(winner)), ("x", int(1)), ("y", Value::Null)])
    );
}

#[test]
fn duplicates_count_once_and_late_arrivals_refold_past_checkpoints() {
    let mut records = vec![rec(1, 1, 1, vec![declare(&["n"])])];
    for i in 0..3 * CHECKPOINT_EVERY as u64 {
        let writer = (i % 4) as u8 + 2;
        let id = format!("d{}", i % 7);
        let op = match i % 3 {
            0 => create(&id, doc(&[("n", int(i as i64))])),
            1 => save(&id, doc(&[("n", int(-(i as i64)))]), &["m"]),
            _ => delete(&id),
        };
        let kv = Op::Put {
            key: format!("k{}", i % 5),
            value: int(i as i64),
        };
        records.push(rec(writer, i + 1, 2 + i / 3, vec![op, kv]));
    }
    let in_order = DbView::from_records(&records);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for _ in 0..5 {
        let mut shuffled = records.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let dup = shuffled[3].clone();
        shuffled.push(dup);
        let view = DbView::from_records(&shuffled);
        assert_eq!(view.to_bytes(), in_order.to_bytes());
        assert_eq!(
            view.collection("c").map(|c| c.index.clone()),
            in_order.collection("c").map(|c| c.index.clone())
        );
    }
}

#[test]
fn a_late_event_refolds_only_from_the_checkpoint_before_it() {
    let n = 4 * CHECKPOINT_EVERY as u64;
    let records: Vec<DbRecord> = (1..=n)
        .map(|i| {
            rec(
                1,
                i,
                i + 1,
                vec![Op::Put {
                    key: format!("k{i}"),
                    value: int(i as i64),
                }],
            )
        })
        .collect();
    let mut view = DbView::from_records(&records);
    assert_eq!(view.refolded(), 0, "in order: nothing applied twice");
    // Another writer's event with clock n − 2 sorts three events from the end.
    view.insert(&rec(
        2,
        1,
        n - 2,
        vec![Op::Put {
            key: "late".into(),
            value: int(0),
        }],
    ));
    assert!(
        view.refolded() <= CHECKPOINT_EVERY as u64 + 3,
        "refolded {}",
        view.refolded()
    );
    let mut all = records.clone();
    all.push(rec(
        2,
        1,
        n - 2,
        vec![Op::Put {
            key: "late".into(),
            value: int(0),
        }],
    ));
    assert_eq!(
        view.to_bytes(),
        DbView::from_records(all.iter().rev()).to_bytes()
    );
}

// ---- queries ----

fn people() -> DbView {
    let docs = [
        ("a", doc(&[("n", int(10)), ("s", "x".into())])),
        ("b", doc(&[("n", int(9))])),
        ("c", doc(&[("s", "y".into())])),
        ("d", doc(&[("n", int(9)), ("s", Value::Null)])),
        ("e", doc(&[("n", int(-3)), ("s", Value::Bytes(vec![1]))])),
        ("f", doc(&[("s", Value::Bool(true))])),
        ("g", doc(&[("s", Value::List(vec![]))])),
        ("h", doc(&[("s", Value::Map(BTreeMap::new()))])),
        ("i", doc(&[("s", int(100))])),
    ];
    let mut ops = vec![declare(&["n", "s"])];
    ops.extend(docs.into_iter().map(|(id, d)| create(id, d)));
    DbView::from_records([&rec(1, 1, 1, ops)])
}

fn ids(view: &DbView, q: Query) -> Vec<String> {
    q.run(view.collection("c").expect("c"))
        .docs
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn mixed_kinds_sort_by_rank_missing_fields_first_and_ids_break_ties() {
    let view = people();
    let asc = ids(&view, Query::all("c").sort("s", false));
    // Missing (b), null (d), bool (f), integer (i), string (a "x", c "y"), bytes (e), list, map.
    assert_eq!(asc, ["b", "d", "f", "i", "a", "c", "e", "g", "h"]);
    let desc = ids(&view, Query::all("c").sort("s", true));
    assert_eq!(desc, ["h", "g", "e", "c", "a", "i", "f", "d", "b"]);
    // Numerically, not textually (go-threads sorted 10 before 9); ties by ID.
    let by_n = ids(&view, Query::all("c").sort("n", true).limit(4));
    assert_eq!(by_n, ["a", "b", "d", "e"]);
    let paged = ids(&view, Query::all("c").sort("n", true).skip(1).limit(2));
    assert_eq!(paged, ["b", "d"], "sorted before skip and limit");
}

#[test]
fn comparisons_are_type_bracketed_and_missing_fields_match_nothing() {
    let view = people();
    let q = |f: Filter| ids(&view, Query::all("c").filter(f));
    assert_eq!(q(Filter::cmp("n", Cmp::Lt, 10)), ["b", "d", "e"]);
    assert_eq!(q(Filter::cmp("n", Cmp::Gte, 10)), ["a"]);
    assert_eq!(q(Filter::cmp("s", Cmp::Gt, "")), ["a", "c"], "strings only");
    assert_eq!(q(Filter::cmp("s", Cmp::Lte, 1000)), ["i"]);
    assert_eq!(q(Filter::eq("s", Value::Null)), ["d"]);
    assert_eq!(
        q(Filter::cmp("n", Cmp::Ne, 9)),
        ["a", "e"],
        "not c, f, g, h, i: no n"
    );
    assert_eq!(q(Filter::cmp("_id", Cmp::Gt, "g")), ["h", "i"]);
    let either = Filter::Or(vec![Filter::eq("n", 10), Filter::eq("s", "y")]);
    assert_eq!(q(either), ["a", "c"]);
    let both = Filter::And(vec![Filter::eq("n", 9), Filter::eq("s", Value::Null)]);
    assert_eq!(q(both), ["d"]);
}

/// Checks [DB-18] where no index narrows the documents examined, so matching alone decides:
/// `lt`, `lte`, `gt` and `gte` match only values of the filter value's kind, on the right side
/// of it. The same queries over the indexed collection give the same results.
#[test]
fn db_18_ordering_comparisons_match_only_their_kind_on_a_scan() {
    let view = people();
    let indexed = view.collection("c").expect("c");
    let mut scanned = indexed.clone();
    scanned.index.clear();
    let cases = [
        (Filter::cmp("n", Cmp::Lt, 9), vec!["e"]),
        (Filter::cmp("n", Cmp::Lte, 9), vec!["b", "d", "e"]),
        (Filter::cmp("n", Cmp::Gt, 9), vec!["a"]),
        (Filter::cmp("n", Cmp::Gte, 9), vec!["a", "b", "d"]),
        (Filter::cmp("s", Cmp::Lt, "y"), vec!["a"]),
        (Filter::cmp("s", Cmp::Lte, 1000), vec!["i"]),
        (Filter::cmp("s", Cmp::Gt, 0), vec!["i"]),
        (Filter::cmp("s", Cmp::Gte, "x"), vec!["a", "c"]),
    ];
    for (filter, expected) in cases {
        let query = Query::all("c").filter(filter.clone());
        for collection in [&scanned, indexed] {
            let found: Vec<String> = query
                .run(collection)
                .docs
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            assert_eq!(found, expected, "{filter:?}");
        }
    }
}

#[test]
fn an_indexed_query_examines_only_its_range_and_agrees_with_a_scan() {
    let view = people();
    let coll = view.collection("c").expect("c");
    let mut unindexed = coll.clone();
    unindexed.index.clear();
    for filter in [
        Filter::eq("n", 9),
        Filter::cmp("n", Cmp::Lt, 10),
        Filter::cmp("n", Cmp::Gt, -3),
        Filter::cmp("s", Cmp::Gte, "x"),
        Filter::And(vec![
            Filter::cmp("n", Cmp::Lte, 9),
            Filter::eq("s", Value::Null),
        ]),
    ] {
        let q = Query::all("c").filter(filter.clone()).sort("n", false);
        let fast = q.run(coll);
        let slow = q.run(&unindexed);
        assert_eq!(fast.docs, slow.docs, "{filter:?}");
        assert_eq!(slow.examined, 9);
        assert!(fast.examined <= 3, "{filter:?} examined {}", fast.examined);
    }
}

/// 8.9 with [DB-18]: an index holds the current value of each document only. A document saved
/// many times, and one deleted, leave no entry behind: the index does not grow with the history,
/// and a query over a range no current document is in examines nothing.
#[test]
fn an_index_holds_only_current_values() {
    let mut ops = vec![
        declare(&["n"]),
        create("x", doc(&[("n", int(0))])),
        create("y", doc(&[("n", int(500))])),
    ];
    ops.extend((1..=99).map(|i| save("x", doc(&[("n", int(100 + i))]), &[])));
    ops.push(delete("y"));
    let view = DbView::from_records([&rec(1, 1, 1, ops)]);
    let coll = view.collection("c").expect("c");
    let entries: Vec<&Value> = coll.index["n"].keys().collect();
    assert_eq!(entries, [&int(199)], "one entry: x's current value");
    let result = Query::all("c")
        .filter(Filter::cmp("n", Cmp::Lt, 150))
        .run(coll);
    assert!(result.docs.is_empty());
    assert_eq!(result.examined, 0, "no current document is in the range");
}

#[test]
fn query_documents_decode_strictly() {
    let q = Query::all("c")
        .filter(Filter::And(vec![
            Filter::eq("n", 1),
            Filter::cmp("_id", Cmp::Ne, "x"),
        ]))
        .sort("n", true)
        .skip(1)
        .limit(2);
    let node = |entries: Vec<(&str, ipld_core::ipld::Ipld)>| {
        ipld_core::ipld::Ipld::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    use ipld_core::ipld::Ipld as I;
    let cmp = |f: &str, op: &str, v: I| {
        node(vec![
            ("field", I::String(f.into())),
            ("op", I::String(op.into())),
            ("value", v),
        ])
    };
    let good = node(vec![
        ("coll", I::String("c".into())),
        (
            "filter",
            node(vec![(
                "and",
                I::List(vec![
                    cmp("n", "eq", I::Integer(1)),
                    cmp("_id", "ne", I::String("x".into())),
                ]),
            )]),
        ),
        (
            "sort",
            I::List(vec![node(vec![
                ("field", I::String("n".into())),
                ("desc", I::Bool(true)),
            ])]),
        ),
        ("skip", I::Integer(1)),
        ("limit", I::Integer(2)),
    ]);
    assert_eq!(Query::from_bytes(&block::encode(&good)), Ok(q));
    let bad = [
        node(vec![
            ("coll", I::String("c".into())),
            ("filter", node(vec![("or", I::List(vec![]))])),
        ]),
        node(vec![
            ("coll", I::String("c".into())),
            ("filter", cmp("n", "like", I::Null)),
        ]),
        node(vec![
            ("coll", I::String("c".into())),
            ("filter", cmp("_x", "eq", I::Null)),
        ]),
        node(vec![
            ("coll", I::String("c".into())),
            ("limit", I::Integer(1 << 53)),
        ]),
        node(vec![("coll", I::String("c".into())), ("extra", I::Null)]),
        node(vec![
            ("coll", I::String("c".into())),
            ("filter", cmp("n", "eq", I::Float(1.0))),
        ]),
    ];
    for b in bad {
        let err = Query::from_bytes(&block::encode(&b)).expect_err("invalid");
        assert_eq!(err.code, ErrorCode::DbQueryInvalid, "{b:?}");
    }
    let mut deep = cmp("n", "eq", I::Null);
    for _ in 0..MAX_FILTER_DEPTH {
        deep = node(vec![("and", I::List(vec![deep]))]);
    }
    let deep = node(vec![("coll", I::String("c".into())), ("filter", deep)]);
    assert_eq!(
        Query::from_bytes(&block::encode(&deep)).map_err(|e| e.code),
        Err(ErrorCode::DbQueryInvalid)
    );
}

/// Checks [DB-17]: filters nest at most 16 deep, the top filter at depth 1. A comparison under
/// 15 `and`/`or` levels (at depth 16) is a query; under 16 it is DB_QUERY_INVALID.
#[test]
fn db_17_filters_nest_up_to_max_filter_depth_exactly() {
    use ipld_core::ipld::Ipld as I;
    let node = |entries: Vec<(&str, I)>| {
        I::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    let nested = |levels: usize| {
        let mut filter = node(vec![
            ("field", I::String("s".into())),
            ("op", I::String("eq".into())),
            ("value", I::Null),
        ]);
        for level in 0..levels {
            let list = if level % 2 == 0 { "and" } else { "or" };
            filter = node(vec![(list, I::List(vec![filter]))]);
        }
        block::encode(&node(vec![
            ("coll", I::String("c".into())),
            ("filter", filter),
        ]))
    };
    let query = Query::from_bytes(&nested(MAX_FILTER_DEPTH - 1)).expect("16 deep");
    let view = people();
    let found: Vec<String> = query
        .run(view.collection("c").expect("c"))
        .docs
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        found,
        ["d"],
        "the comparison still decides: only d has s null"
    );
    assert_eq!(
        Query::from_bytes(&nested(MAX_FILTER_DEPTH)).map_err(|e| e.code),
        Err(ErrorCode::DbQueryInvalid)
    );
}

// ---- the dispatcher over peers ----

type TestPeer = crate::sync::Peer<ChaCha20Rng>;

/// A raw thread with `n` writers, all joined and synced; the first created it.
fn writers(n: usize, seed: u8) -> (ThreadId, Vec<TestPeer>) {
    let mut peers: Vec<TestPeer> = (0..n)
        .map(|i| TestPeer::from_seed([seed.wrapping_add(i as u8); 32]))
        .collect();
    let (thread, _) = peers[0].create_thread(0, Variant::Raw).expect("create");
    for i in 1..n {
        let id = peers[i].id();
        let invite = peers[0]
            .invite(&thread, InviteRole::Writer, id)
            .expect("invite");
        peers[i].join(0, &invite).expect("join");
        let mut all: Vec<&mut TestPeer> = peers.iter_mut().collect();
        Net::new(0).pump(&mut all).expect("pump");
    }
    (thread, peers)
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Person {
    name: String,
    age: u32,
}

#[test]
fn kv_and_documents_work_end_to_end_between_two_writers() {
    let (thread, mut peers) = writers(2, 40);
    let (mut a, mut b) = (peers.remove(0), peers.remove(0));
    let (mut da, mut db) = (Database::new(thread.clone()), Database::new(thread.clone()));
    let sub = db.subscribe(&b);
    da.kv(&mut a, 1).put("greeting", &"hello").expect("put");
    let schema = Schema {
        fields: BTreeMap::from([("age".into(), vec![Kind::Integer])]),
        required: vec!["age".into()],
    };
    da.declare(&mut a, 2, "people", schema, &["age"])
        .expect("declare");
    let ada = Person {
        name: "Ada".into(),
        age: 36,
    };
    da.docs(&mut a, 3, "people")
        .put("ada", &ada)
        .expect("create");
    Net::new(0).pump(&mut [&mut a, &mut b]).expect("pump");
    assert_eq!(
        db.kv(&mut b, 4).get::<String>("greeting"),
        Ok(Some("hello".into()))
    );
    assert_eq!(
        db.docs(&mut b, 4, "people").get::<Person>("ada"),
        Ok(Some(ada))
    );
    // b updates: only the changed field travels.
    let older = Person {
        name: "Ada".into(),
        age: 37,
    };
    let saved = db
        .docs(&mut b, 5, "people")
        .put("ada", &older)
        .expect("save");
    let events = b.read(&thread).expect("read");
    let last = events
        .iter()
        .find(|e| *e.record.cid() == saved)
        .expect("b's event")
        .clone();
    let Ok(Some(event)) = DbEvent::classify(&last.body) else {
        panic!("a db event")
    };
    assert!(
        matches!(&event.ops[0], Op::Save { patch, .. } if patch.set.len() == 1 && patch.set.contains_key("age"))
    );
    assert_eq!(event.clock, 4, "1 + the highest clock applied");
    // Local refusals append nothing.
    let counter = b.heads(&thread).expect("heads")[&last.record.log().clone()].1;
    let bad = db
        .docs(&mut b, 6, "people")
        .put("bob", &BTreeMap::from([("name", "Bob")]));
    assert_eq!(bad.map_err(|e| e.code), Err(ErrorCode::DbSchemaFailed));
    assert_eq!(
        db.kv(&mut b, 6).del("nothing").map_err(|e| e.code),
        Err(ErrorCode::DbNotFound)
    );
    assert_eq!(
        b.heads(&thread).expect("heads")[last.record.log()].1,
        counter
    );
    Net::new(0).pump(&mut [&mut a, &mut b]).expect("pump");
    da.refresh(&mut a).expect("refresh");
    assert_eq!(
        da.view(&a).expect("view").cid(),
        db.view(&b).expect("view").cid()
    );
    let found = da
        .docs(&mut a, 7, "people")
        .query(Query::all("people").filter(Filter::cmp("age", Cmp::Gt, 36)))
        .expect("query");
    assert_eq!(found.docs.len(), 1);
    assert_eq!(found.examined, 1);
    // b's subscriber saw each committed change once, in order.
    let mut seen = Vec::new();
    while let Some(Delivery::Change(c)) = db.poll_change(sub) {
        seen.push(c);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    // The first refresh folded three events at once: one commit, reported collections first,
    // then documents, then keys.
    assert!(matches!(&seen[0], Change::Collection { name } if name == "people"));
    assert!(
        matches!(&seen[1], Change::Doc { id, doc: Some(d), .. } if id == "ada" && d["age"] == int(36))
    );
    assert!(matches!(&seen[2], Change::Key { key, .. } if key == "greeting"));
    assert!(
        matches!(&seen[3], Change::Doc { id, doc: Some(d), .. } if id == "ada" && d["age"] == int(37))
    );
}

/// An access-controlled thread of `admin` (seed `seeds.0`) that `writer` (seed `seeds.1`) was
/// granted write on and joined, at times 0 to 2 [ACL-4], [INV-7].
fn admin_and_writer(seeds: (u8, u8)) -> (TestPeer, TestPeer, ThreadId) {
    use crate::acl::{Role, Roles};
    let (mut admin, mut writer) = (
        TestPeer::from_seed([seeds.0; 32]),
        TestPeer::from_seed([seeds.1; 32]),
    );
    let (thread, _) = admin
        .create_thread(0, Variant::AccessControlled)
        .expect("create");
    admin
        .set_roles(1, &thread, writer.id(), Roles::of(Role::Write))
        .expect("grant");
    let invite = admin
        .invite(&thread, InviteRole::Writer, writer.id())
        .expect("invite");
    writer.join(2, &invite).expect("join");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer])
        .expect("pump");
    (admin, writer, thread)
}

#[test]
fn a_revoked_writers_later_events_are_stored_but_never_applied() {
    use crate::acl::{Role, Roles};
    let (mut admin, mut writer, thread) = admin_and_writer((60, 61));
    let mut dw = Database::new(thread.clone());
    dw.kv(&mut writer, 3).put("a", &1).expect("put");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer])
        .expect("pump");
    admin
        .set_roles(4, &thread, writer.id(), Roles::of(Role::Read))
        .expect("revoke");
    dw.kv(&mut writer, 5).put("b", &2).expect("not yet told");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer])
        .expect("pump");
    let mut da = Database::new(thread.clone());
    da.refresh(&mut admin).expect("refresh");
    assert_eq!(
        da.view(&admin)
            .expect("view")
            .kv()
            .keys()
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(
        admin.heads(&thread).expect("heads")[&writer.id()].1,
        3,
        "join, a, b: stored"
    );
    // The writer, told of its revocation, computes the same view again.
    dw.refresh(&mut writer).expect("refresh");
    assert_eq!(
        dw.view(&writer).expect("view").cid(),
        da.view(&admin).expect("view").cid()
    );
}

/// Checks [DB-13], [ACL-7]: a subscriber is told every committed change, also when a
/// revocation swaps one applied event for another, so that the view is offered as many events as
/// before it changed: here the revoked writer's own put of "b" stops being applied when the admin's
/// put of "c" starts being.
#[test]
fn a_subscriber_is_told_of_a_change_that_swaps_one_applied_event_for_another() {
    use crate::acl::{Role, Roles};
    let (mut admin, mut writer, thread) = admin_and_writer((62, 63));
    let (mut da, mut dw) = (Database::new(thread.clone()), Database::new(thread.clone()));
    dw.kv(&mut writer, 3).put("a", &1).expect("put");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer])
        .expect("pump");
    let sub = dw.subscribe(&writer);
    admin
        .set_roles(4, &thread, writer.id(), Roles::of(Role::Read))
        .expect("revoke");
    da.kv(&mut admin, 5).put("c", &3).expect("admin put");
    dw.kv(&mut writer, 5).put("b", &2).expect("not yet told");
    dw.refresh(&mut writer).expect("refresh");
    let keys = |db: &Database, peer: &TestPeer| -> Vec<String> {
        db.view(peer).expect("view").kv().keys().cloned().collect()
    };
    assert_eq!(keys(&dw, &writer), ["a", "b"]);
    let mut seen = Vec::new();
    while let Some(Delivery::Change(change)) = dw.poll_change(sub) {
        seen.push(change);
    }
    assert!(
        matches!(&seen[..], [Change::Key { key, value: Some(_) }] if key == "b"),
        "{seen:?}"
    );
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer])
        .expect("pump");
    dw.refresh(&mut writer).expect("refresh");
    assert_eq!(
        keys(&dw, &writer),
        ["a", "c"],
        "b is no longer applied, c is"
    );
    let mut seen = Vec::new();
    while let Some(Delivery::Change(change)) = dw.poll_change(sub) {
        seen.push(change);
    }
    assert!(
        matches!(
            &seen[..],
            [Change::Key { key: b, value: None }, Change::Key { key: c, value: Some(_) }]
                if b == "b" && c == "c"
        ),
        "{seen:?}"
    );
}

// ---- the property: same set, same view CID ----

#[derive(Debug, Clone)]
enum Step {
    /// Writer `w` appends an event of these op codes.
    Write(usize, Vec<u8>),
    /// Deliver a random message in flight, maybe twice.
    Deliver(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0usize..5, proptest::collection::vec(0u8..12, 1..4)).prop_map(|(w, ops)| Step::Write(w, ops)),
        5 => any::<bool>().prop_map(Step::Deliver),
    ]
}

/// A database operation (or a malformed or opaque body) from a small alphabet that collides
/// often: three IDs, two keys, one collection.
fn op_of(code: u8, n: i64) -> Result<Op, Vec<u8>> {
    let id = ["a", "b", "c"][(n.unsigned_abs() % 3) as usize];
    Ok(match code {
        0 => declare(&["n"]),
        1 | 2 => create(id, doc(&[("n", int(n))])),
        3 => save(id, doc(&[("n", int(n))]), &[]),
        4 => save(id, doc(&[("m", Value::List(vec![int(n)]))]), &["x"]),
        5 => save(id, doc(&[("n", "bad".into())]), &[]),
        6 => delete(id),
        7 | 8 => Op::Put {
            key: format!("k{}", n % 2),
            value: int(n),
        },
        9 => Op::Del {
            key: format!("k{}", n % 2),
        },
        10 => return Err(block::encode(&BTreeMap::from([("type", "db")]))),
        _ => return Err(b"opaque".to_vec()),
    })
}

type Flight = Vec<(LogId, LogId, Vec<u8>)>;

/// Lets the head exchange run until every peer holds every record [SYNC-8].
fn settle(peers: &mut [TestPeer]) {
    let mut net = Net::new(1_000);
    let mut now = 1_000;
    for _ in 0..4 {
        now += crate::sync::HEADS_INTERVAL_MS;
        for p in peers.iter_mut() {
            p.handle_timeout(now).expect("timeout");
        }
        let mut all: Vec<&mut TestPeer> = peers.iter_mut().collect();
        net.pump(&mut all).expect("pump");
    }
}

fn take(p: &mut TestPeer, flight: &mut Flight) {
    let from = p.id();
    while let Some(t) = p.poll_transmit() {
        if let Destination::Peer(to) = t.destination {
            flight.push((from, to, t.bytes));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Concurrent events from 2 to 5 writers, carried in random order and with duplicates, give
    /// every peer the same view CID once all hold the same records; and every arrival order of
    /// that set, with duplicates, folds to the same bytes [DB-11], [DB-15].
    #[test]
    fn every_reader_computes_the_same_view_whatever_the_arrival_order(
        n in 2usize..=5,
        steps in proptest::collection::vec(step(), 1..60),
        seed: u64,
    ) {
        let (thread, mut peers) = writers(n, 80);
        let mut dbs: Vec<Database> = (0..n).map(|_| Database::new(thread.clone())).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut flight = Flight::new();
        for (t, s) in steps.into_iter().enumerate() {
            let now = 10 + t as u64;
            match s {
                Step::Write(w, codes) => {
                    let w = w % n;
                    dbs[w].refresh(&mut peers[w]).expect("refresh");
                    let clock = dbs[w].view(&peers[w]).expect("view").max_clock() + 1;
                    let mut ops = Vec::new();
                    let mut body = None;
                    for c in codes {
                        match op_of(c, (rng.next_u64() % 7) as i64 - 3) {
                            Ok(op) => ops.push(op),
                            Err(b) => body = Some(b),
                        }
                    }
                    // Appended raw, unchecked: other writers' concurrent events make refusals
                    // anyway, and the fold must record them the same everywhere.
                    let body = match body {
                        Some(b) => b,
                        None => DbEvent::new(clock, ops).expect("valid").to_bytes(),
                    };
                    peers[w].append(now, &thread, &body).expect("append");
                }
                Step::Deliver(twice) if !flight.is_empty() => {
                    let i = (rng.next_u64() % flight.len() as u64) as usize;
                    let (from, to, bytes) = if twice { flight[i].clone() } else { flight.swap_remove(i) };
                    if let Some(j) = peers.iter().position(|p| p.id() == to) {
                        peers[j].handle_message(now, from, &bytes).expect("store");
                        dbs[j].refresh(&mut peers[j]).expect("refresh");
                    }
                }
                Step::Deliver(_) => {}
            }
            for p in peers.iter_mut() {
                take(p, &mut flight);
            }
        }
        settle(&mut peers);
        let heads: Vec<_> = peers.iter().map(|p| p.heads(&thread).expect("heads")).collect();
        prop_assert!(heads.windows(2).all(|w| w[0] == w[1]), "sync converged");
        let mut cids = Vec::new();
        for (p, db) in peers.iter_mut().zip(dbs.iter_mut()) {
            db.refresh(p).expect("refresh");
            let scratch = DbView::from_records(&p.read(&thread).expect("read").iter().map(DbRecord::from).collect::<Vec<_>>());
            prop_assert_eq!(db.view(p).expect("view").to_bytes(), scratch.to_bytes(), "incremental = from scratch");
            cids.push(db.view(p).expect("view").cid());
        }
        prop_assert!(cids.windows(2).all(|w| w[0] == w[1]), "{cids:?}");
        // The same set in random orders, with duplicates.
        let mut records: Vec<DbRecord> = peers[0].read(&thread).expect("read").iter().map(DbRecord::from).collect();
        for _ in 0..3 {
            for i in (1..records.len()).rev() {
                records.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            let mut with_dups = records.clone();
            with_dups.extend(records.iter().take(3).cloned());
            prop_assert_eq!(DbView::from_records(&with_dups).cid(), cids[0]);
        }
    }
}

// ---- the ACL view as one more Model ----

#[derive(Debug, Clone)]
enum AclStep {
    /// Peer `a` sets peer `t`'s role (refused unless `a` is an admin).
    SetRole(usize, usize, crate::acl::Role),
    /// Peer `a` appends an ACL change without being an admin: ignored with ACL_BYPASS.
    Bypass(usize),
    /// Peer `a` appends a body claiming the ACL type without its shape: ACL_MALFORMED.
    Malformed(usize),
    /// Peer `a` deletes the `i`-th event it reads (counted only if it may delete).
    Delete(usize, usize),
    /// Peer `a` appends a database event.
    Write(usize),
    /// Deliver a random message in flight, maybe twice.
    Deliver(bool),
}

/// Five peers: the creator (the admin), three writers and a reader.
const ACL_PEERS: usize = 5;

fn acl_step() -> impl Strategy<Value = AclStep> {
    let peer = 0usize..ACL_PEERS;
    let role = proptest::sample::select(crate::acl::Role::ALL.to_vec());
    prop_oneof![
        2 => (peer.clone(), 1usize..ACL_PEERS, role).prop_map(|(a, t, r)| AclStep::SetRole(a, t, r)),
        1 => peer.clone().prop_map(AclStep::Bypass),
        1 => peer.clone().prop_map(AclStep::Malformed),
        1 => (peer.clone(), 0usize..8).prop_map(|(a, i)| AclStep::Delete(a, i)),
        2 => peer.prop_map(AclStep::Write),
        6 => any::<bool>().prop_map(AclStep::Deliver),
    ]
}

/// The seed of ACL peer `i`.
fn acl_seed(i: usize) -> [u8; 32] {
    [90 + i as u8; 32]
}

/// Checks every peer's ACL Model against the ACL the sync core computes from its logs.
fn acl_models_agree(peers: &[TestPeer], dbs: &[Database], thread: &ThreadId) {
    for (p, db) in peers.iter().zip(dbs) {
        let model = db.acl(p).map_err(|e| e.code);
        let logs = p.acl_view(thread).map_err(|e| e.code);
        assert_eq!(
            model,
            logs.as_ref().map_err(|c| *c),
            "the ACL Model = AclView::from_logs"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The ACL view registered as a Model through the dispatcher, folded one record at a time as
    /// records arrive in random orders with duplicates, always equals [`AclView::from_logs`] over
    /// the same logs; and its stored rows check when the store is reopened [ACL-6], [DB-11].
    #[test]
    fn the_acl_model_equals_the_acl_view_of_the_logs(
        steps in proptest::collection::vec(acl_step(), 1..50),
        seed: u64,
    ) {
        use crate::acl::{AclChange, AclEvent, AclOp, Role, Roles};
        let mut peers: Vec<TestPeer> = (0..ACL_PEERS).map(|i| TestPeer::from_seed(acl_seed(i))).collect();
        let (thread, _) = peers[0].create_thread(0, Variant::AccessControlled).expect("create");
        for i in 1..ACL_PEERS {
            let (role, invite_role) = match i {
                4 => (Role::Read, InviteRole::Reader),
                _ => (Role::Write, InviteRole::Writer),
            };
            let id = peers[i].id();
            peers[0].set_roles(1, &thread, id, Roles::of(role)).expect("grant");
            let invite = peers[0].invite(&thread, invite_role, id).expect("invite");
            peers[i].join(2, &invite).expect("join");
        }
        Net::new(3).pump(&mut peers.iter_mut().collect::<Vec<_>>()).expect("pump");
        let mut dbs: Vec<Database> = peers
            .iter_mut()
            .map(|p| Database::open(p, thread.clone()).expect("registered"))
            .collect();
        acl_models_agree(&peers, &dbs, &thread);

        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut flight = Flight::new();
        for p in peers.iter_mut() {
            take(p, &mut flight);
        }
        for (t, s) in steps.into_iter().enumerate() {
            let now = 10 + t as u64;
            let appended = match s {
                AclStep::SetRole(a, target, role) => {
                    let id = peers[target].id();
                    peers[a].set_roles(now, &thread, id, Roles::of(role)).map(drop)
                }
                AclStep::Bypass(a) => {
                    let change = AclChange::new(now, AclOp::SetDefault { role: Role::Write }).expect("change");
                    peers[a].append(now, &thread, &AclEvent::Change(change).to_bytes()).map(drop)
                }
                AclStep::Malformed(a) => {
                    let body = block::encode(&BTreeMap::from([("type", "acl")]));
                    peers[a].append(now, &thread, &body).map(drop)
                }
                AclStep::Delete(a, i) => {
                    let read = peers[a].read(&thread).expect("read");
                    match read.get(i % read.len().max(1)) {
                        Some(target) => {
                            let body = AclEvent::Delete { target: *target.record.cid() }.to_bytes();
                            peers[a].append(now, &thread, &body).map(drop)
                        }
                        None => Ok(()),
                    }
                }
                AclStep::Write(a) => {
                    let body = DbEvent::new(now, vec![Op::Put { key: "k".into(), value: int(now as i64) }])
                        .expect("event")
                        .to_bytes();
                    peers[a].append(now, &thread, &body).map(drop)
                }
                AclStep::Deliver(twice) if !flight.is_empty() => {
                    let i = (rng.next_u64() % flight.len() as u64) as usize;
                    let (from, to, bytes) = if twice { flight[i].clone() } else { flight.swap_remove(i) };
                    if let Some(j) = peers.iter().position(|p| p.id() == to) {
                        peers[j].handle_message(now, from, &bytes).expect("store");
                    }
                    Ok(())
                }
                AclStep::Deliver(_) => Ok(()),
            };
            // Only the ACL refuses an append here: a reader has no log, a non-admin no change.
            if let Err(e) = appended {
                prop_assert!(matches!(e.code, ErrorCode::AclDenied | ErrorCode::KeyUnavailable), "{e}");
            }
            for p in peers.iter_mut() {
                take(p, &mut flight);
            }
            acl_models_agree(&peers, &dbs, &thread);
        }
        settle(&mut peers);
        acl_models_agree(&peers, &dbs, &thread);
        let acls: Vec<_> = dbs.iter().zip(&peers).map(|(db, p)| db.acl(p).expect("acl").clone()).collect();
        // Every peer the creator's converged ACL leaves at follow or above folds the same ACL. A
        // peer it revoked gets nothing more from readers and writers [SYNC-22], so its copy may
        // stop short of the events that came after its revocation.
        let converged = acls[0].acl().document().clone();
        let members: Vec<&crate::acl::AclView> = acls
            .iter()
            .zip(&peers)
            .enumerate()
            .filter(|(i, (_, p))| *i == 0 || converged.role_of(&p.id()) >= Role::Follow)
            .map(|(_, (acl, _))| acl)
            .collect();
        prop_assert!(members.windows(2).all(|w| w[0].acl() == w[1].acl()), "every member folds the same ACL");

        // The rows stored with the records check on reopening.
        for (i, p) in peers.drain(..).enumerate() {
            let mut rng = ChaCha20Rng::from_seed(acl_seed(i));
            let identity = IdentityKey::generate(&mut rng);
            let mut p = crate::sync::Peer::open(identity, rng, p.into_store(), 10_000).expect("reopen");
            let db = Database::open(&mut p, thread.clone()).expect("the stored ACL view checks");
            prop_assert_eq!(db.acl(&p).expect("acl"), &acls[i]);
        }
        dbs.clear();
    }
}

/// A history of `n` events by three writers with every kind of outcome, refusals included:
/// documents created, saved and deleted, keys put and removed [DB-12].
fn history(n: u64) -> Vec<DbRecord> {
    let mut records = vec![rec(1, 1, 1, vec![declare(&["n"])])];
    let mut seqs = [1u64, 0, 0, 0];
    for i in 0..n - 1 {
        let writer = (i % 3) as usize + 1;
        seqs[writer] += 1;
        let id = format!("d{}", i % 11);
        let op = match i % 4 {
            0 => create(&id, doc(&[("n", int(i as i64))])),
            1 => save(&id, doc(&[("n", int(-(i as i64)))]), &["m"]),
            2 => delete(&id),
            _ => Op::Del {
                key: format!("k{}", i % 5),
            },
        };
        let kv = Op::Put {
            key: format!("k{}", i % 7),
            value: int(i as i64),
        };
        // Clocks grow along each log, with concurrent writers sharing clocks [DB-8].
        records.push(rec(writer as u8, seqs[writer], 2 + i / 3, vec![op, kv]));
    }
    records
}

fn shuffle(records: &[DbRecord], seed: u64) -> Vec<DbRecord> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut shuffled = records.to_vec();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    shuffled
}

#[test]
fn db_19_peers_holding_the_same_events_take_the_same_snapshots() {
    let records = history(3 * SNAPSHOT_EVERY as u64 + 40);
    let in_order = DbView::from_records(&records);
    let snapshots = in_order.snapshots();
    assert_eq!(snapshots.len(), 3);
    assert_eq!(
        snapshots.iter().map(Snapshot::count).collect::<Vec<_>>(),
        vec![256, 512, 768]
    );
    assert_eq!(in_order.snapshot().as_ref(), snapshots.last());
    for seed in 0..4 {
        let view = DbView::from_records(&shuffle(&records, seed));
        let cids: Vec<_> = view.snapshots().iter().map(Snapshot::cid).collect();
        assert_eq!(
            cids,
            snapshots.iter().map(Snapshot::cid).collect::<Vec<_>>()
        );
    }
    // The snapshot's view is the view of exactly the covered events [DB-20].
    let first = &snapshots[0];
    let mut sorted: Vec<(OrderKey, DbRecord)> =
        records.iter().map(|r| (key_of(r), r.clone())).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let covered: Vec<DbRecord> = sorted[..256].iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(first.view(), DbView::from_records(&covered).to_bytes());
    assert_eq!(first.last(), &sorted[255].0);
    assert!(first.view().len() > 100, "the state is not empty");
}

fn key_of(record: &DbRecord) -> OrderKey {
    record.order_key().expect("a well-formed database event")
}

#[test]
fn db_20_a_snapshot_round_trips_and_refuses_tampering() {
    let view = DbView::from_records(&history(SNAPSHOT_EVERY as u64 + 5));
    let snapshot = view.snapshot().expect("one snapshot");
    let again =
        Snapshot::from_parts(&snapshot.to_bytes(), snapshot.view().to_vec()).expect("round trip");
    assert_eq!(again, snapshot);
    // A view that is not the linked one.
    let other = DbView::new().to_bytes();
    let err = Snapshot::from_parts(&snapshot.to_bytes(), other).expect_err("wrong view");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    // A block that does not decode, and one with a trailing byte.
    let err = Snapshot::from_parts(b"\xff", snapshot.view().to_vec()).expect_err("garbage");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    let mut long = snapshot.to_bytes();
    long.push(0);
    let err = Snapshot::from_parts(&long, snapshot.view().to_vec()).expect_err("trailing");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    // A view that links correctly but is not a canonical state.
    let bogus = block::encode(&ipld_core::ipld::Ipld::Map(BTreeMap::new()));
    let err = State::from_snapshot_bytes(&bogus).expect_err("not a view");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
}

/// Where the event at `snapshot`'s `last` is in `records` (a [`history`]), and the seed of its
/// writer's log.
fn event_at_last(records: &[DbRecord], snapshot: &Snapshot) -> (usize, u8) {
    let at = records
        .iter()
        .position(|r| key_of(r) == *snapshot.last())
        .expect("the event at last is held");
    let seed = (1..=3u8)
        .find(|s| log(*s) == records[at].log)
        .expect("a writer of the history");
    (at, seed)
}

/// A snapshot's block decoded, as the map of its fields, for tests that alter one field.
fn snapshot_map(snapshot: &Snapshot) -> BTreeMap<String, ipld_core::ipld::Ipld> {
    let ipld = block::decode_canonical(&snapshot.to_bytes(), ErrorCode::DbSnapshotInvalid)
        .expect("a snapshot block");
    let ipld_core::ipld::Ipld::Map(map) = ipld else {
        panic!("a snapshot is a map");
    };
    map
}

/// Checks [DB-20], [DB-24]: a snapshot's `count` is 256·k for some k ≥ 1; a block that is
/// otherwise the real snapshot's, with a count of 0 or one that is not a multiple of 256, is
/// DB_SNAPSHOT_INVALID.
#[test]
fn db_20_a_snapshot_count_of_zero_or_not_a_multiple_of_256_is_refused() {
    use ipld_core::ipld::Ipld;
    let view = DbView::from_records(&history(SNAPSHOT_EVERY as u64 + 5));
    let snapshot = view.snapshot().expect("one snapshot");
    let with_count = |count: u64| {
        let mut map = snapshot_map(&snapshot);
        map.insert("count".into(), Ipld::Integer(count.into()));
        block::encode(&Ipld::Map(map))
    };
    let again = Snapshot::from_parts(&with_count(256), snapshot.view().to_vec()).expect("256");
    assert_eq!(again, snapshot, "the re-encoded block is the snapshot");
    for count in [0, 255, 257, 300] {
        let err = Snapshot::from_parts(&with_count(count), snapshot.view().to_vec())
            .expect_err("a count that is no positive multiple of 256");
        assert_eq!(err.code, ErrorCode::DbSnapshotInvalid, "count {count}");
    }
}

/// Checks [DB-20], [DB-24]: the head a snapshot gives the log of its `last` event is that
/// event's seq or above; a block that is otherwise the real snapshot's, with that head one
/// below, is DB_SNAPSHOT_INVALID, and one above is a snapshot.
#[test]
fn db_20_a_snapshot_whose_last_log_head_is_below_its_seq_is_refused() {
    use ipld_core::ipld::Ipld;
    let view = DbView::from_records(&history(SNAPSHOT_EVERY as u64 + 5));
    let snapshot = view.snapshot().expect("one snapshot");
    let last = snapshot.last().clone();
    let with_head = |seq: u64| {
        let mut map = snapshot_map(&snapshot);
        let Some(Ipld::List(heads)) = map.get_mut("heads") else {
            panic!("a snapshot has heads");
        };
        for head in heads.iter_mut() {
            if let Ipld::Map(head) = head
                && head.get("log") == Some(&Ipld::Bytes(last.log.clone()))
            {
                head.insert("seq".into(), Ipld::Integer(seq.into()));
            }
        }
        block::encode(&Ipld::Map(map))
    };
    assert_eq!(snapshot.heads()[&last.log], last.seq, "the real head");
    let above = Snapshot::from_parts(&with_head(last.seq + 1), snapshot.view().to_vec())
        .expect("a head above the last event's seq");
    assert_eq!(above.heads()[&last.log], last.seq + 1);
    let err = Snapshot::from_parts(&with_head(last.seq - 1), snapshot.view().to_vec())
        .expect_err("a head below the last event's seq");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
}

#[test]
fn db_23_a_view_rebuilt_from_a_snapshot_equals_the_full_fold() {
    let records = history(2 * SNAPSHOT_EVERY as u64 + 70);
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("two snapshots");
    assert_eq!(snapshot.count(), 512);
    let resumed = DbView::resume(&snapshot, &shuffle(&records, 3)).expect("resume");
    assert_eq!(resumed.to_bytes(), full.to_bytes());
    assert_eq!(resumed.max_clock(), full.max_clock());
    assert_eq!(
        resumed.refolded(),
        0,
        "the covered events were not folded again"
    );
    // A late event sorting before the snapshot refolds from the start: the events are held.
    let mut resumed = resumed;
    let late = rec(
        9,
        1,
        2,
        vec![Op::Put {
            key: "late".into(),
            value: int(1),
        }],
    );
    resumed.insert(&late);
    let mut all = records.clone();
    all.push(late);
    assert_eq!(resumed.to_bytes(), DbView::from_records(&all).to_bytes());
    resumed
        .complete()
        .expect("a restarted view holds its events");
}

#[test]
fn db_24_a_snapshot_that_does_not_cover_the_held_events_is_refused() {
    let records = history(SNAPSHOT_EVERY as u64 + 30);
    let snapshot = DbView::from_records(&records).snapshot().expect("snapshot");
    // One more event sorting before the last key than the snapshot counts.
    let mut extra = records.clone();
    extra.push(rec(
        9,
        1,
        1,
        vec![Op::Put {
            key: "x".into(),
            value: int(0),
        }],
    ));
    let err = DbView::resume(&snapshot, &extra).expect_err("stale snapshot");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    // As many events as counted, but one swapped for another that sorts before the last key.
    let mut swapped = extra.clone();
    let victim = records
        .iter()
        .position(|r| key_of(r) < *snapshot.last() && r.log != log(9) && r.seq > 1)
        .expect("a covered event");
    swapped.remove(victim);
    let err = DbView::resume(&snapshot, &swapped).expect_err("other events");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
}

/// Checks [DB-24]: the covered events held must include the event at the snapshot's `last`.
/// Here the record at `last` is swapped for another of the same log and seq that sorts before
/// it, so the count and the heads still match the snapshot, but its last event is not held.
#[test]
fn db_24_a_snapshot_whose_last_event_is_not_held_is_refused() {
    let records = history(SNAPSHOT_EVERY as u64 + 30);
    let snapshot = DbView::from_records(&records).snapshot().expect("snapshot");
    let (at_last, log_seed) = event_at_last(&records, &snapshot);
    let last = &records[at_last];
    let other = rec(
        log_seed,
        last.seq,
        1,
        vec![Op::Put {
            key: "other".into(),
            value: int(0),
        }],
    );
    assert!(key_of(&other) < *snapshot.last(), "it is covered");
    let mut forked = records.clone();
    forked[at_last] = other;
    let err = DbView::resume(&snapshot, &forked).expect_err("last event not held");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    // The same records with the event at `last` resume.
    assert!(DbView::resume(&snapshot, &records).is_ok());
}

/// The records of `records` after `snapshot` in the order: what a compacted view still holds.
fn after_snapshot(records: &[DbRecord], snapshot: &Snapshot) -> Vec<DbRecord> {
    records
        .iter()
        .filter(|r| key_of(r) > *snapshot.last())
        .cloned()
        .collect()
}

#[test]
fn db_26_a_compacted_view_folds_only_the_events_after_its_snapshot() {
    let records = history(SNAPSHOT_EVERY as u64 + 90);
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("snapshot");
    let after = after_snapshot(&records, &snapshot);
    assert_eq!(after.len(), records.len() - 256);
    let mut compacted = DbView::resume(&snapshot, &after).expect("resume");
    assert!(compacted.is_compacted());
    assert_eq!(compacted.to_bytes(), full.to_bytes());
    // The next snapshot position counts the freed events too.
    let mut more = records.clone();
    for i in 0..200u64 {
        let r = rec(
            4,
            i + 1,
            1000 + i,
            vec![Op::Put {
                key: format!("m{i}"),
                value: int(0),
            }],
        );
        compacted.insert(&r);
        more.push(r);
    }
    let full_more = DbView::from_records(&more);
    assert_eq!(compacted.to_bytes(), full_more.to_bytes());
    assert_eq!(compacted.snapshot(), full_more.snapshot());
    assert_eq!(compacted.snapshot().map(|s| s.count()), Some(512));
    // A covered event offered again changes nothing.
    let before = compacted.cid();
    assert!(!compacted.insert(&records[0]));
    assert_eq!(compacted.cid(), before);
    compacted.complete().expect("nothing behind yet");
}

/// Checks [DB-26] with [DB-11]: however far a compacted view grows past its snapshot, it keeps
/// the state at the snapshot (the freed events are folded nowhere else), so an event arriving late
/// that sorts right after the snapshot's `last` still refolds to the full fold's view.
#[test]
fn db_26_a_late_event_after_long_growth_refolds_from_the_snapshot_state() {
    let records = history(SNAPSHOT_EVERY as u64 + 10);
    let snapshot = DbView::from_records(&records).snapshot().expect("snapshot");
    let after = after_snapshot(&records, &snapshot);
    let mut compacted = DbView::resume(&snapshot, &after).expect("resume");
    let mut all = records.clone();
    // More than 32 checkpoints' worth of events after the snapshot, far later in the order.
    for i in 0..1100u64 {
        let r = rec(
            4,
            i + 1,
            1000 + i,
            vec![Op::Put {
                key: format!("m{}", i % 40),
                value: int(i as i64),
            }],
        );
        assert!(compacted.insert(&r));
        all.push(r);
    }
    // After the snapshot's last event, before every checkpoint taken since (the 32nd event
    // after it is one of log 4's).
    assert!(after.iter().all(|r| key_of(r).clock < 100));
    let late = rec(5, 1, 100, vec![create("late", doc(&[("n", int(1))]))]);
    assert!(key_of(&late) > *snapshot.last());
    assert!(compacted.insert(&late));
    all.push(late);
    assert!(
        compacted.to_bytes() == DbView::from_records(&all).to_bytes(),
        "the compacted view differs from the full fold"
    );
    compacted.complete().expect("nothing behind");
}

#[test]
fn db_27_a_compacted_view_says_when_it_needs_the_freed_events() {
    let records = history(SNAPSHOT_EVERY as u64 + 10);
    let snapshot = DbView::from_records(&records).snapshot().expect("snapshot");
    let after = after_snapshot(&records, &snapshot);
    let mut compacted = DbView::resume(&snapshot, &after).expect("resume");
    let late = rec(
        9,
        1,
        2,
        vec![Op::Put {
            key: "late".into(),
            value: int(1),
        }],
    );
    compacted.insert(&late);
    let err = compacted.complete().expect_err("behind its snapshot");
    assert_eq!(err.code, ErrorCode::DbCompacted);
    // With the freed events fetched again, the whole set folds: the late event included.
    let mut all = records.clone();
    all.push(late);
    let full = DbView::from_records(&all);
    assert_eq!(full.collections().len(), 1);
    assert!(full.kv().contains_key("late"));
    assert_ne!(full.cid(), compacted.cid());
}

#[test]
fn sync_35_a_peer_that_compacted_its_view_still_serves_every_record() {
    let (thread, mut peers) = writers(1, 70);
    let mut a = peers.remove(0);
    let mut da = Database::open(&mut a, thread.clone()).expect("open");
    let n = SNAPSHOT_EVERY as u64 + 20;
    for i in 0..n {
        da.kv(&mut a, 1 + i)
            .put(&format!("k{}", i % 50), &i)
            .expect("put");
    }
    let held: Vec<DbRecord> = a
        .read(&thread)
        .expect("read")
        .iter()
        .map(DbRecord::from)
        .collect();
    let snapshot = da.view(&a).expect("view").snapshot().expect("snapshot");
    let after: Vec<DbRecord> = held
        .iter()
        .filter(|r| r.order_key().is_some_and(|k| k > *snapshot.last()))
        .cloned()
        .collect();
    let compacted = DbView::resume(&snapshot, &after).expect("compact");
    assert!(compacted.is_compacted());
    assert_eq!(after.len() as u64, n - 256);
    // A new member pulls from the compacted peer alone and gets the whole history [SYNC-35].
    let mut c = TestPeer::from_seed([79; 32]);
    let invite = a
        .invite(&thread, InviteRole::Writer, c.id())
        .expect("invite");
    c.join(n + 2, &invite).expect("join");
    Net::new(n + 3).pump(&mut [&mut a, &mut c]).expect("pump");
    let pulled: BTreeSet<Cid> = c
        .read(&thread)
        .expect("read")
        .iter()
        .map(|e| *e.record.cid())
        .collect();
    assert!(held.iter().all(|r| pulled.contains(&r.cid)));
    let dc = Database::open(&mut c, thread.clone()).expect("open");
    assert_eq!(dc.view(&c).expect("view").cid(), compacted.cid());
}

#[test]
fn db_26_a_compacted_view_refolds_a_late_event_after_its_snapshot_from_the_snapshot() {
    let records = history(SNAPSHOT_EVERY as u64 + 100);
    let snapshot = DbView::from_records(&records).snapshot().expect("snapshot");
    let after = after_snapshot(&records, &snapshot);
    let mut compacted = DbView::resume(&snapshot, &after).expect("resume");
    // Another writer's event one clock after the snapshot: after it, but before most later ones.
    let late = rec(
        9,
        1,
        snapshot.last().clock + 1,
        vec![Op::Put {
            key: "k1".into(),
            value: int(-1),
        }],
    );
    assert!(key_of(&late) > *snapshot.last());
    compacted.insert(&late);
    assert!(
        compacted.refolded() > 0,
        "the late event refolded the events after it"
    );
    compacted.complete().expect("nothing before the snapshot");
    let mut all = records.clone();
    all.push(late);
    assert_eq!(compacted.to_bytes(), DbView::from_records(&all).to_bytes());
}

/// Checks [DB-19], [DB-26]: a view compacted at a later snapshot lists the snapshots from its
/// base on, each the full view's, and none before it: it holds no event to fold those from.
#[test]
fn db_26_a_view_compacted_at_a_later_snapshot_lists_the_snapshots_from_its_base() {
    let records = history(3 * SNAPSHOT_EVERY as u64 + 10);
    let full = DbView::from_records(&records);
    let all = full.snapshots();
    let counts = |s: &[Snapshot]| s.iter().map(Snapshot::count).collect::<Vec<_>>();
    let cids = |s: &[Snapshot]| s.iter().map(Snapshot::cid).collect::<Vec<_>>();
    assert_eq!(counts(&all), vec![256, 512, 768]);
    let base = &all[1];
    let after = after_snapshot(&records, base);
    assert!(after.len() > SNAPSHOT_EVERY, "enough events after the base");
    let compacted = DbView::resume(base, &after).expect("resume");
    assert!(compacted.is_compacted());
    let listed = compacted.snapshots();
    assert_eq!(counts(&listed), vec![512, 768]);
    assert_eq!(cids(&listed), cids(&all[1..]));
    assert_eq!(
        compacted.snapshot().map(|s| s.cid()),
        full.snapshot().map(|s| s.cid())
    );
}

/// 8.9 ([DB-11]'s refolds): the view keeps copies of the state two per doubling of the distance
/// from the end, so a late event at distance d refolds about 1.5 d events at most, however long
/// the history: neither one copy per 32 events nor only the newest ones.
#[test]
fn a_late_event_far_back_refolds_in_proportion_to_its_distance_not_to_the_history() {
    let n = 256 * CHECKPOINT_EVERY as u64;
    let records: Vec<DbRecord> = (1..=n)
        .map(|i| {
            let op = Op::Put {
                key: format!("k{}", i % 100),
                value: int(i as i64),
            };
            rec(1, i, i + 1, vec![op])
        })
        .collect();
    let view = DbView::from_records(&records);
    assert_eq!(view.refolded(), 0, "in order: nothing applied twice");
    // Two per doubling over 256 checkpoint steps, far fewer than the 256 of one every 32 events.
    let octaves = (n as usize / CHECKPOINT_EVERY / 2).ilog2() as usize;
    assert!(
        (2 * octaves..=MAX_CHECKPOINTS).contains(&view.checkpoint_count()),
        "{} checkpoints",
        view.checkpoint_count()
    );
    for distance in [10u64, 100, 1_000, 3_000, 6_000] {
        let mut late = view.clone();
        // Another writer's event whose clock sorts it `distance` events from the end.
        late.insert(&rec(
            2,
            1,
            n + 2 - distance,
            vec![Op::Put {
                key: "late".into(),
                value: int(0),
            }],
        ));
        let refolded = late.refolded();
        let bound = distance + distance / 2 + 2 * CHECKPOINT_EVERY as u64;
        assert!(
            (distance - 1..=bound).contains(&refolded),
            "distance {distance}: refolded {refolded}, bound {bound}"
        );
    }
}

/// 50,000 documents created over 100,000 events, half of them key puts: the workload whose
/// checkpoints (a full copy of the state every 32 events) once held more than 23 GB.
fn growing_history(n: u64) -> Vec<DbRecord> {
    let mut records = vec![rec(1, 1, 1, vec![declare(&["n"])])];
    for i in 1..n {
        let op = match i % 2 {
            0 => Op::Put {
                key: format!("k{}", i % 100),
                value: int(i as i64),
            },
            _ => create(&format!("d{i}"), doc(&[("n", int(i as i64 % 1000))])),
        };
        records.push(rec(1, i + 1, i + 1, vec![op]));
    }
    records
}

/// The rows of every state copy the view holds for refolds.
fn held_rows(view: &DbView) -> usize {
    view.checkpoints.values().map(|c| c.state.rows()).sum()
}

#[test]
fn the_fold_holds_a_bounded_number_of_state_copies_however_long_the_history() {
    let n = 100_000;
    let view = DbView::from_records(&growing_history(n));
    let rows = view.state.rows();
    assert_eq!(
        rows,
        50_000 + 50,
        "the final state: every document and 50 keys"
    );
    // Two per doubling of the distance from the end: about 2 · log2(n / 32), far below the
    // 3,125 copies of one every 32 events.
    let bound = 2 * ((n as usize / CHECKPOINT_EVERY).ilog2() as usize + 2);
    assert!(
        view.checkpoint_count() <= bound.min(MAX_CHECKPOINTS),
        "{} checkpoints, bound {bound}",
        view.checkpoint_count()
    );
    // What the copies hold is a small multiple of the state, not of the history: one copy every
    // 32 events held about 3,125 · 25,000 rows here.
    assert!(
        held_rows(&view) <= 8 * rows,
        "checkpoints hold {} rows beside a state of {rows}",
        held_rows(&view)
    );
}

#[test]
fn thinned_checkpoints_keep_views_and_snapshots_independent_of_arrival_order() {
    let records = history(12 * SNAPSHOT_EVERY as u64 + 17);
    let in_order = DbView::from_records(&records);
    let snapshots: Vec<Cid> = in_order.snapshots().iter().map(Snapshot::cid).collect();
    assert_eq!(snapshots.len(), 12);
    assert!(in_order.checkpoint_count() < 12 * SNAPSHOT_EVERY / CHECKPOINT_EVERY / 4);
    for seed in 10..13 {
        let mut view = DbView::new();
        // Mostly in order with late arrivals at every distance: the thinned checkpoints are used.
        let mut shuffled = records.clone();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for _ in 0..40 {
            let i = (rng.next_u64() % shuffled.len() as u64) as usize;
            let j = (rng.next_u64() % shuffled.len() as u64) as usize;
            shuffled.swap(i, j);
        }
        for record in &shuffled {
            view.insert(record);
        }
        assert_eq!(view.to_bytes(), in_order.to_bytes());
        let cids: Vec<Cid> = view.snapshots().iter().map(Snapshot::cid).collect();
        assert_eq!(cids, snapshots);
        assert_eq!(view.snapshot().map(|s| s.cid()), snapshots.last().copied());
    }
}

/// The snapshot the peer's store keeps for the thread's view, if any [DB-28].
fn kept_snapshot(store: &crate::store::MemoryStore, thread: &ThreadId) -> Option<Snapshot> {
    let stored = crate::store::Store::load(store).expect("load");
    let views = stored[thread.as_bytes()]
        .views
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(b"db\0".as_slice())?.to_vec(), v.clone())))
        .collect();
    Snapshot::load(&crate::store::StoredThread {
        views,
        ..Default::default()
    })
    .expect("a kept snapshot decodes")
}

fn fresh_fold(p: &TestPeer, thread: &ThreadId) -> DbView {
    let records: Vec<DbRecord> = p
        .read(thread)
        .expect("read")
        .iter()
        .map(DbRecord::from)
        .collect();
    DbView::from_records(&records)
}

#[test]
fn db_28_a_peer_keeps_its_latest_snapshot_with_its_events_and_restarts_from_it() {
    let (thread, mut peers) = writers(2, 90);
    let mut b = peers.remove(1);
    let mut a = peers.remove(0);
    // B writes offline first, so its events, low clocks, will sort before A's snapshot.
    let mut db = Database::open(&mut b, thread.clone()).expect("open b");
    for i in 0..40u64 {
        db.kv(&mut b, 1 + i).put(&format!("b{i}"), &i).expect("put");
    }
    let mut da = Database::open(&mut a, thread.clone()).expect("open a");
    let n = SNAPSHOT_EVERY as u64 + 44;
    for i in 0..n {
        da.kv(&mut a, 1 + i)
            .put(&format!("k{}", i % 50), &i)
            .expect("put");
    }
    let latest = fresh_fold(&a, &thread).snapshot().expect("a snapshot");
    let store = a.into_store();
    assert_eq!(kept_snapshot(&store, &thread), Some(latest.clone()));

    // Restarted, the view starts from the kept snapshot: only the events after it are decoded.
    let mut a = crate::sync::Peer::open(
        IdentityKey::generate(&mut ChaCha20Rng::from_seed([90; 32])),
        ChaCha20Rng::from_seed([90; 32]),
        store,
        10_000,
    )
    .expect("reopen");
    let da = Database::open(&mut a, thread.clone()).expect("the restored view checks");
    let view = da.view(&a).expect("view");
    assert!(view.is_compacted(), "restarted from the snapshot");
    assert_eq!(view.cid(), fresh_fold(&a, &thread).cid());
    assert_eq!(view.snapshot(), Some(latest.clone()));

    // B's events sort before the snapshot: the peer folds the whole set again [DB-27].
    Net::new(20_000).pump(&mut [&mut a, &mut b]).expect("pump");
    let view = da.view(&a).expect("view");
    let fresh = fresh_fold(&a, &thread);
    assert!(fresh.kv().contains_key("b39"), "A holds B's events");
    assert!(!view.is_compacted(), "refolded from every event");
    assert_eq!(view.cid(), fresh.cid());
    let moved = fresh.snapshot().expect("a snapshot");
    assert_ne!(moved, latest, "B's events moved the snapshot [DB-22]");
    let store = a.into_store();
    assert_eq!(kept_snapshot(&store, &thread), Some(moved));
}

/// A peer that compacted on a peer, not only in a view: restarted from its kept snapshot, it
/// still serves every record from the first of each log, so a new member that pulls from it
/// alone gets the whole history and folds the same view [SYNC-35], from the events and its own
/// snapshots only [DB-25].
#[test]
fn sync_35_a_peer_restarted_from_its_snapshot_serves_every_record_to_a_new_member() {
    let (thread, mut peers) = writers(1, 96);
    let mut a = peers.remove(0);
    let mut da = Database::open(&mut a, thread.clone()).expect("open");
    let n = SNAPSHOT_EVERY as u64 + 30;
    for i in 0..n {
        da.kv(&mut a, 1 + i)
            .put(&format!("k{}", i % 40), &i)
            .expect("put");
    }
    let store = a.into_store();
    let mut a = crate::sync::Peer::open(
        IdentityKey::generate(&mut ChaCha20Rng::from_seed([96; 32])),
        ChaCha20Rng::from_seed([96; 32]),
        store,
        10_000,
    )
    .expect("reopen");
    let da = Database::open(&mut a, thread.clone()).expect("the restored view checks");
    let compacted = da.view(&a).expect("view").clone();
    assert!(compacted.is_compacted(), "restarted from the kept snapshot");
    let held: BTreeSet<Cid> = a
        .read(&thread)
        .expect("read")
        .iter()
        .map(|e| *e.record.cid())
        .collect();
    assert_eq!(held.len() as u64, n, "every event");

    let mut c = TestPeer::from_seed([97; 32]);
    let invite = a
        .invite(&thread, InviteRole::Writer, c.id())
        .expect("invite");
    c.join(10_001, &invite).expect("join");
    Net::new(10_002).pump(&mut [&mut a, &mut c]).expect("pump");
    let pulled: BTreeSet<Cid> = c
        .read(&thread)
        .expect("read")
        .iter()
        .map(|e| *e.record.cid())
        .collect();
    let missing = held.difference(&pulled).count();
    assert_eq!(missing, 0, "records the compacted peer did not serve");
    let dc = Database::open(&mut c, thread.clone()).expect("open");
    let view = dc.view(&c).expect("view");
    assert!(!view.is_compacted(), "folded from the events it pulled");
    assert_eq!(view.cid(), compacted.cid());
}

/// A snapshot does not travel [DB-25]: a peer whose store holds another copy's snapshot rows
/// but not the events they cover (rows copied from another peer, or a store that lost the
/// records) never takes that snapshot as its view or as the start of its fold.
#[test]
fn db_25_snapshot_rows_without_their_events_never_become_the_view() {
    let (thread, mut peers) = writers(1, 98);
    let mut a = peers.remove(0);
    let mut da = Database::open(&mut a, thread.clone()).expect("open");
    // The other copy's fold stands at its snapshot, so the rows are the snapshot's own.
    for i in 0..SNAPSHOT_EVERY as u64 {
        da.kv(&mut a, 1 + i).put(&format!("k{i}"), &i).expect("put");
    }
    let theirs = da.view(&a).expect("view").cid();
    let stored = crate::store::Store::load(&a.into_store()).expect("load");
    let stored = &stored[thread.as_bytes()];
    // The thread and the other copy's view rows, snapshot included, but none of the events.
    let mut store = crate::store::MemoryStore::new();
    let rows: Vec<crate::store::ViewRow> = stored
        .views
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    crate::store::Store::put_thread(&mut store, thread.as_bytes(), &stored.meta).expect("meta");
    crate::store::Store::put_views(&mut store, thread.as_bytes(), &rows).expect("rows");
    let mut c = crate::sync::Peer::open(
        IdentityKey::generate(&mut ChaCha20Rng::from_seed([98; 32])),
        ChaCha20Rng::from_seed([98; 32]),
        store,
        10_000,
    )
    .expect("open");
    assert!(c.read(&thread).expect("read").is_empty(), "no event held");
    match Database::open(&mut c, thread.clone()) {
        Err(e) => assert_eq!(e.code, ErrorCode::StoreCorrupt, "{e}"),
        Ok(dc) => {
            let view = dc.view(&c).expect("view");
            assert_ne!(view.cid(), theirs, "the other copy's view taken");
            assert!(view.kv().is_empty() && view.snapshot().is_none());
        }
    }
}

#[test]
fn db_29_a_restart_skips_the_covered_records_and_refuses_rows_that_do_not_check() {
    let mut records = history(SNAPSHOT_EVERY as u64 + 60);
    // A writer whose clocks do not grow along its log: its seq 2 sorts above the snapshot while
    // its seq 3 is covered, so seq 2 is an exception within the heads. And a malformed record.
    records.push(rec(
        8,
        1,
        2,
        vec![Op::Put {
            key: "w".into(),
            value: int(1),
        }],
    ));
    records.push(rec(
        8,
        2,
        10_000,
        vec![Op::Put {
            key: "w".into(),
            value: int(2),
        }],
    ));
    records.push(rec(
        8,
        3,
        3,
        vec![Op::Put {
            key: "w".into(),
            value: int(3),
        }],
    ));
    records.push(raw(9, 1, block::encode(&BTreeMap::from([("type", "db")]))));
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("snapshot");
    assert_eq!(snapshot.heads()[&log(8).to_bytes()], 3, "seq 3 is covered");
    let rows = full.rows();
    let restored = DbView::restore(&rows, &shuffle(&records, 5))
        .expect("restore")
        .expect("kept");
    assert_eq!(restored.to_bytes(), full.to_bytes());
    assert_eq!(restored.offered(), full.offered(), "the same fold position");
    assert!(restored.is_compacted(), "the covered events were skipped");
    assert_eq!(restored.kept_rows(), full.kept_rows());
    // Without the record at `last`, or with a damaged snapshot, the rows do not check [DB-24].
    let last = snapshot.last().cid.clone();
    let missing: Vec<DbRecord> = records
        .iter()
        .filter(|r| r.cid.to_bytes() != last)
        .cloned()
        .collect();
    let err = DbView::restore(&rows, &missing).expect_err("last not held");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    // Without a covered record before `last`, fewer records are covered than the snapshot
    // counts: the rows do not check either [DB-24].
    assert_ne!(records[0].cid.to_bytes(), last);
    let err = DbView::restore(&rows, &records[1..]).expect_err("a covered record missing");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    for key in [&b"db-snapshot\0exceptions"[..], b"db-snapshot\0view"] {
        let mut damaged = rows.clone();
        damaged.insert(key.to_vec(), b"\x01".to_vec());
        let err = DbView::restore(&damaged, &records).expect_err("damaged");
        assert_eq!(err.code, ErrorCode::DbSnapshotInvalid, "{key:?}");
        let mut partial = rows.clone();
        partial.remove(key);
        let err = DbView::restore(&partial, &records).expect_err("partial");
        assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    }
    assert!(
        DbView::restore(&BTreeMap::new(), &records)
            .expect("none")
            .is_none()
    );
}

/// A reducer that keeps nothing, under any name: only its name is under test.
struct Named(&'static str);

impl Reducer for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn apply(&mut self, _: &DbRecord) {}
    fn reset(&mut self) {}
    fn position(&self) -> u64 {
        0
    }
    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        Vec::new()
    }
    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        BTreeMap::new()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A reducer that counts what it is offered and how often it is reset.
#[derive(Default)]
struct Counting {
    applied: u64,
    resets: u64,
}

impl Reducer for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn apply(&mut self, _: &DbRecord) {
        self.applied += 1;
    }
    fn reset(&mut self) {
        self.resets += 1;
        self.applied = 0;
    }
    fn position(&self) -> u64 {
        self.applied
    }
    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        Vec::new()
    }
    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        BTreeMap::new()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Checks [DB-27] from the side of a reducer that is never behind (the trait's default): each
/// event is offered to it once, in turn; only a reducer that is behind is reset and offered the
/// whole set again.
#[test]
fn db_27_a_reducer_that_is_not_behind_is_never_reset() {
    let mut peer = TestPeer::from_seed([65; 32]);
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
    peer.register(&thread, Box::new(Counting::default()))
        .expect("register");
    for i in 0..3u64 {
        peer.append(1 + i, &thread, format!("e{i}").as_bytes())
            .expect("append");
    }
    let counting = peer
        .reducer(&thread, "counting")
        .and_then(|r| r.as_any().downcast_ref::<Counting>())
        .expect("registered");
    assert_eq!((counting.applied, counting.resets), (3, 0));
}

/// Checks [DB-11]: a reducer's name prefixes its rows in the store, so an empty one or one
/// holding a NUL (the prefix's separator) is refused DB_MALFORMED and nothing is registered.
#[test]
fn db_11_a_reducer_named_empty_or_with_a_nul_is_refused() {
    let mut peer = TestPeer::from_seed([64; 32]);
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
    for name in ["", "a\0b", "\0"] {
        assert_eq!(
            peer.register(&thread, Box::new(Named(name)))
                .map_err(|e| e.code),
            Err(ErrorCode::DbMalformed),
            "{name:?}"
        );
        assert!(peer.reducer(&thread, name).is_none());
    }
    assert_eq!(peer.register(&thread, Box::new(Named("ab"))), Ok(()));
}

/// Checks [DB-24]: a store that holds no snapshot rows (only other rows of the view, or none)
/// holds no snapshot, which is not an invalid one: the view is folded from the events.
/// Checks [DB-24] on a restart from kept rows: the records held must include the event at the
/// snapshot's `last`. Here it is swapped for another record of the same log and seq, so as many
/// records are covered as the snapshot counts, but not the event at `last`.
#[test]
fn db_24_a_restart_whose_last_event_is_not_held_is_refused() {
    let records = history(SNAPSHOT_EVERY as u64 + 30);
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("snapshot");
    let rows = full.rows();
    let (at_last, log_seed) = event_at_last(&records, &snapshot);
    let last = &records[at_last];
    let mut forked = records.clone();
    forked[at_last] = rec(
        log_seed,
        last.seq,
        1,
        vec![Op::Put {
            key: "other".into(),
            value: int(0),
        }],
    );
    let err = DbView::restore(&rows, &forked).expect_err("last event not held");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
    assert!(DbView::restore(&rows, &records).expect("restore").is_some());
}

#[test]
fn db_24_a_store_without_snapshot_rows_holds_no_snapshot() {
    let none = |views: BTreeMap<Vec<u8>, Vec<u8>>| {
        matches!(
            Snapshot::load(&crate::store::StoredThread {
                views,
                ..Default::default()
            }),
            Ok(None)
        )
    };
    assert!(none(BTreeMap::new()));
    assert!(none(BTreeMap::from([(b"kname".to_vec(), vec![1])])));
}

/// Checks [DB-13], [ACL-7] for an application that registers only a view of the applied events
/// (no ACL view): in an access-controlled thread it is offered what the application may read,
/// never an event of a writer revoked before it, whatever order the records arrive in.
#[test]
fn db_13_a_lone_applied_view_never_folds_a_revoked_writers_event() {
    use crate::acl::{Role, Roles};
    let (mut admin, mut writer, mut reader) = (
        TestPeer::from_seed([65; 32]),
        TestPeer::from_seed([66; 32]),
        TestPeer::from_seed([67; 32]),
    );
    let (thread, _) = admin
        .create_thread(0, Variant::AccessControlled)
        .expect("create");
    admin
        .set_roles(1, &thread, writer.id(), Roles::of(Role::Write))
        .expect("grant");
    admin
        .set_roles(1, &thread, reader.id(), Roles::of(Role::Read))
        .expect("grant");
    let invite = admin
        .invite(&thread, InviteRole::Writer, writer.id())
        .expect("invite");
    writer.join(2, &invite).expect("join");
    let invite = admin
        .invite(&thread, InviteRole::Reader, reader.id())
        .expect("invite");
    reader.join(2, &invite).expect("join");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer, &mut reader])
        .expect("pump");
    reader
        .register(&thread, Box::new(DbView::new()))
        .expect("a reader registers a view");
    let mut dw = Database::new(thread.clone());
    dw.kv(&mut writer, 3).put("a", &1).expect("put");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer, &mut reader])
        .expect("pump");
    admin
        .set_roles(4, &thread, writer.id(), Roles::of(Role::Read))
        .expect("revoke");
    dw.kv(&mut writer, 5).put("b", &2).expect("not yet told");
    Net::new(0)
        .pump(&mut [&mut admin, &mut writer, &mut reader])
        .expect("pump");
    let view = reader
        .reducer(&thread, DB_VIEW)
        .and_then(|r| r.as_any().downcast_ref::<DbView>())
        .expect("registered");
    assert_eq!(
        view.kv().keys().cloned().collect::<Vec<_>>(),
        ["a"],
        "b was put after the revocation"
    );
    assert_eq!(view.cid(), fresh_fold(&reader, &thread).cid());
}

/// Checks [DB-13]: every subscriber is told every committed change, each once.
#[test]
fn db_13_each_of_two_subscribers_is_told_every_change() {
    let mut peer = TestPeer::from_seed([66; 32]);
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
    let mut db = Database::new(thread.clone());
    let (one, two) = (db.subscribe(&peer), db.subscribe(&peer));
    assert_ne!(one, two, "each subscriber has its own handle");
    db.kv(&mut peer, 1).put("k", &1).expect("put");
    db.refresh(&mut peer).expect("refresh");
    for sub in [one, two] {
        let told = db.poll_change(sub);
        assert!(
            matches!(&told, Some(Delivery::Change(Change::Key { key, value: Some(_) })) if key == "k"),
            "{told:?}"
        );
        assert_eq!(db.poll_change(sub), None, "told once");
    }
}

/// Checks [DB-13] for a subscription that ends: an unsubscribed subscriber is told nothing
/// more, the others still are, and the broadcaster knows when no one listens.
#[test]
fn db_13_an_unsubscribed_subscriber_is_told_nothing_more() {
    let mut broadcaster = Broadcaster::default();
    let (one, two) = (broadcaster.subscribe(), broadcaster.subscribe());
    broadcaster.unsubscribe(one);
    assert!(broadcaster.has_subscribers());
    broadcaster.publish(&DbView::new(), &DbView::from_records(&history(3)));
    assert_eq!(broadcaster.poll(one), None);
    assert!(broadcaster.poll(two).is_some());
    broadcaster.unsubscribe(two);
    assert!(!broadcaster.has_subscribers());
}

/// Checks [DB-28]: the kept snapshot's rows are written when the snapshot moves, not with every
/// event: none (not even removals) below 256 events, the snapshot's once there is one, and none
/// again while it stays where it is.
#[test]
fn db_28_kept_snapshot_rows_are_written_only_when_the_snapshot_moves() {
    let every = SNAPSHOT_EVERY;
    let records = history(every as u64 + 10);
    let mut view = DbView::from_records(&records[..10]);
    assert_eq!(
        view.take_kept_rows(),
        Vec::new(),
        "no snapshot below 256 events"
    );
    for record in &records[10..every + 5] {
        Reducer::apply(&mut view, record);
    }
    assert_eq!(
        view.take_kept_rows(),
        view.kept_rows(),
        "the first snapshot's rows"
    );
    assert!(!view.kept_rows().is_empty());
    Reducer::apply(&mut view, &records[every + 5]);
    assert_eq!(
        view.take_kept_rows(),
        Vec::new(),
        "the snapshot did not move"
    );
}

/// Checks [DB-22]: an event that joins the set and sorts before the kept snapshot's `last` moves
/// that snapshot, so its rows are taken again, and they are those of the full fold of the new set.
#[test]
fn db_22_a_late_event_before_the_kept_snapshot_takes_its_rows_again() {
    let records = history(SNAPSHOT_EVERY as u64 + 10);
    let mut view = DbView::from_records(&records);
    let first = view.take_kept_rows();
    assert!(!first.is_empty(), "the first snapshot's rows");
    let late = rec(
        9,
        1,
        2,
        vec![Op::Put {
            key: "late".into(),
            value: int(1),
        }],
    );
    let last = view.snapshot().expect("a snapshot").last().clone();
    assert!(key_of(&late) < last);
    assert!(view.insert(&late));
    let again = view.take_kept_rows();
    let mut all = records.clone();
    all.push(late);
    assert!(
        again == DbView::from_records(&all).kept_rows(),
        "the rows of the snapshot of the new set"
    );
    assert!(again != first, "the snapshot moved");
    assert_eq!(view.take_kept_rows(), Vec::new(), "and now stays");
}

/// Checks [DB-13] for the stored rows: when the set shrinks, the view is reset and folded again,
/// and the rows of what left the set are deleted from the store, not left behind.
#[test]
fn db_13_a_reset_view_deletes_the_rows_of_what_left_the_set() {
    let records = history(40);
    let mut view = DbView::new();
    let mut store = BTreeMap::new();
    let write = |view: &mut DbView, store: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        for (key, row) in Reducer::take_rows(view) {
            match row {
                Some(row) => store.insert(key, row),
                None => store.remove(&key),
            };
        }
    };
    for record in &records {
        Reducer::apply(&mut view, record);
    }
    write(&mut view, &mut store);
    assert!(store == Reducer::rows(&view), "the rows of the whole set");
    Reducer::reset(&mut view);
    for record in &records[..10] {
        Reducer::apply(&mut view, record);
    }
    write(&mut view, &mut store);
    assert!(
        store == Reducer::rows(&view),
        "the stored rows are those of the smaller set"
    );
}

/// Checks [DB-15]: a collection's encoding is canonical DAG-CBOR, the very map the view's
/// encoding holds for it, and its CID is taken over that encoding.
#[test]
fn db_15_a_collection_encodes_as_the_map_the_view_holds() {
    let view = DbView::from_records(&history(20));
    let collection = view.collections().values().next().expect("a collection");
    let Op::Collection { schema, .. } = declare(&["n"]) else {
        panic!("a declaration");
    };
    assert_eq!(collection.schema(), &schema, "the declared schema");
    let bytes = collection.to_bytes();
    let decoded: ipld_core::ipld::Ipld =
        block::decode_canonical(&bytes, ErrorCode::DbMalformed).expect("canonical");
    assert!(
        matches!(&decoded, ipld_core::ipld::Ipld::Map(m) if m.contains_key("schema")),
        "{decoded:?}"
    );
    let whole = view.to_bytes();
    assert!(whole.windows(bytes.len()).any(|w| w == bytes));
    assert_eq!(collection.cid(), block::cid_of(&bytes));
}
