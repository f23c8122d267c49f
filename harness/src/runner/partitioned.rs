//! The `db-partitioned-edits` live scenario [HP-88]: two writers edit the same documents of an
//! access-controlled thread on the two sides of a partition [HP-89] while a writer revoked on one
//! side keeps writing on the other; once healed, every peer shows the same view, and every reader's
//! query results are those of the fold of the applied events, computed by the harness [HP-90],
//! without the revoked writer's later events [HP-91].

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde_json::{Value, json};
use threads::db::{DbRecord, DbView};
use threads::id::{LogId, Variant};
use threads::invite::InviteRole;

use super::driver::{Driver, PumpStats, StepError};
use super::scenario::{
    Check, Db, Outcome, Scenario, accept, after, all_equal, equal, export_invite, heads, on, seed,
    set_roles_by, shown_json,
};
use crate::protocol::{
    Call, DbHit, DbQueryResult, DbSchema, Events, Hex, ThreadCreate, ThreadCreated,
};

const ALICE: &str = "dbp-alice";
const BOB: &str = "dbp-bob";
const MALLORY: &str = "dbp-mallory";
const READER_A: &str = "dbp-reader-a";
const READER_B: &str = "dbp-reader-b";
const FOLLOWER: &str = "dbp-follower";

/// The nodes in creation order [HP-88].
const NODES: [&str; 6] = [ALICE, BOB, MALLORY, READER_A, READER_B, FOLLOWER];
/// The nodes that hold a view: every one but the follower.
const VIEWERS: [&str; 5] = [ALICE, BOB, MALLORY, READER_A, READER_B];
/// The two sides of the partition [HP-89].
const SIDE_A: [&str; 3] = [ALICE, READER_A, FOLLOWER];
const SIDE_B: [&str; 3] = [BOB, MALLORY, READER_B];

/// The collection the writers edit.
const CARDS: &str = "cards";

/// The `db-partitioned-edits` scenario [HP-88].
pub const DB_PARTITIONED_EDITS: Scenario = Scenario {
    name: "db-partitioned-edits",
    features: &["db", "acl"],
    checks: &[
        Check {
            name: "base-replicated",
            spec: "DB-11",
            description: "after the first pump, db.view gives the same viewCid on the five nodes that hold a view",
        },
        Check {
            name: "sides-agree",
            spec: "DB-11",
            description: "partitioned, after the edits and a pump within each side, dbp-reader-a's viewCid equals dbp-alice's, and dbp-reader-b's equals dbp-bob's and dbp-mallory's",
        },
        Check {
            name: "revocation-unknown-applied",
            spec: "DB-13",
            description: "partitioned, db.get cards/c6 on dbp-reader-b is the revoked writer's document: the side that has not seen the revocation applies its events",
        },
        Check {
            name: "views-converge",
            spec: "HP-90",
            description: "after healing, db.view gives the same viewCid on the five nodes that hold a view",
        },
        Check {
            name: "revoked-edits-refused",
            spec: "HP-91",
            description: "after healing, on both readers: cards/c6 is absent, cards/c4 has no owner, cards/c2 is not deleted, and kv motd is not the revoked writer's",
        },
        Check {
            name: "queries-agree",
            spec: "HP-90",
            description: "after healing, each of the four queries gives equal results (IDs and documents) on the five nodes that hold a view",
        },
        Check {
            name: "queries-match-fold",
            spec: "HP-90",
            description: "each reader's results of the four queries, and its kv motd and note, equal those of the fold of DB-11 over the events the harness read, without the revoked writer's events past its cut",
        },
        Check {
            name: "follower-holds-all",
            spec: "LOG-3",
            description: "after healing, the follower's node.heads equals dbp-alice's: every log, the revoked writer's refused records included",
        },
    ],
    play: db_partitioned_edits,
};

