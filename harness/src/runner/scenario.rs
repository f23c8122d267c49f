//! Live scenarios ([HP-43] to [HP-45], [HP-47], [HP-70], [HP-71], and [HP-100] in
//! [`super::stranger`]): node instances in one adapter process, every message carried
//! by the harness, each expectation a named check citing a requirement tag.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use threads::id::Variant;
use threads::invite::InviteRole;

use super::client::Reply;
use super::driver::{Driver, PumpStats, StepError};
use super::progress::Progress;
use super::results::{CaseFailure, CaseResult, GroupKind, GroupResult, Status};
use super::select::Filter;
use super::session::Session;
use crate::protocol::{
    AclChanged, AclDocument, AclSet, Appended, Call, DbCommitted, DbDeclare, DbDelete, DbDoc,
    DbDocument, DbPut, DbQuery, DbQueryResult, DbSchema, DbViewCid, Event, Events, Head, Heads,
    HelloParams, Hex, InviteAccept, InviteAccepted, InviteExport, InviteExported, Keys, KvDel,
    KvKey, KvPut, KvValue, LogAppend, NodeThread, ThreadCreate, ThreadCreated,
};

/// One named expectation of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The check's name, unique within its scenario.
    pub name: &'static str,
    /// The requirement tag it checks.
    pub spec: &'static str,
    /// When it passes.
    pub description: &'static str,
}

/// A live scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name, as given to `--suite`.
    pub name: &'static str,
    /// The scenario features the adapter must list, every one [HP-16].
    pub features: &'static [&'static str],
    /// Its checks, in the order they are made.
    pub checks: &'static [Check],
    /// Its steps: pushes each check's outcome, in `checks` order.
    pub play: fn(&mut Driver, &mut Vec<Outcome>) -> Result<(), StepError>,
}

impl Scenario {
    /// The report name of a check: `<scenario>/<check>` [HP-43].
    pub fn case_name(&self, check: &Check) -> String {
        format!("{}/{}", self.name, check.name)
    }
}

/// How many events the writer appends.
const EVENTS: u64 = 5;

/// The `writer-follower-reader` scenario [HP-45].
pub const WRITER_FOLLOWER_READER: Scenario = Scenario {
    name: "writer-follower-reader",
    features: &["nodes"],
    checks: &[
        Check {
            name: "thread-id",
            spec: "TID-6",
            description: "thread.create gives the canonical text of a valid raw Thread ID: `b`, base32 lower case, no padding",
        },
        Check {
            name: "log-id",
            spec: "LOGID-2",
            description: "thread.create gives the writer's log as the canonical base58btc text of a valid log ID",
        },
        Check {
            name: "writer-appends",
            spec: "LOG-1",
            description: "the i-th log.append reply has the writer's log L and seq i",
        },
        Check {
            name: "writer-heads",
            spec: "LOG-2",
            description: "the writer's logs[L] is {head: the 5th recordCid, counter: 5}",
        },
        Check {
            name: "follower-role",
            spec: "KEY-6",
            description: "the follower's invite.accept gives {thread: T, role: follower}",
        },
        Check {
            name: "follower-heads",
            spec: "LOG-3",
            description: "after the pump, the follower's logs[L] equals the writer's",
        },
        Check {
            name: "follower-cannot-read",
            spec: "KEY-7",
            description: "node.read on the follower fails with KEY_UNAVAILABLE: it holds no plaintext",
        },
        Check {
            name: "reader-role",
            spec: "KEY-6",
            description: "the reader's invite.accept gives {thread: T, role: reader}",
        },
        Check {
            name: "reader-heads",
            spec: "LOG-2",
            description: "with the writer offline, after the pump the reader's logs[L] equals the writer's",
        },
        Check {
            name: "reader-reads",
            spec: "VERIFY-2",
            description: "node.read on the reader gives exactly the 5 events {log: L, seq: i, body: bi, time: τi}, in order",
        },
    ],
    play: writer_follower_reader,
};

/// The `acl-revocation` scenario [HP-47]: invites in an access-controlled thread give each peer
/// exactly its keys, and a revoked writer's new records are refused by the other readers.
pub const ACL_REVOCATION: Scenario = Scenario {
    name: "acl-revocation",
    features: &["acl"],
    checks: &[
        Check {
            name: "invite-beyond-role-refused",
            spec: "INV-9",
            description: "invite.export of a reader invite for the follower fails with ACL_DENIED",
        },
        Check {
            name: "reader-keys",
            spec: "KEY-6",
            description: "node.keys on the reader equals the admin's: follow and read keys",
        },
        Check {
            name: "follower-keys",
            spec: "KEY-6",
            description: "node.keys on the follower has the admin's follow key and readKey null",
        },
        Check {
            name: "writer-accepted",
            spec: "ACL-7",
            description: "after the pump, the reader holds the writer's join and its 2 events (counter 3)",
        },
        Check {
            name: "revoked-refused-by-admin",
            spec: "ACL-7",
            description: "after the revocation (cut 3) and a 4th record, node.read on the admin shows the writer's 2 events but not the 4th",
        },
        Check {
            name: "revoked-refused-by-reader",
            spec: "ACL-7",
            description: "node.read on the reader shows the writer's 2 events but not the 4th",
        },
        Check {
            name: "acl-converges",
            spec: "ACL-6",
            description: "node.acl on the reader equals node.acl on the admin",
        },
        Check {
            name: "writer-join-event",
            spec: "INV-7",
            description: "in the admin's node.read, the first event of acl-writer's log is a join event: the canonical DAG-CBOR map {type, addrs} whose addresses name that log",
        },
        Check {
            name: "acl-document",
            spec: "HP-49",
            description: "node.acl on the admin is the genesis with every change applied: \
                          admins [admin]; peers admin [write], writer [read], reader [read], \
                          follower [follow]",
        },
    ],
    play: acl_revocation,
};

