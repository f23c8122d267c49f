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
}

impl Outcome {
    /// Caught: the run failed a case (1) or refused the adapter (2) [HP-86].
    pub fn caught(&self) -> bool {
        matches!(self.exit_status, 1 | 2)
    }
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
        },
        Err(refusal) => Outcome {
            fault,
            exit_status: 2,
            evidence: vec![refusal],
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
        let evidence = match o.evidence.len() {
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
            "{verdict:6} {:34} [{}] {:15} {}",
            o.fault.name,
            o.fault.tag,
            o.fault.class.name(),
            evidence
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
