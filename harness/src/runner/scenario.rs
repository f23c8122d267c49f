//! Live scenarios (HP-43 to HP-45): node instances in one adapter process, every message carried
//! by the harness, each expectation a named check citing a requirement tag.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::client::Reply;
use super::driver::{Driver, PumpStats, StepError};
use super::progress::Progress;
use super::results::{CaseFailure, CaseResult, GroupKind, GroupResult, Status};
use super::select::Filter;
use super::session::Session;

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
    /// The report name of a check: `<scenario>/<check>` (HP-43).
    pub fn case_name(&self, check: &Check) -> String {
        format!("{}/{}", self.name, check.name)
    }
}

/// How many events the writer appends.
const EVENTS: u64 = 5;

/// The `writer-follower-reader` scenario (HP-45).
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

/// The `acl-revocation` scenario (HP-47): invites in an access-controlled thread give each peer
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

/// The seed of node `node` in scenario `scenario`: SHA-256 of `threads-harness/<scenario>/<node>`,
/// in hex (HP-43).
pub fn seed(scenario: &str, node: &str) -> String {
    hex::encode(Sha256::digest(format!("threads-harness/{scenario}/{node}")))
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
/// scenario's feature (HP-16).
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
/// every check not yet made fails with that step's error (HP-43).
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

/// The steps of HP-45; pushes each check's outcome in [`WRITER_FOLLOWER_READER`]'s order.
fn writer_follower_reader(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = WRITER_FOLLOWER_READER.name;
    for node in ["writer", "follower", "reader"] {
        d.create(node, &seed(name, node))?;
    }
    let created = d.step("thread.create", json!({"node": "writer", "variant": "raw"}))?;
    let (thread, log) = (text(&created["thread"]), text(&created["log"]));
    let mut appended = Vec::new();
    let mut events = Vec::new();
    for i in 1..=EVENTS {
        let body = hex::encode(format!("event {i}"));
        let time = d.now();
        let params = json!({"node": "writer", "thread": thread, "body": body});
        appended.push(d.step("log.append", params)?);
        events.push(json!({"log": log, "seq": i, "body": body, "time": time}));
    }
    made.push(appends(&log, &appended));
    let heads =
        |d: &mut Driver, node: &str| d.step("node.heads", json!({"node": node, "thread": thread}));
    let writer = heads(d, "writer")?;
    let last_cid = appended.last().map(|a| a["recordCid"].clone());
    let want = json!({"head": last_cid, "counter": EVENTS});
    made.push(equal(want, head_of(&writer, &log)));
    let writer_head = head_of(&writer, &log);

    let invite = export_invite(d, "writer", &thread, "follower", "follower")?;
    let accepted = d.step(
        "invite.accept",
        json!({"node": "follower", "invite": invite}),
    )?;
    made.push(role(&accepted, &thread, "follower"));
    let pump = d.pump()?;
    let follower = heads(d, "follower")?;
    made.push(after(
        pump,
        equal(writer_head.clone(), head_of(&follower, &log)),
    ));
    let read = d.call("node.read", json!({"node": "follower", "thread": thread}))?;
    made.push(fails_with(&read, "KEY_UNAVAILABLE"));

    let invite = export_invite(d, "writer", &thread, "reader", "reader")?;
    d.stop("writer")?;
    let accepted = d.step("invite.accept", json!({"node": "reader", "invite": invite}))?;
    made.push(role(&accepted, &thread, "reader"));
    let pump = d.pump()?;
    let reader = heads(d, "reader")?;
    made.push(after(pump, equal(writer_head, head_of(&reader, &log))));
    let read = d.step("node.read", json!({"node": "reader", "thread": thread}))?;
    made.push(after(pump, equal(json!(events), projected_events(&read))));
    Ok(())
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn export_invite(
    d: &mut Driver,
    from: &str,
    thread: &str,
    role: &str,
    to: &str,
) -> Result<String, StepError> {
    let params = json!({"node": from, "thread": thread, "role": role, "recipient": to});
    Ok(text(&d.step("invite.export", params)?["invite"]))
}

/// The steps of HP-47; pushes each check's outcome in [`ACL_REVOCATION`]'s order.
fn acl_revocation(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = ACL_REVOCATION.name;
    let mut peers = BTreeMap::new();
    for node in ["acl-admin", "acl-writer", "acl-reader", "acl-follower"] {
        peers.insert(node, d.create(node, &seed(name, node))?);
    }
    let created = d.step(
        "thread.create",
        json!({"node": "acl-admin", "variant": "access-controlled"}),
    )?;
    let thread = text(&created["thread"]);
    for (node, role) in [
        ("acl-writer", "write"),
        ("acl-reader", "read"),
        ("acl-follower", "follow"),
    ] {
        let params = json!({"node": "acl-admin", "thread": thread, "peer": node, "roles": [role]});
        d.step("acl.set", params)?;
    }
    let beyond = json!({"node": "acl-admin", "thread": thread, "role": "reader", "recipient": "acl-follower"});
    let beyond = d.call("invite.export", beyond)?;
    made.push(fails_with(&beyond, "ACL_DENIED"));
    for (node, role) in [
        ("acl-writer", "writer"),
        ("acl-reader", "reader"),
        ("acl-follower", "follower"),
    ] {
        let invite = export_invite(d, "acl-admin", &thread, role, node)?;
        d.step("invite.accept", json!({"node": node, "invite": invite}))?;
    }
    d.pump()?;
    let keys =
        |d: &mut Driver, node: &str| d.step("node.keys", json!({"node": node, "thread": thread}));
    let admin_keys = keys(d, "acl-admin")?;
    made.push(equal(admin_keys.clone(), keys(d, "acl-reader")?));
    let want = json!({"followKey": admin_keys["followKey"], "readKey": null});
    made.push(equal(want, keys(d, "acl-follower")?));

    for i in 1..=2 {
        let body = hex::encode(format!("allowed {i}"));
        d.step(
            "log.append",
            json!({"node": "acl-writer", "thread": thread, "body": body}),
        )?;
    }
    let pump = d.pump()?;
    let writer_log = peers["acl-writer"].clone();
    let counter = |d: &mut Driver, node: &str| -> Result<Value, StepError> {
        let heads = d.step("node.heads", json!({"node": node, "thread": thread}))?;
        Ok(head_of(&heads, &writer_log)["counter"].clone())
    };
    made.push(after(pump, equal(json!(3), counter(d, "acl-reader")?)));

    // The admin revokes write; the writer, not told yet, appends once more.
    let revoke =
        json!({"node": "acl-admin", "thread": thread, "peer": "acl-writer", "roles": ["read"]});
    d.step("acl.set", revoke)?;
    let late = hex::encode("too late");
    d.step(
        "log.append",
        json!({"node": "acl-writer", "thread": thread, "body": late}),
    )?;
    let pump = d.pump()?;
    // Refused means not applied [ACL-7]: the record may be stored, but no view shows it.
    let bodies = [
        hex::encode("allowed 1"),
        hex::encode("allowed 2"),
        late.clone(),
    ];
    for node in ["acl-admin", "acl-reader"] {
        let read = d.step("node.read", json!({"node": node, "thread": thread}))?;
        let shown: Vec<bool> = bodies
            .iter()
            .map(|b| {
                read["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["body"] == json!(b))
            })
            .collect();
        made.push(after(pump, equal(json!([true, true, false]), json!(shown))));
    }
    let acl =
        |d: &mut Driver, node: &str| d.step("node.acl", json!({"node": node, "thread": thread}));
    let admin_acl = acl(d, "acl-admin")?;
    made.push(equal(admin_acl, acl(d, "acl-reader")?));
    Ok(())
}

/// A log's `{head, counter}` in a `node.heads` result, or `null` when the log is missing.
fn head_of(heads: &Value, log: &str) -> Value {
    match heads["logs"].get(log) {
        Some(entry) => json!({"head": entry["head"], "counter": entry["counter"]}),
        None => Value::Null,
    }
}

/// Passes when `actual` equals `expected`.
fn equal(expected: Value, actual: Value) -> Outcome {
    if expected == actual {
        Ok(())
    } else {
        Err((expected.to_string(), actual.to_string()))
    }
}

/// Adds what the pump did to a failed outcome.
fn after(pump: PumpStats, outcome: Outcome) -> Outcome {
    outcome.map_err(|(expected, actual)| (expected, format!("{actual} ({pump})")))
}

fn appends(log: &str, appended: &[Value]) -> Outcome {
    let want: Vec<Value> = (1..=EVENTS)
        .map(|seq| json!({"log": log, "seq": seq}))
        .collect();
    let got: Vec<Value> = appended
        .iter()
        .map(|a| json!({"log": a["log"], "seq": a["seq"]}))
        .collect();
    equal(json!(want), json!(got))
}

fn role(accepted: &Value, thread: &str, role: &str) -> Outcome {
    let got = json!({"thread": accepted["thread"], "role": accepted["role"]});
    equal(json!({"thread": thread, "role": role}), got)
}

fn fails_with(reply: &Reply, code: &str) -> Outcome {
    match reply {
        Err(error) if error.code == code => Ok(()),
        Err(error) => Err((format!("error {code}"), format!("error {error}"))),
        Ok(result) => Err((format!("error {code}"), format!("result {result}"))),
    }
}

/// The `events` of a `node.read` result, each with only the members HP-40 defines.
fn projected_events(read: &Value) -> Value {
    let events = read["events"].as_array().into_iter().flatten();
    let projected: Vec<Value> = events
        .map(|e| json!({"log": e["log"], "seq": e["seq"], "body": e["body"], "time": e["time"]}))
        .collect();
    json!(projected)
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
            seed(scenario, "writer"),
            "8b14d6cbf6b58273cb2fef680357063fdc7519290593a9e1ac56fee0e957b06e"
        );
        assert_eq!(
            seed(scenario, "reader"),
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
    fn heads_are_compared_on_head_and_counter_only() {
        let writer = json!({"logs": {"L": {"head": "c5", "counter": 5}}});
        let peer = json!({"logs": {"L": {"head": "c5", "counter": 5, "extra": 1}, "M": {"head": null, "counter": 0}}});
        assert_eq!(equal(head_of(&writer, "L"), head_of(&peer, "L")), Ok(()));
        let behind = json!({"logs": {"L": {"head": "c4", "counter": 4}}});
        assert!(equal(head_of(&writer, "L"), head_of(&behind, "L")).is_err());
        assert_eq!(head_of(&json!({"logs": {}}), "L"), Value::Null);
    }

    #[test]
    fn events_must_be_exactly_those_expected() {
        let want = json!([{"log": "L", "seq": 1, "body": "aa", "time": 7}]);
        let read = json!({"events": [{"log": "L", "seq": 1, "body": "aa", "time": 7, "x": 0}]});
        assert_eq!(equal(want.clone(), projected_events(&read)), Ok(()));
        let extra = json!({"events": [
            {"log": "L", "seq": 1, "body": "aa", "time": 7},
            {"log": "M", "seq": 1, "body": "bb", "time": 8}]});
        assert!(equal(want, projected_events(&extra)).is_err());
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