/// The `db-concurrent-edits` scenario [HP-70]: two writers edit the same documents and keys
/// concurrently; once every message is delivered, every peer shows the same view.
pub const DB_CONCURRENT_EDITS: Scenario = Scenario {
    name: "db-concurrent-edits",
    features: &["db"],
    checks: &[
        Check {
            name: "base-replicated",
            spec: "DB-11",
            description: "after the first pump, db.view on db-bob and on db-carol equals db.view on db-alice",
        },
        Check {
            name: "views-converge",
            spec: "DB-15",
            description: "after the concurrent edits and a pump, db.view gives the same viewCid on db-alice, db-bob and db-carol",
        },
        Check {
            name: "patches-merge",
            spec: "DB-10",
            description: "db.get notes/a on db-carol is {n: 1, tag: \"bob\", title: \"alpha\"}: both concurrent saves applied",
        },
        Check {
            name: "delete-races-save",
            spec: "DB-12",
            description: "db.get notes/b on db-carol is {doc: null}: the delete wins whichever of it and the concurrent save comes first",
        },
        Check {
            name: "kv-converges",
            spec: "DB-11",
            description: "kv.get motd is the same on db-alice, db-bob and db-carol, and one of the two concurrent values",
        },
        Check {
            name: "kv-deleted",
            spec: "DB-12",
            description: "kv.get old on db-carol is {found: false, value: null}",
        },
        Check {
            name: "query-order",
            spec: "DB-18",
            description: "db.query of notes with n >= 1 sorted by n on db-carol gives the IDs a, c, d: ties broken by ID",
        },
        Check {
            name: "queries-converge",
            spec: "DB-18",
            description: "that db.query gives equal results (IDs and documents) on db-alice, db-bob and db-carol",
        },
    ],
    play: db_concurrent_edits,
};

/// The `db-access` scenario [HP-71]: a delete by a writer whose write role was revoked is not
/// applied by any peer.
pub const DB_ACCESS: Scenario = Scenario {
    name: "db-access",
    features: &["db", "acl"],
    checks: &[
        Check {
            name: "writer-sees-document",
            spec: "DB-13",
            description: "after the pump, db.get docs/x on dba-writer is {v: 1}",
        },
        Check {
            name: "unauthorised-delete-refused-by-admin",
            spec: "DB-13",
            description: "after the revocation and the revoked writer's delete of x, db.get docs/x on dba-admin is still {v: 1}",
        },
        Check {
            name: "unauthorised-delete-refused-by-reader",
            spec: "DB-13",
            description: "db.get docs/x on dba-reader is still {v: 1}",
        },
        Check {
            name: "views-converge",
            spec: "DB-15",
            description: "db.view gives the same viewCid on dba-admin, dba-reader and dba-writer",
        },
    ],
    play: db_access,
};

/// Every live scenario, in run order.
pub const SCENARIOS: &[Scenario] = &[
    WRITER_FOLLOWER_READER,
    ACL_REVOCATION,
    DB_CONCURRENT_EDITS,
    DB_ACCESS,
    super::partitioned::DB_PARTITIONED_EDITS,
    super::stranger::STRANGER,
    super::prover::NONCE_SCOPE,
    super::records::WRITER_RECORDS,
    HANDSHAKE,
];

/// The `handshake` scenario [HP-15]: a negative case of appendix H that a run never meets, a
/// `hello` of another protocol, sent as the first request of an adapter process of its own. It
/// needs no feature and creates no node.
pub const HANDSHAKE: Scenario = Scenario {
    name: "handshake",
    features: &[],
    checks: &[Check {
        name: "other-protocol-refused",
        spec: "HP-15",
        description: "a hello with protocol 2, the first request of a new adapter process, gets \
                      the error BAD_REQUEST",
    }],
    play: handshake,
};

/// The steps of [`HANDSHAKE`].
fn handshake(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let other = Call::Hello(HelloParams {
        protocol: 2,
        ..HelloParams::this_harness()
    });
    let reply = d.probe(other)?;
    made.push(fails_with(&reply, "BAD_REQUEST"));
    Ok(())
}

/// The seed of node `node` in scenario `scenario`: SHA-256 of `threads-harness/<scenario>/<node>`
/// [HP-43].
pub fn seed(scenario: &str, node: &str) -> [u8; 32] {
    Sha256::digest(format!("threads-harness/{scenario}/{node}")).into()
}