/// The queries every reader answers [HP-88]: indexed and scanned, sorted both ways, paged.
fn queries() -> [(&'static str, Value); 4] {
    [
        (
            "indexed rank >= 3, rank descending",
            json!({"coll": CARDS, "filter": {"field": "rank", "op": "gte", "value": 3},
                   "sort": [{"desc": true, "field": "rank"}]}),
        ),
        (
            "scanned title != \"two\", title ascending",
            json!({"coll": CARDS, "filter": {"field": "title", "op": "ne", "value": "two"},
                   "sort": [{"desc": false, "field": "title"}]}),
        ),
        ("every document, by ID", json!({"coll": CARDS})),
        (
            "rank ascending, skip 1, limit 3",
            json!({"coll": CARDS, "limit": 3, "skip": 1, "sort": [{"desc": false, "field": "rank"}]}),
        ),
    ]
}

/// A partition [HP-89]: messages between the sides wait, in the order the pump collected them.
struct Partition {
    sides: [BTreeSet<&'static str>; 2],
    held: Vec<(String, String, Hex)>,
}

impl Partition {
    fn new(a: &[&'static str], b: &[&'static str]) -> Partition {
        Partition {
            sides: [a, b].map(|side| side.iter().copied().collect()),
            held: Vec::new(),
        }
    }

    /// Whether a message leaves its side; a node on neither side is cut off from both.
    fn crosses(&self, from: &str, to: &str) -> bool {
        !self
            .sides
            .iter()
            .any(|side| side.contains(from) && side.contains(to))
    }

    /// The pump of [HP-44] within each side; a message across is held, not delivered [HP-89].
    fn pump(&mut self, d: &mut Driver) -> Result<PumpStats, StepError> {
        let mut stats = PumpStats::default();
        while stats.rounds < super::driver::MAX_PUMP_ROUNDS {
            stats.rounds += 1;
            let mut kept = Vec::new();
            for node in NODES {
                for (to, message) in d.collect(node)? {
                    kept.push((node.to_string(), to, message));
                }
            }
            let before = stats.delivered;
            for (from, to, message) in kept {
                if self.crosses(&from, &to) {
                    self.held.push((from, to, message));
                } else {
                    d.deliver(from, to, message, &mut stats)?;
                }
            }
            if stats.delivered == before {
                stats.settled = true;
                break;
            }
        }
        Ok(stats)
    }

    /// Heals [HP-89]: the held messages are delivered in the order held, then the pump runs.
    fn heal(self, d: &mut Driver) -> Result<PumpStats, StepError> {
        let mut released = PumpStats::default();
        for (from, to, message) in self.held {
            d.deliver(from, to, message, &mut released)?;
        }
        let mut stats = d.pump()?;
        stats.delivered += released.delivered;
        stats.dropped += released.dropped;
        stats.misaddressed += released.misaddressed;
        Ok(stats)
    }
}

/// The steps of [HP-88]; pushes each check's outcome in [`DB_PARTITIONED_EDITS`]'s order.
fn db_partitioned_edits(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = DB_PARTITIONED_EDITS.name;
    let mut peers = BTreeMap::new();
    for node in NODES {
        peers.insert(node, d.create(node, seed(name, node))?);
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: ALICE.into(),
        variant: Variant::AccessControlled,
        time: d.now(),
    }))?;
    let db = Db {
        thread: &created.thread,
        coll: CARDS,
    };
    for (node, role, invite) in [
        (BOB, "write", InviteRole::Writer),
        (MALLORY, "write", InviteRole::Writer),
        (READER_A, "read", InviteRole::Reader),
        (READER_B, "read", InviteRole::Reader),
        (FOLLOWER, "follow", InviteRole::Follower),
    ] {
        set_roles_by(d, ALICE, db.thread, node, &[role])?;
        let invite = export_invite(d, ALICE, db.thread, invite, node)?;
        accept(d, node, invite)?;
    }
    setup(d, &db)?;
    let pump = d.pump()?;
    made.push(after(pump, all_equal(&VIEWERS, &db.views(d, &VIEWERS)?)));
    // A card by the writer to be revoked, inside its cut: it must survive the revocation.
    let five = json!({"title": "five", "rank": 5, "owner": "mallory"});
    db.put(d, MALLORY, "c5", five)?;
    d.pump()?;

    // The cut of the revocation: the counter the admin holds for the revoked writer [ACL-6].
    let mallory_log = &peers[MALLORY];
    let cut = heads(d, ALICE, db.thread)?
        .logs
        .get(mallory_log)
        .map_or(0, |h| h.counter);
    let mut partition = Partition::new(&SIDE_A, &SIDE_B);
    edit_partitioned(d, &db)?;
    let pump = partition.pump(d)?;
    let side_a = [ALICE, READER_A];
    let a = db.views(d, &side_a)?;
    let b = db.views(d, &SIDE_B)?;
    made.push(after(
        pump,
        all_equal(&side_a, &a).and(all_equal(&SIDE_B, &b)),
    ));
    let c6 = db.get(d, READER_B, "c6")?;
    let mallorys = json!({"doc": {"rank": 6, "title": "six"}});
    made.push(after(pump, equal(&mallorys, &shown_json(&c6))));

    let pump = partition.heal(d)?;
    made.push(after(pump, all_equal(&VIEWERS, &db.views(d, &VIEWERS)?)));
    made.push(after(pump, revoked_refused(d, &db)?));
    let results = answers(d, &db)?;
    made.push(after(pump, agree(&results)));
    let fold = oracle(d, &db, mallory_log, cut)?;
    made.push(after(pump, match_fold(d, &db, &fold, &results)?));
    let follower = heads(d, FOLLOWER, db.thread)?;
    made.push(after(pump, equal(&heads(d, ALICE, db.thread)?, &follower)));
    Ok(())
}

