//! `threads-conform catalogue`: the suite against every fault of the catalogue [HP-86].

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::{FAULTS, Fault};
use crate::runner::liveness::Liveness;
use crate::runner::results::{RunReport, Status};
use crate::runner::{self, Options};

/// How the suite did against one fault.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The fault.
    pub fault: &'static Fault,
    /// The run's exit status (2: the harness refused the adapter).
    pub exit_status: u8,
    /// The failed cases (`group:id`), or the harness's refusal.
    pub evidence: Vec<String>,
    /// Each failed case: its name, the tag it checks and the harness's flag, if any.
    pub failures: Vec<Failed>,
}

/// One failed case of a fault's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// `group:id`, as `--case` names it.
    pub case: String,
    /// The requirement tag the case checks.
    pub tag: String,
    /// CRASH, PROTOCOL_VIOLATION, TIMEOUT or ADAPTER_UNAVAILABLE when the adapter misbehaved.
    pub note: Option<String>,
}

impl Outcome {
    /// Caught: the run failed a case (1) or refused the adapter (2), or, for a fault whose
    /// adapter has the harness run nothing, ended with 3 [HP-84]; and it did so the way each rule
    /// of the fault's `caught_by` says [HP-86].
    pub fn caught(&self) -> bool {
        let status = match self.exit_status {
            1 | 2 => true,
            3 => self.fault.caught_by.contains(&"HP-84"),
            _ => false,
        };
        status && self.enforced().iter().all(|(_, r)| r.is_ok())
    }

    /// For each rule of the fault's `caught_by`, whether the run shows the harness enforcing it,
    /// and if not, why not.
    pub fn enforced(&self) -> Vec<(&'static str, Result<(), String>)> {
        self.fault
            .caught_by
            .iter()
            .map(|rule| (*rule, self.confirms(rule)))
            .collect()
    }

    fn confirms(&self, rule: &str) -> Result<(), String> {
        let flagged = |flag: &str| {
            self.failures
                .iter()
                .any(|f| f.note.as_deref() == Some(flag))
        };
        let tagged = |tag: &str| self.failures.iter().any(|f| f.tag == tag);
        let ok = match rule {
            // A reply that breaks HP-10 fails its case as a protocol violation.
            "HP-10" => flagged("PROTOCOL_VIOLATION"),
            // A bad hello ends the run with 2 and a message naming the rule of HP-14.
            "HP-81" => {
                self.exit_status == 2
                    && self
                        .evidence
                        .iter()
                        .any(|e| e.contains("HP-14") || e.contains("HP-81"))
            }
            // The exit after a reply fails that case, as a crash, and no other case.
            "HP-82" => {
                let charged: Vec<&str> = self.failures.iter().map(|f| f.case.as_str()).collect();
                !charged.is_empty()
                    && charged == cases_of(super::EXIT_AFTER_OPERATION)
                    && self
                        .failures
                        .iter()
                        .all(|f| f.note.as_deref() == Some("CRASH"))
            }
            // Nothing ran: status 3, not 0.
            "HP-84" => self.exit_status == 3,
            // A liveness run failed.
            "HP-93" => self
                .failures
                .iter()
                .any(|f| f.case.starts_with("liveness:")),
            // A check that cites the rule failed.
            tag => tagged(tag),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("the run does not show {rule} at work"))
        }
    }
}

/// Every vector case of `operation`, as `suite:tcId`, in suite order.
fn cases_of(operation: &str) -> Vec<String> {
    let set = threads_vectors::manifest::VectorSet::embedded();
    let mut out = Vec::new();
    for suite in threads_vectors::generate::SUITES {
        let Ok(file) = set.suite(suite) else { continue };
        for group in file.test_groups.iter().filter(|g| g.operation == operation) {
            out.extend(group.tests.iter().map(|t| format!("{suite}:{}", t.tc_id)));
        }
    }
    out
}

/// The adapter command of a fault: `program reference-adapter --fault NAME`.
pub fn fault_command(program: &str, fault: &Fault) -> Vec<String> {
    [program, "reference-adapter", "--fault", fault.name]
        .map(String::from)
        .to_vec()
}

/// Runs the whole suite against the reference with `fault` on, started as `program`.
pub fn run_fault(
    program: &str,
    fault: &'static Fault,
    timeout: Duration,
    liveness: &Liveness,
) -> Outcome {
    let options = Options {
        command: fault_command(program, fault),
        groups: Vec::new(),
        filter: None,
        cases: Vec::new(),
        rerun: Vec::new(),
        vectors: None,
        trusted_keys: Vec::new(),
        timeout,
        progress: false,
        liveness: liveness.clone(),
    };
    match runner::run(&options) {
        Ok(report) => Outcome {
            fault,
            exit_status: report.verdict().exit_status(),
            evidence: failed_cases(&report),
            failures: failures(&report),
        },
        Err(refusal) => Outcome {
            fault,
            exit_status: 2,
            evidence: vec![refusal],
            failures: Vec::new(),
        },
    }
}

/// Every failed case of a report, as `--case` names it.
pub fn failed_cases(report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    for group in &report.groups {
        for case in &group.cases {
            if matches!(case.status, Status::Failed(_)) {
                out.push(group.case_selector(case));
            }
        }
    }
    out
}