/// The selected checks of a scenario.
pub fn selected(scenario: &Scenario, filter: &Filter) -> Vec<Check> {
    scenario
        .checks
        .iter()
        .filter(|c| {
            let name = scenario.case_name(c);
            filter.matches(
                scenario.name,
                &[c.name, &name],
                &[&name, c.description, c.spec],
            )
        })
        .copied()
        .collect()
}

/// Runs a scenario and reports its selected checks; skips them all when the adapter lacks the
/// scenario's feature [HP-16].
pub fn run_scenario(
    session: &mut Session,
    scenario: &Scenario,
    filter: &Filter,
    progress: &mut Progress,
) -> GroupResult {
    run_scenario_unless(session, scenario, filter, progress, None)
}

/// [`run_scenario`], or, with `skip`, every selected check skipped for that reason.
pub fn run_scenario_unless(
    session: &mut Session,
    scenario: &Scenario,
    filter: &Filter,
    progress: &mut Progress,
    skip: Option<String>,
) -> GroupResult {
    let checks = selected(scenario, filter);
    let mut group = GroupResult {
        name: scenario.name.to_string(),
        kind: GroupKind::Scenario,
        skipped: None,
        cases: Vec::new(),
        notes: Vec::new(),
    };
    let missing: Vec<&str> = scenario
        .features
        .iter()
        .filter(|f| !session.hello().scenarios.contains(**f))
        .copied()
        .collect();
    let statuses = if let Some(reason) = skip {
        group.skipped = Some(reason);
        BTreeMap::new()
    } else if missing.is_empty() {
        let (statuses, notes) = play(session, scenario);
        group.notes = notes;
        statuses
    } else {
        let names: Vec<String> = missing.iter().map(|f| format!("{f:?}")).collect();
        let plural = if names.len() == 1 { "" } else { "s" };
        group.skipped = Some(format!(
            "the adapter does not list the scenario feature{plural} {}",
            names.join(", ")
        ));
        BTreeMap::new()
    };
    for check in &checks {
        let status = match (&group.skipped, statuses.get(check.name)) {
            (Some(reason), _) => Status::Skipped(reason.clone()),
            (None, Some(status)) => status.clone(),
            (None, None) => Status::Failed(failure(
                check.description.into(),
                "the check was never made".into(),
                Vec::new(),
            )),
        };
        group.cases.push(CaseResult {
            id: scenario.case_name(check),
            comment: check.description.to_string(),
            spec_section: check.spec.to_string(),
            flags: Vec::new(),
            status,
        });
        progress.update(&group, checks.len());
    }
    group
}

/// A failed check, with where its structured expected and actual values differ [HP-85].
fn failure(expected: String, actual: String, stderr: Vec<String>) -> CaseFailure {
    CaseFailure {
        diff: super::diff::from_texts(&expected, &actual),
        expected,
        actual,
        note: None,
        stderr,
        inputs: None,
    }
}

/// A check's outcome: `Err((expected, actual))` when it does not hold.
pub type Outcome = Result<(), (String, String)>;

/// Plays the scenario: every check's status by name, and the run's notes. When a step fails,
/// every check not yet made fails with that step's error [HP-43].
fn play(
    session: &mut Session,
    scenario: &Scenario,
) -> (BTreeMap<&'static str, Status>, Vec<String>) {
    let mut made = Vec::new();
    session.begin(super::session::CaseKey {
        group: scenario.name.to_string(),
        id: None,
    });
    let (stopped, notes, mark) = match session.ready() {
        Err(fault) => {
            let error = StepError {
                step: "starting the adapter".into(),
                detail: fault.to_string(),
                fault: Some(fault),
            };
            (Some(error), Vec::new(), 0)
        }
        Ok(()) => {
            let mark = session.stderr_mark();
            let mut driver = Driver::new(session);
            let stopped = (scenario.play)(&mut driver, &mut made).err();
            (stopped, driver.notes(), mark)
        }
    };
    let mut outcomes = made.into_iter();
    let mut statuses = BTreeMap::new();
    for check in scenario.checks {
        let status = match (outcomes.next(), &stopped) {
            (Some(Ok(())), _) => Status::Passed,
            (Some(Err((expected, actual))), _) => {
                Status::Failed(failure(expected, actual, session.stderr_since(mark)))
            }
            (None, Some(error)) => Status::Failed(CaseFailure {
                expected: check.description.to_string(),
                actual: format!("not checked: {error}"),
                note: error.fault.as_ref().map(|f| f.kind.note().to_string()),
                stderr: match &error.fault {
                    Some(fault) => fault.stderr.clone(),
                    None => session.stderr_since(mark),
                },
                ..CaseFailure::default()
            }),
            (None, None) => continue,
        };
        statuses.insert(check.name, status);
    }
    (statuses, notes)
}