/// Before the partition: the collection, four cards and a key by the admin [HP-88].
fn setup(d: &mut Driver, db: &Db) -> Result<(), StepError> {
    let schema = DbSchema {
        fields: BTreeMap::from([
            ("owner".into(), vec!["string".into()]),
            ("rank".into(), vec!["integer".into()]),
            ("title".into(), vec!["string".into()]),
        ]),
        required: vec!["title".into()],
    };
    db.declare(d, ALICE, schema, &["rank"])?;
    for (id, title, rank) in [("c1", "one", 1), ("c2", "two", 2), ("c3", "three", 3)] {
        db.put(d, ALICE, id, json!({"title": title, "rank": rank}))?;
    }
    db.put(d, ALICE, "c4", json!({"title": "four", "rank": 4}))?;
    db.kv_put(d, ALICE, "motd", json!("hello"))
}

/// On side A the admin revokes `dbp-mallory` and edits; on side B `dbp-bob` edits the same cards
/// and `dbp-mallory`, unaware, keeps writing [HP-88].
fn edit_partitioned(d: &mut Driver, db: &Db) -> Result<(), StepError> {
    set_roles_by(d, ALICE, db.thread, MALLORY, &["read"])?;
    db.put(d, ALICE, "c1", json!({"title": "one", "rank": 10}))?;
    db.put(d, BOB, "c1", json!({"title": "uno", "rank": 1}))?;
    db.put(d, ALICE, "c2", json!({"title": "two", "rank": 7}))?;
    db.put(d, BOB, "c2", json!({"title": "two", "rank": 8}))?;
    db.delete(d, ALICE, "c3")?;
    db.put(d, BOB, "c3", json!({"title": "three", "rank": 30}))?;
    db.put(
        d,
        MALLORY,
        "c4",
        json!({"title": "four", "rank": 4, "owner": "mallory"}),
    )?;
    db.delete(d, MALLORY, "c2")?;
    db.put(d, MALLORY, "c6", json!({"title": "six", "rank": 6}))?;
    db.kv_put(d, MALLORY, "motd", json!("mallory was here"))?;
    db.put(d, BOB, "c7", json!({"title": "seven", "rank": 3}))?;
    db.kv_put(d, ALICE, "motd", json!("from alice"))?;
    db.kv_put(d, BOB, "note", json!({"by": "bob"}))
}