/// Every failed case of a report, with its tag and flag.
fn failures(report: &RunReport) -> Vec<Failed> {
    let mut out = Vec::new();
    for group in &report.groups {
        for case in &group.cases {
            if let Status::Failed(failure) = &case.status {
                out.push(Failed {
                    case: group.case_selector(case),
                    tag: case.spec_section.clone(),
                    note: failure.note.clone(),
                });
            }
        }
    }
    out
}

/// The faults `names` selects (all when empty); `Err` names an unknown one.
pub fn select(names: &[String]) -> Result<Vec<&'static Fault>, String> {
    if names.is_empty() {
        return Ok(FAULTS.iter().collect());
    }
    names
        .iter()
        .map(|n| super::find(n).ok_or_else(|| format!("no fault named {n:?}")))
        .collect()
}

/// The text report: one line per fault, then the catch rate.
pub fn render(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let verdict = if o.caught() { "caught" } else { "MISSED" };
        let unconfirmed: Vec<String> = o
            .enforced()
            .into_iter()
            .filter_map(|(_, r)| r.err())
            .collect();
        let evidence = match o.evidence.len() {
            _ if !unconfirmed.is_empty() => unconfirmed.join("; "),
            0 if o.exit_status == 3 => "nothing ran (exit 3)".to_string(),
            0 => "no case failed".to_string(),
            n if o.exit_status == 2 => format!("refused: {}", o.evidence[..n.min(1)].join("")),
            n => format!(
                "{n} failed: {}{}",
                o.evidence[..n.min(4)].join(" "),
                if n > 4 { " …" } else { "" }
            ),
        };
        let _ = writeln!(
            out,
            "{verdict:6} {:34} [{}] {:15} {}{}",
            o.fault.name,
            o.fault.tag,
            o.fault.class.name(),
            evidence,
            if o.fault.caught_by.is_empty() {
                String::new()
            } else {
                format!(" (enforcing {})", o.fault.caught_by.join(" "))
            }
        );
    }
    let caught = outcomes.iter().filter(|o| o.caught()).count();
    let _ = writeln!(
        out,
        "\n{caught} of {} faults caught{}",
        outcomes.len(),
        if caught == outcomes.len() {
            String::new()
        } else {
            format!(
                "; MISSED: {}",
                outcomes
                    .iter()
                    .filter(|o| !o.caught())
                    .map(|o| o.fault.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    out
}

/// The JSON report: `{kind: "catalogue", faults, caught, outcomes: [{name, tag, class, summary,
/// caught, exitStatus, evidence}]}`.
pub fn to_json(outcomes: &[Outcome]) -> Value {
    let items: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "name": o.fault.name,
                "tag": o.fault.tag,
                "class": o.fault.class.name(),
                "summary": o.fault.summary,
                "caught": o.caught(),
                "caughtBy": o.enforced().into_iter().map(|(rule, r)| json!({
                    "rule": rule, "confirmed": r.is_ok(), "why": r.err(),
                })).collect::<Vec<_>>(),
                "exitStatus": o.exit_status,
                "evidence": o.evidence,
            })
        })
        .collect();
    json!({
        "kind": "catalogue",
        "faults": outcomes.len(),
        "caught": outcomes.iter().filter(|o| o.caught()).count(),
        "outcomes": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, exit_status: u8, evidence: &[&str], failures: Vec<Failed>) -> Outcome {
        Outcome {
            fault: super::super::find(name).expect("a fault of the catalogue"),
            exit_status,
            evidence: evidence.iter().map(|e| e.to_string()).collect(),
            failures,
        }
    }

    fn failed(case: &str, tag: &str, note: Option<&str>) -> Failed {
        Failed {
            case: case.into(),
            tag: tag.into(),
            note: note.map(String::from),
        }
    }

    /// A fault that proves a harness rule is caught only the way that rule says: a refusal
    /// naming the rule [HP-81], status 3 [HP-84], a protocol violation [HP-10], the case
    /// answered last and no other [HP-82]; any other failure is no proof.
    #[test]
    fn a_catch_that_does_not_show_the_rule_at_work_is_a_miss() {
        let hello = "hello-acl-without-nodes";
        assert!(outcome(hello, 2, &["`x`: HP-14: …"], vec![]).caught());
        assert!(!outcome(hello, 2, &["`x`: hello failed: TIMEOUT"], vec![]).caught());
        assert!(!outcome(hello, 1, &["tid:1"], vec![failed("tid:1", "TID-9", None)]).caught());

        assert!(outcome("hello-operations-misnamed", 3, &[], vec![]).caught());
        assert!(!outcome("hello-operations-misnamed", 0, &[], vec![]).caught());
        // Status 3 catches only a fault whose proof it is.
        assert!(!outcome("tid-trailing-bits", 3, &[], vec![]).caught());

        let violation = failed("membership:6", "SYNC-24", Some("PROTOCOL_VIOLATION"));
        assert!(outcome("log-on-stdout", 1, &["membership:6"], vec![violation]).caught());
        let wrong = failed("membership:6", "SYNC-24", None);
        assert!(!outcome("log-on-stdout", 1, &["membership:6"], vec![wrong]).caught());

        let crash = |case: &str| failed(case, "KEY-5", Some("CRASH"));
        let exit = "exit-after-reply";
        let both = vec![crash("keys:88"), crash("keys:89")];
        assert!(outcome(exit, 1, &[], both).caught());
        // Charged to the next, innocent case: no proof of HP-82.
        let next = vec![crash("keys:88"), crash("keys:90")];
        assert!(!outcome(exit, 1, &[], next).caught());
    }
}