/// The steps of [HP-45]; pushes each check's outcome in [`WRITER_FOLLOWER_READER`]'s order.
fn writer_follower_reader(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = WRITER_FOLLOWER_READER.name;
    for node in ["writer", "follower", "reader"] {
        d.create(node, seed(name, node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: "writer".into(),
        variant: Variant::Raw,
        time: d.now(),
    }))?;
    let (thread, log) = (created.thread, created.log);
    made.push(canonical_thread(&thread, Variant::Raw));
    made.push(canonical_log(&log));
    let mut appended = Vec::new();
    let mut events = Vec::new();
    for seq in 1..=EVENTS {
        let body = format!("event {seq}").into_bytes();
        let time = d.now();
        appended.push(append(d, "writer", &thread, &body)?);
        let log = log.clone();
        events.push(Event {
            log,
            seq,
            body: Hex(body),
            time,
        });
    }
    made.push(appends(&log, &appended));
    let writer_head = heads(d, "writer", &thread)?.logs.remove(&log);
    let want = Head {
        head: appended.last().map(|a| a.record_cid.clone()),
        counter: EVENTS,
    };
    made.push(equal(&Some(want), &writer_head));

    let invite = export_invite(d, "writer", &thread, InviteRole::Follower, "follower")?;
    let accepted = accept(d, "follower", invite)?;
    made.push(role(&accepted, &thread, InviteRole::Follower));
    let pump = d.pump()?;
    let follower_head = heads(d, "follower", &thread)?.logs.remove(&log);
    made.push(after(pump, equal(&writer_head, &follower_head)));
    let read = d.call(Call::NodeRead(on("follower", &thread)))?;
    made.push(fails_with(&read, "KEY_UNAVAILABLE"));

    let invite = export_invite(d, "writer", &thread, InviteRole::Reader, "reader")?;
    d.stop("writer")?;
    let accepted = accept(d, "reader", invite)?;
    made.push(role(&accepted, &thread, InviteRole::Reader));
    let pump = d.pump()?;
    let reader_head = heads(d, "reader", &thread)?.logs.remove(&log);
    made.push(after(pump, equal(&writer_head, &reader_head)));
    let read: Events = d.step(Call::NodeRead(on("reader", &thread)))?;
    made.push(after(pump, equal(&events, &read.events)));
    Ok(())
}

/// A creator's Thread ID, decoded and written again: it must be the same text [TID-6], of the
/// variant asked for [TID-3]. Checked on what the implementation produced, not on vectors.
fn canonical_thread(text: &str, variant: Variant) -> Outcome {
    let want = format!("the canonical text of a {variant:?} TID");
    match text.parse::<threads::id::ThreadId>() {
        Ok(tid) if tid.to_string() == text && tid.variant() == variant => Ok(()),
        Ok(tid) => Err((
            format!("{want}: {tid}"),
            format!("{text:?} (a {:?} TID)", tid.variant()),
        )),
        Err(e) => Err((want, format!("{text:?}: [{}] {e}", e.code.name()))),
    }
}

/// A creator's log ID, decoded and written again: it must be the same text [LOGID-2].
fn canonical_log(text: &str) -> Outcome {
    let want = "the canonical text of a valid log ID".to_string();
    match text.parse::<threads::id::LogId>() {
        Ok(log) if log.to_string() == text => Ok(()),
        Ok(log) => Err((format!("{want}: {log}"), format!("{text:?}"))),
        Err(e) => Err((want, format!("{text:?}: [{}] {e}", e.code.name()))),
    }
}

/// A node and a thread: the params of `node.heads`, `node.read`, `node.acl` and `node.keys`.
pub(super) fn on(node: &str, thread: &str) -> NodeThread {
    NodeThread {
        node: node.into(),
        thread: thread.into(),
    }
}

pub(super) fn heads(d: &mut Driver, node: &str, thread: &str) -> Result<Heads, StepError> {
    d.step(Call::NodeHeads(on(node, thread)))
}

pub(super) fn append(
    d: &mut Driver,
    node: &str,
    thread: &str,
    body: &[u8],
) -> Result<Appended, StepError> {
    d.step(Call::LogAppend(LogAppend {
        node: node.into(),
        thread: thread.into(),
        body: Hex::from(body),
        time: d.now(),
    }))
}

fn invite_export(from: &str, thread: &str, role: InviteRole, to: &str) -> Call {
    Call::InviteExport(InviteExport {
        node: from.into(),
        thread: thread.into(),
        role,
        recipient: to.into(),
    })
}

pub(super) fn export_invite(
    d: &mut Driver,
    from: &str,
    thread: &str,
    role: InviteRole,
    to: &str,
) -> Result<Hex, StepError> {
    let exported: InviteExported = d.step(invite_export(from, thread, role, to))?;
    Ok(exported.invite)
}

pub(super) fn accept(d: &mut Driver, node: &str, invite: Hex) -> Result<InviteAccepted, StepError> {
    d.step(Call::InviteAccept(InviteAccept {
        node: node.into(),
        invite,
        time: d.now(),
    }))
}

fn set_roles(
    d: &mut Driver,
    thread: &str,
    peer: &str,
    roles: &[&str],
) -> Result<AclChanged, StepError> {
    set_roles_by(d, "acl-admin", thread, peer, roles)
}

pub(super) fn set_roles_by(
    d: &mut Driver,
    admin: &str,
    thread: &str,
    peer: &str,
    roles: &[&str],
) -> Result<AclChanged, StepError> {
    d.step(Call::AclSet(AclSet {
        node: admin.into(),
        thread: thread.into(),
        peer: peer.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        time: d.now(),
    }))
}