/// What each reader shows of the revoked writer's events past its cut: nothing [HP-91].
fn revoked_refused(d: &mut Driver, db: &Db) -> Result<Outcome, StepError> {
    for reader in [READER_A, READER_B] {
        let shown = json!({
            "c2 deleted": shown_json(&db.get(d, reader, "c2")?)["doc"].is_null(),
            "c4 owner": shown_json(&db.get(d, reader, "c4")?)["doc"]["owner"],
            "c6": shown_json(&db.get(d, reader, "c6")?)["doc"],
            "motd is mallory's": shown_json(&db.kv_get(d, reader, "motd")?)["value"] == "mallory was here",
        });
        let want =
            json!({"c2 deleted": false, "c4 owner": null, "c6": null, "motd is mallory's": false});
        if shown != want {
            return Ok(Err((
                format!("on {reader}: {want}"),
                format!("on {reader}: {shown}"),
            )));
        }
    }
    Ok(Ok(()))
}

/// Each query's result on each node that holds a view, in [`VIEWERS`] order.
type Answers = Vec<(&'static str, Vec<DbQueryResult>)>;

fn answers(d: &mut Driver, db: &Db) -> Result<Answers, StepError> {
    queries()
        .into_iter()
        .map(|(what, query)| {
            let results = VIEWERS
                .iter()
                .map(|node| db.query(d, node, query.clone()))
                .collect::<Result<_, _>>()?;
            Ok((what, results))
        })
        .collect()
}

/// Every node's result equals dbp-alice's; a failure names the query and the node.
fn agree(answers: &Answers) -> Outcome {
    for (what, results) in answers {
        for (node, result) in VIEWERS.iter().zip(results) {
            if result != &results[0] {
                return Err((
                    format!(
                        "query {what:?} on {node}: {} (as on {ALICE})",
                        shown(&results[0])
                    ),
                    format!("query {what:?} on {node}: {}", shown(result)),
                ));
            }
        }
    }
    Ok(())
}

fn shown(value: &impl serde::Serialize) -> String {
    shown_json(value).to_string()
}

/// The harness's own fold [HP-90]: the union of the events `node.read` gives on every node that
/// holds a view, less the revoked writer's events past `cut`, folded by the reference's
/// [`DbView`] [DB-11]. Record CIDs are not read, so each event gets a stand-in CID of its log,
/// seq and body: they only break ties between forks, and there are none.
fn oracle(d: &mut Driver, db: &Db, revoked: &str, cut: u64) -> Result<DbView, StepError> {
    let mut events = BTreeMap::new();
    for node in VIEWERS {
        let read: Events = d.step(Call::NodeRead(on(node, db.thread)))?;
        for event in read.events {
            if event.log == revoked && event.seq > cut {
                continue;
            }
            events.insert((event.log, event.seq), event.body.0);
        }
    }
    let mut records = Vec::new();
    for ((log, seq), body) in events {
        let log = LogId::from_str(&log).map_err(|e| StepError {
            step: "node.read".into(),
            detail: format!("the log {log:?} does not parse: {e}"),
            fault: None,
        })?;
        let stand_in = [&log.to_bytes()[..], &seq.to_be_bytes(), &body].concat();
        records.push(DbRecord {
            cid: threads::block::cid_of(&stand_in),
            log,
            seq,
            body,
        });
    }
    Ok(DbView::from_records(&records))
}

/// The oracle's result of `query` [HP-90]; `None` when it cannot answer it.
fn fold_result(fold: &DbView, query: &Value) -> Option<DbQueryResult> {
    let query = crate::adapter::query_of(query.as_object()?).ok()?;
    let coll = fold.collection(&query.coll).ok()?;
    let docs = query
        .run(coll)
        .docs
        .iter()
        .map(|(id, doc)| DbHit {
            id: id.clone(),
            doc: crate::adapter::dbjson::document_json(doc),
        })
        .collect();
    Some(DbQueryResult { docs })
}

/// Each reader's query results, motd and note equal the oracle's [HP-90].
fn match_fold(
    d: &mut Driver,
    db: &Db,
    fold: &DbView,
    answers: &Answers,
) -> Result<Outcome, StepError> {
    for ((what, results), (_, query)) in answers.iter().zip(queries()) {
        let want = fold_result(fold, &query);
        for (node, result) in VIEWERS.iter().zip(results) {
            if [READER_A, READER_B].contains(node) && want.as_ref() != Some(result) {
                return Ok(Err((
                    format!("query {what:?} on {node}: {} (the fold's)", shown(&want)),
                    format!("query {what:?} on {node}: {}", shown(result)),
                )));
            }
        }
    }
    for key in ["motd", "note"] {
        let want = fold.kv().get(key).map(crate::adapter::dbjson::json);
        let want = json!({"found": want.is_some(), "value": want});
        for reader in [READER_A, READER_B] {
            let got = shown_json(&db.kv_get(d, reader, key)?);
            if got != want {
                return Ok(Err((
                    format!("kv.get {key} on {reader}: {want} (the fold's)"),
                    format!("kv.get {key} on {reader}: {got}"),
                )));
            }
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_within_a_side_cross_the_partition() {
        let partition = Partition::new(&SIDE_A, &SIDE_B);
        assert!(!partition.crosses(ALICE, READER_A));
        assert!(!partition.crosses(MALLORY, READER_B));
        assert!(partition.crosses(ALICE, BOB));
        assert!(partition.crosses(READER_B, FOLLOWER));
        assert!(
            partition.crosses(ALICE, "dbp-nobody"),
            "a node on no side is cut off"
        );
        let every: BTreeSet<_> = SIDE_A.iter().chain(&SIDE_B).collect();
        assert_eq!(every.len(), NODES.len(), "each node is on exactly one side");
    }

    #[test]
    fn the_fold_answers_the_queries_as_a_node_would() {
        use threads::db::{DbEvent, Op, Schema};
        assert!(
            queries()
                .iter()
                .all(|(_, q)| fold_result(&DbView::new(), q).is_none())
        );
        let card = |title: &str, rank: i64| -> threads::db::Document {
            BTreeMap::from([
                ("rank".into(), threads::db::Value::Integer(rank)),
                ("title".into(), threads::db::Value::String(title.into())),
            ])
        };
        let ops = vec![
            Op::Collection {
                name: CARDS.into(),
                schema: Schema::default(),
                indexes: vec!["rank".into()],
            },
            Op::Create {
                coll: CARDS.into(),
                id: "b".into(),
                doc: card("bee", 4),
            },
            Op::Create {
                coll: CARDS.into(),
                id: "a".into(),
                doc: card("ant", 3),
            },
            Op::Create {
                coll: CARDS.into(),
                id: "c".into(),
                doc: card("cat", 1),
            },
        ];
        let body = DbEvent::new(1, ops).unwrap().to_bytes();
        let log = threads::sync::Peer::from_seed([7; 32]).id();
        let record = DbRecord {
            cid: threads::block::cid_of(&body),
            log,
            seq: 1,
            body,
        };
        let fold = DbView::from_records([&record]);
        let ids = |query: &Value| -> Vec<String> {
            let result = fold_result(&fold, query).expect("the fold answers");
            result.docs.into_iter().map(|hit| hit.id).collect()
        };
        let [q1, _, q3, q4] = queries().map(|(_, q)| q);
        assert_eq!(ids(&q1), ["b", "a"], "rank >= 3, rank descending");
        assert_eq!(ids(&q3), ["a", "b", "c"], "by ID");
        assert_eq!(ids(&q4), ["a", "b"], "rank ascending, skip 1, limit 3");
    }
}
