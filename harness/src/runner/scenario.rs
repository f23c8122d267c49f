//! Live scenarios ([HP-43] to [HP-45]): node instances in one adapter process, every message carried
//! by the harness, each expectation a named check citing a requirement tag.

use std::collections::BTreeMap;

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
    AclChanged, AclDocument, AclSet, Appended, Call, Event, Events, Head, Heads, Hex, InviteAccept,
    InviteAccepted, InviteExport, InviteExported, Keys, LogAppend, NodeThread, ThreadCreate,
    ThreadCreated,
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
    /// The scenario feature the adapter must list.
    pub feature: &'static str,
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
    feature: "nodes",
    checks: &[
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
    feature: "acl",
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
    ],
    play: acl_revocation,
};

/// Every live scenario, in run order.
pub const SCENARIOS: &[Scenario] = &[WRITER_FOLLOWER_READER, ACL_REVOCATION];

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
            filter.matches(&[c.name, &name], &[&name, c.description, c.spec])
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
    let checks = selected(scenario, filter);
    let mut group = GroupResult {
        name: scenario.name.to_string(),
        kind: GroupKind::Scenario,
        skipped: None,
        cases: Vec::new(),
        notes: Vec::new(),
    };
    let statuses = if session.hello().scenarios.contains(scenario.feature) {
        let (statuses, notes) = play(session, scenario);
        group.notes = notes;
        statuses
    } else {
        group.skipped = Some(format!(
            "the adapter does not list the scenario feature {:?}",
            scenario.feature
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

fn failure(expected: String, actual: String, stderr: Vec<String>) -> CaseFailure {
    CaseFailure {
        expected,
        actual,
        note: None,
        stderr,
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

/// A node and a thread: the params of `node.heads`, `node.read`, `node.acl` and `node.keys`.
fn on(node: &str, thread: &str) -> NodeThread {
    NodeThread {
        node: node.into(),
        thread: thread.into(),
    }
}

fn heads(d: &mut Driver, node: &str, thread: &str) -> Result<Heads, StepError> {
    d.step(Call::NodeHeads(on(node, thread)))
}

fn append(d: &mut Driver, node: &str, thread: &str, body: &[u8]) -> Result<Appended, StepError> {
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

fn export_invite(
    d: &mut Driver,
    from: &str,
    thread: &str,
    role: InviteRole,
    to: &str,
) -> Result<Hex, StepError> {
    let exported: InviteExported = d.step(invite_export(from, thread, role, to))?;
    Ok(exported.invite)
}

fn accept(d: &mut Driver, node: &str, invite: Hex) -> Result<InviteAccepted, StepError> {
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
    d.step(Call::AclSet(AclSet {
        node: "acl-admin".into(),
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
    for node in ["acl-admin", "acl-reader"] {
        let read: Events = d.step(Call::NodeRead(on(node, &thread)))?;
        let shown = bodies.map(|b| read.events.iter().any(|e| e.body.0 == b));
        made.push(after(pump, equal(&[true, true, false], &shown)));
    }
    let acl = |d: &mut Driver, node: &str| -> Result<AclDocument, StepError> {
        d.step(Call::NodeAcl(on(node, &thread)))
    };
    let admin_acl = acl(d, "acl-admin")?;
    made.push(equal(&admin_acl, &acl(d, "acl-reader")?));
    Ok(())
}

/// A value as a check's report shows it: JSON, with object members sorted by name.
fn shown(value: &impl Serialize) -> String {
    serde_json::to_value(value).map_or_else(|e| format!("<{e}>"), |v| v.to_string())
}

/// Passes when `actual` equals `expected`.
fn equal<T: Serialize + PartialEq + ?Sized>(expected: &T, actual: &T) -> Outcome {
    if expected == actual {
        Ok(())
    } else {
        Err((shown(&expected), shown(&actual)))
    }
}

/// Adds what the pump did to a failed outcome.
fn after(pump: PumpStats, outcome: Outcome) -> Outcome {
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

fn fails_with(reply: &Reply, code: &str) -> Outcome {
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