/// The steps of [HP-47]; pushes each check's outcome in [`ACL_REVOCATION`]'s order.
fn acl_revocation(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = ACL_REVOCATION.name;
    let mut peers = BTreeMap::new();
    for node in ["acl-admin", "acl-writer", "acl-reader", "acl-follower"] {
        peers.insert(node, d.create(node, seed(name, node))?);
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: "acl-admin".into(),
        variant: Variant::AccessControlled,
        time: d.now(),
    }))?;
    let thread = created.thread;
    for (node, role) in [
        ("acl-writer", "write"),
        ("acl-reader", "read"),
        ("acl-follower", "follow"),
    ] {
        set_roles(d, &thread, node, &[role])?;
    }
    let beyond = invite_export("acl-admin", &thread, InviteRole::Reader, "acl-follower");
    let beyond = d.call(beyond)?;
    made.push(fails_with(&beyond, "ACL_DENIED"));
    for (node, role) in [
        ("acl-writer", InviteRole::Writer),
        ("acl-reader", InviteRole::Reader),
        ("acl-follower", InviteRole::Follower),
    ] {
        let invite = export_invite(d, "acl-admin", &thread, role, node)?;
        accept(d, node, invite)?;
    }
    d.pump()?;
    let keys = |d: &mut Driver, node: &str| -> Result<Keys, StepError> {
        d.step(Call::NodeKeys(on(node, &thread)))
    };
    let admin_keys = keys(d, "acl-admin")?;
    made.push(equal(&admin_keys, &keys(d, "acl-reader")?));
    let want = Keys {
        follow_key: admin_keys.follow_key.clone(),
        read_key: None,
    };
    made.push(equal(&want, &keys(d, "acl-follower")?));

    for i in 1..=2 {
        append(d, "acl-writer", &thread, format!("allowed {i}").as_bytes())?;
    }
    let pump = d.pump()?;
    let writer_log = &peers["acl-writer"];
    let counter = heads(d, "acl-reader", &thread)?
        .logs
        .get(writer_log)
        .map(|h| h.counter);
    made.push(after(pump, equal(&Some(3), &counter)));

    // The admin revokes write; the writer, not told yet, appends once more.
    set_roles(d, &thread, "acl-writer", &["read"])?;
    append(d, "acl-writer", &thread, b"too late")?;
    let pump = d.pump()?;
    // Refused means not applied [ACL-7]: the record may be stored, but no view shows it.
    let bodies: [&[u8]; 3] = [b"allowed 1", b"allowed 2", b"too late"];
    let mut joined = Err(("a join event".to_string(), "no node.read".to_string()));
    for node in ["acl-admin", "acl-reader"] {
        let read: Events = d.step(Call::NodeRead(on(node, &thread)))?;
        let shown = bodies.map(|b| read.events.iter().any(|e| e.body.0 == b));
        made.push(after(pump, equal(&[true, true, false], &shown)));
        if node == "acl-admin" {
            joined = after(pump, join_event(&read.events, writer_log));
        }
    }
    let acl = |d: &mut Driver, node: &str| -> Result<AclDocument, StepError> {
        d.step(Call::NodeAcl(on(node, &thread)))
    };
    let admin_acl = acl(d, "acl-admin")?;
    made.push(equal(&admin_acl, &acl(d, "acl-reader")?));
    made.push(joined);
    made.push(equal(&expected_acl(&thread, &peers), &admin_acl));
    Ok(())
}

/// The first event of an invited writer's log, as a reader lists it, is its join event: the
/// canonical map of [INV-7] whose addresses are valid and name the log. Checked on what the
/// implementation produced.
fn join_event(events: &[Event], log: &str) -> Outcome {
    let want = format!("seq 1 of {log}: a canonical join body naming that log");
    let Some(first) = events.iter().find(|e| e.log == log && e.seq == 1) else {
        return Err((want, "no event at seq 1 of the log".into()));
    };
    let parsed = threads::id::LogId::from_str(log).map_err(|e| (want.clone(), e.to_string()))?;
    match threads::invite::Join::from_bytes(&first.body.0, &parsed) {
        Ok(_) => Ok(()),
        Err(e) => Err((
            want,
            format!(
                "{} ([{}] {})",
                hex::encode(&first.body.0),
                e.code.name(),
                e.detail
            ),
        )),
    }
}

/// The ACL document the admin holds at the end of `acl-revocation` [HP-49]: the genesis of
/// [HP-33] with every change of the scenario applied, the writer's revocation last.
fn expected_acl(thread: &str, peers: &BTreeMap<&str, String>) -> AclDocument {
    let entry = |node: &str, role: &str| (peers[node].clone(), json!([role]));
    let entries: serde_json::Map<String, Value> = [
        entry("acl-admin", "write"),
        entry("acl-writer", "read"),
        entry("acl-reader", "read"),
        entry("acl-follower", "follow"),
    ]
    .into_iter()
    .collect();
    AclDocument {
        document: json!({
            "_id": thread,
            "admins": [peers["acl-admin"]],
            "default": "no-access",
            "peers": entries,
        }),
    }
}

/// The database steps of one thread.
pub(super) struct Db<'t> {
    pub(super) thread: &'t str,
    pub(super) coll: &'static str,
}

impl Db<'_> {
    pub(super) fn declare(
        &self,
        d: &mut Driver,
        node: &str,
        schema: DbSchema,
        indexes: &[&str],
    ) -> Step {
        let _: DbCommitted = d.step(Call::DbDeclare(DbDeclare {
            node: node.into(),
            thread: self.thread.into(),
            collection: self.coll.into(),
            schema,
            indexes: indexes.iter().map(|i| i.to_string()).collect(),
            time: d.now(),
        }))?;
        Ok(())
    }

    pub(super) fn put(&self, d: &mut Driver, node: &str, id: &str, doc: Value) -> Step {
        let doc = match doc {
            Value::Object(doc) => doc,
            _ => Default::default(),
        };
        let _: DbCommitted = d.step(Call::DbPut(DbPut {
            node: node.into(),
            thread: self.thread.into(),
            collection: self.coll.into(),
            id: id.into(),
            doc,
            time: d.now(),
        }))?;
        Ok(())
    }

    pub(super) fn delete(&self, d: &mut Driver, node: &str, id: &str) -> Step {
        let _: DbCommitted = d.step(Call::DbDelete(DbDelete {
            node: node.into(),
            thread: self.thread.into(),
            collection: self.coll.into(),
            id: id.into(),
            time: d.now(),
        }))?;
        Ok(())
    }

    pub(super) fn get(
        &self,
        d: &mut Driver,
        node: &str,
        id: &str,
    ) -> Result<DbDocument, StepError> {
        d.step(Call::DbGet(DbDoc {
            node: node.into(),
            thread: self.thread.into(),
            collection: self.coll.into(),
            id: id.into(),
        }))
    }

    pub(super) fn kv_put(&self, d: &mut Driver, node: &str, key: &str, value: Value) -> Step {
        let _: DbCommitted = d.step(Call::KvPut(KvPut {
            node: node.into(),
            thread: self.thread.into(),
            key: key.into(),
            value,
            time: d.now(),
        }))?;
        Ok(())
    }

    pub(super) fn kv_del(&self, d: &mut Driver, node: &str, key: &str) -> Step {
        let _: DbCommitted = d.step(Call::KvDel(KvDel {
            node: node.into(),
            thread: self.thread.into(),
            key: key.into(),
            time: d.now(),
        }))?;
        Ok(())
    }

    pub(super) fn kv_get(
        &self,
        d: &mut Driver,
        node: &str,
        key: &str,
    ) -> Result<KvValue, StepError> {
        d.step(Call::KvGet(KvKey {
            node: node.into(),
            thread: self.thread.into(),
            key: key.into(),
        }))
    }

    pub(super) fn query(
        &self,
        d: &mut Driver,
        node: &str,
        query: Value,
    ) -> Result<DbQueryResult, StepError> {
        let query = match query {
            Value::Object(query) => query,
            _ => Default::default(),
        };
        d.step(Call::DbQuery(DbQuery {
            node: node.into(),
            thread: self.thread.into(),
            query,
        }))
    }

    /// The view CIDs of `nodes`, in order.
    pub(super) fn views(&self, d: &mut Driver, nodes: &[&str]) -> Result<Vec<String>, StepError> {
        nodes
            .iter()
            .map(|node| {
                let view: DbViewCid = d.step(Call::DbView(on(node, self.thread)))?;
                Ok(view.view_cid)
            })
            .collect()
    }
}

pub(super) type Step = Result<(), StepError>;

/// Passes when the value of every node in `nodes` equals the first node's; `values` are in
/// `nodes` order.
pub(super) fn all_equal<T: Serialize + PartialEq>(nodes: &[&str], values: &[T]) -> Outcome {
    match values.first() {
        Some(first) if values.iter().any(|v| v != first) => {
            // By node name, so the report's diff names the nodes that differ from the first.
            let by_node = |pick: &dyn Fn(&T) -> Value| -> String {
                let object: serde_json::Map<String, Value> = nodes
                    .iter()
                    .zip(values)
                    .map(|(node, v)| (node.to_string(), pick(v)))
                    .collect();
                Value::Object(object).to_string()
            };
            let first = shown_json(first);
            Err((by_node(&|_| first.clone()), by_node(&|v| shown_json(v))))
        }
        _ => Ok(()),
    }
}

/// The steps of [HP-70]; pushes each check's outcome in [`DB_CONCURRENT_EDITS`]'s order.
fn db_concurrent_edits(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = DB_CONCURRENT_EDITS.name;
    let nodes = ["db-alice", "db-bob", "db-carol"];
    for node in nodes {
        d.create(node, seed(name, node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: "db-alice".into(),
        variant: Variant::Raw,
        time: d.now(),
    }))?;
    let db = Db {
        thread: &created.thread,
        coll: "notes",
    };
    let schema = DbSchema {
        fields: BTreeMap::from([
            ("n".into(), vec!["integer".into()]),
            ("title".into(), vec!["string".into()]),
        ]),
        required: vec!["title".into()],
    };
    db.declare(d, "db-alice", schema, &["n"])?;
    db.put(d, "db-alice", "a", json!({"title": "a", "n": 1}))?;
    db.put(d, "db-alice", "b", json!({"title": "b", "n": 1}))?;
    db.kv_put(d, "db-alice", "motd", json!("hello"))?;
    db.kv_put(d, "db-alice", "old", json!({"x": [1, null]}))?;
    for (node, role) in [
        ("db-bob", InviteRole::Writer),
        ("db-carol", InviteRole::Reader),
    ] {
        let invite = export_invite(d, "db-alice", db.thread, role, node)?;
        accept(d, node, invite)?;
    }
    let pump = d.pump()?;
    made.push(after(pump, all_equal(&nodes, &db.views(d, &nodes)?)));

    // Concurrent edits: neither writer hears of the other's until the next pump.
    db.put(d, "db-alice", "a", json!({"title": "alpha", "n": 1}))?;
    db.put(
        d,
        "db-bob",
        "a",
        json!({"title": "a", "n": 1, "tag": "bob"}),
    )?;
    db.kv_put(d, "db-alice", "motd", json!("from alice"))?;
    db.kv_put(d, "db-bob", "motd", json!("from bob"))?;
    db.delete(d, "db-alice", "b")?;
    db.put(d, "db-bob", "b", json!({"title": "b", "n": 2}))?;
    db.put(d, "db-bob", "c", json!({"title": "c", "n": 1}))?;
    db.put(d, "db-alice", "d", json!({"title": "d", "n": 1}))?;
    db.kv_del(d, "db-bob", "old")?;
    let pump = d.pump()?;
    made.push(after(pump, all_equal(&nodes, &db.views(d, &nodes)?)));
    let a = db.get(d, "db-carol", "a")?;
    let merged = json!({"doc": {"n": 1, "tag": "bob", "title": "alpha"}});
    made.push(after(pump, equal(&merged, &shown_json(&a))));
    let b = db.get(d, "db-carol", "b")?;
    made.push(after(pump, equal(&json!({"doc": null}), &shown_json(&b))));
    let motd = nodes
        .iter()
        .map(|node| db.kv_get(d, node, "motd").map(|v| shown_json(&v)))
        .collect::<Result<Vec<_>, _>>()?;
    made.push(after(
        pump,
        all_equal(&nodes, &motd).and_then(|()| {
            let one_of = [
                json!({"found": true, "value": "from alice"}),
                json!({"found": true, "value": "from bob"}),
            ];
            match one_of.contains(&motd[0]) {
                true => Ok(()),
                false => Err((shown(&one_of), shown(&motd[0]))),
            }
        }),
    ));
    let old = db.kv_get(d, "db-carol", "old")?;
    let gone = json!({"found": false, "value": null});
    made.push(after(pump, equal(&gone, &shown_json(&old))));
    let query = json!({
        "coll": "notes",
        "filter": {"field": "n", "op": "gte", "value": 1},
        "sort": [{"desc": false, "field": "n"}],
    });
    let results = nodes
        .iter()
        .map(|node| db.query(d, node, query.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<&str> = results[2].docs.iter().map(|h| h.id.as_str()).collect();
    made.push(after(pump, equal(&["a", "c", "d"][..], &ids[..])));
    made.push(after(pump, all_equal(&nodes, &results)));
    Ok(())
}

/// The steps of [HP-71]; pushes each check's outcome in [`DB_ACCESS`]'s order.
fn db_access(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = DB_ACCESS.name;
    let nodes = ["dba-admin", "dba-reader", "dba-writer"];
    for node in ["dba-admin", "dba-writer", "dba-reader"] {
        d.create(node, seed(name, node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: "dba-admin".into(),
        variant: Variant::AccessControlled,
        time: d.now(),
    }))?;
    let db = Db {
        thread: &created.thread,
        coll: "docs",
    };
    for (node, role, invite) in [
        ("dba-writer", "write", InviteRole::Writer),
        ("dba-reader", "read", InviteRole::Reader),
    ] {
        set_roles_by(d, "dba-admin", db.thread, node, &[role])?;
        let invite = export_invite(d, "dba-admin", db.thread, invite, node)?;
        accept(d, node, invite)?;
    }
    db.declare(d, "dba-admin", DbSchema::default(), &[])?;
    db.put(d, "dba-admin", "x", json!({"v": 1}))?;
    let pump = d.pump()?;
    let kept = json!({"doc": {"v": 1}});
    let seen = db.get(d, "dba-writer", "x")?;
    made.push(after(pump, equal(&kept, &shown_json(&seen))));

    // The admin revokes write; the writer, not told yet, deletes the document.
    set_roles_by(d, "dba-admin", db.thread, "dba-writer", &["read"])?;
    db.delete(d, "dba-writer", "x")?;
    let pump = d.pump()?;
    for node in ["dba-admin", "dba-reader"] {
        let x = db.get(d, node, "x")?;
        made.push(after(pump, equal(&kept, &shown_json(&x))));
    }
    made.push(after(pump, all_equal(&nodes, &db.views(d, &nodes)?)));
    Ok(())
}

/// A result as JSON, compared on the members of the spec only.
pub(super) fn shown_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A value as a check's report shows it: JSON, with object members sorted by name.
fn shown(value: &impl Serialize) -> String {
    serde_json::to_value(value).map_or_else(|e| format!("<{e}>"), |v| v.to_string())
}

/// Passes when `actual` equals `expected`.
pub(super) fn equal<T: Serialize + PartialEq + ?Sized>(expected: &T, actual: &T) -> Outcome {
    if expected == actual {
        Ok(())
    } else {
        Err((shown(&expected), shown(&actual)))
    }
}

/// Adds what the pump did to a failed outcome.
pub(super) fn after(pump: PumpStats, outcome: Outcome) -> Outcome {
    outcome.map_err(|(expected, actual)| (expected, format!("{actual} ({pump})")))
}

fn appends(log: &str, appended: &[Appended]) -> Outcome {
    let want: Vec<(&str, u64)> = (1..=EVENTS).map(|seq| (log, seq)).collect();
    let got: Vec<(&str, u64)> = appended.iter().map(|a| (a.log.as_str(), a.seq)).collect();
    if want == got {
        Ok(())
    } else {
        let list = |pairs: Vec<(&str, u64)>| {
            let objects: Vec<Value> = pairs
                .into_iter()
                .map(|(log, seq)| json!({"log": log, "seq": seq}))
                .collect();
            Value::from(objects).to_string()
        };
        Err((list(want), list(got)))
    }
}

fn role(accepted: &InviteAccepted, thread: &str, role: InviteRole) -> Outcome {
    let want = InviteAccepted {
        thread: thread.into(),
        role,
    };
    equal(&want, accepted)
}

pub(super) fn fails_with(reply: &Reply, code: &str) -> Outcome {
    match reply {
        Err(error) if error.code == code => Ok(()),
        Err(error) => Err((format!("error {code}"), format!("error {error}"))),
        Ok(result) => Err((format!("error {code}"), format!("result {result}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn seeds_are_those_of_the_spec() {
        // spec/harness-protocol.md, HP-45.
        let scenario = WRITER_FOLLOWER_READER.name;
        assert_eq!(
            hex::encode(seed(scenario, "writer")),
            "8b14d6cbf6b58273cb2fef680357063fdc7519290593a9e1ac56fee0e957b06e"
        );
        assert_eq!(
            hex::encode(seed(scenario, "reader")),
            "57c2693f6f7b8f5cdc1de20695f22cb11103143252e29d87dccfaedd6ba0001c"
        );
    }

    #[test]
    fn check_names_are_unique_and_tags_exist_in_the_spec() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
        let tags = threads_vectors::lint::spec_tags(&spec).expect("spec/ is readable");
        for scenario in SCENARIOS {
            let mut names: Vec<_> = scenario.checks.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), scenario.checks.len(), "{}", scenario.name);
            for check in scenario.checks {
                assert!(
                    tags.contains_key(check.spec),
                    "{} cites unknown {}",
                    check.name,
                    check.spec
                );
            }
        }
    }

    #[test]
    fn results_are_compared_on_the_members_of_the_spec_only() {
        let heads: Heads = crate::protocol::result_as(
            &json!({"logs": {"L": {"head": "c5", "counter": 5, "x": 1}}}),
        )
        .unwrap();
        let want = Head {
            head: Some("c5".into()),
            counter: 5,
        };
        assert_eq!(
            equal(&Some(want.clone()), &heads.logs.get("L").cloned()),
            Ok(())
        );
        let (expected, actual) = equal(&Some(want), &None).unwrap_err();
        assert_eq!(
            (expected.as_str(), actual.as_str()),
            (r#"{"counter":5,"head":"c5"}"#, "null")
        );
    }

    #[test]
    fn events_must_be_exactly_those_expected() {
        let event = |log: &str, body: u8| Event {
            log: log.into(),
            seq: 1,
            body: Hex(vec![body]),
            time: 7,
        };
        let read: Events = crate::protocol::result_as(
            &json!({"events": [{"log": "L", "seq": 1, "body": "aa", "time": 7, "x": 0}]}),
        )
        .unwrap();
        assert_eq!(equal(&vec![event("L", 0xaa)], &read.events), Ok(()));
        let extra = vec![event("L", 0xaa), event("M", 0xbb)];
        assert!(equal(&vec![event("L", 0xaa)], &extra).is_err());
    }

    #[test]
    fn a_disagreement_is_reported_by_node_name() {
        let nodes = ["n-a", "n-b", "n-c"];
        assert_eq!(all_equal(&nodes, &["x", "x", "x"]), Ok(()));
        let (expected, actual) = all_equal(&nodes, &["x", "y", "x"]).unwrap_err();
        assert_eq!(expected, r#"{"n-a":"x","n-b":"x","n-c":"x"}"#);
        assert_eq!(actual, r#"{"n-a":"x","n-b":"y","n-c":"x"}"#);
        let diff = super::super::diff::from_texts(&expected, &actual);
        assert_eq!(diff, [r#"["n-b"]: expected "x", got "y""#], "{diff:?}");
    }

    #[test]
    fn the_filter_selects_checks_by_name_tag_or_scenario() {
        let s = &WRITER_FOLLOWER_READER;
        assert_eq!(selected(s, &Filter::new(Some("KEY-7"))).len(), 1);
        assert_eq!(
            selected(s, &Filter::new(Some("writer-follower"))).len(),
            s.checks.len()
        );
        assert_eq!(selected(s, &Filter::new(Some("reader-heads"))).len(), 1);
        assert!(selected(s, &Filter::new(Some("TID-4"))).is_empty());
    }
}
