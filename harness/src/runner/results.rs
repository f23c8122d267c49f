//! What a run found: per-case results grouped by suite or scenario, and the machine-readable
//! JSON report.

use serde_json::{Value, json};
use threads_vectors::manifest::Verified;

/// The version of the JSON report's format (`schemaVersion`), described by
/// `harness/schemas/report.schema.json`: raised when a member changes meaning or goes away
/// (new members may appear without it).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The report's JSON Schema.
pub const REPORT_SCHEMA: &str = include_str!("../../schemas/report.schema.json");

/// Which vector set a run was judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorsInfo {
    /// `embedded` (compiled into the program) or the `--vectors` directory.
    pub source: String,
    /// The set's manifest digest and signing key.
    pub verified: Verified,
}

impl VectorsInfo {
    fn json(&self) -> Value {
        let v = &self.verified;
        json!({
            "source": self.source,
            "files": v.files,
            "manifestSha256": v.manifest_sha256,
            "signingKey": {
                "key": v.key,
                "fingerprint": v.fingerprint,
                "keyId": v.key_id,
                "pinned": v.pinned,
            },
        })
    }
}

/// Whether a group holds vector cases or a live scenario's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// A vector suite (`vectors/suites/<name>.json`).
    Suite,
    /// A live scenario.
    Scenario,
    /// Simulator runs against the adapter's nodes, one case per scenario and seed [HP-93].
    Liveness,
}

impl GroupKind {
    /// `suite` or `scenario`.
    pub fn label(self) -> &'static str {
        match self {
            GroupKind::Suite => "suite",
            GroupKind::Scenario => "scenario",
            GroupKind::Liveness => "liveness",
        }
    }
}

/// Why a case failed [HP-85].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFailure {
    /// What a conforming implementation gives.
    pub expected: String,
    /// What this one gave.
    pub actual: String,
    /// `CRASH`, `PROTOCOL_VIOLATION` or `TIMEOUT` when the adapter misbehaved.
    pub note: Option<String>,
    /// The adapter's stderr lines that go with the failure.
    pub stderr: Vec<String>,
    /// The inputs the case sent (a vector's merged inputs), when it has any.
    pub inputs: Option<Value>,
    /// Where a structured expected and actual value differ, one line per difference
    /// ([`super::diff`]); empty when there is nothing structured to compare.
    pub diff: Vec<String>,
}

/// A case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The case passed.
    Passed,
    /// The case failed.
    Failed(CaseFailure),
    /// The case was not run, for the reason given.
    Skipped(String),
}

/// One vector case or scenario check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The vector's `tcId`, or the check's name.
    pub id: String,
    /// The vector's comment or the check's description.
    pub comment: String,
    /// The requirement tag checked, e.g. `TID-4`.
    pub spec_section: String,
    /// The vector's flags (none for scenario checks).
    pub flags: Vec<String>,
    /// The outcome.
    pub status: Status,
}

impl CaseResult {
    /// The case's flags, plus the harness's flag (CRASH, TIMEOUT…) when the adapter misbehaved
    /// [HP-22].
    pub fn reported_flags(&self) -> Vec<String> {
        let mut flags = self.flags.clone();
        if let Status::Failed(CaseFailure {
            note: Some(note), ..
        }) = &self.status
        {
            flags.push(note.clone());
        }
        flags
    }
}

/// Passed, failed and skipped counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that were skipped.
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, status: &Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed(_) => self.failed += 1,
            Status::Skipped(_) => self.skipped += 1,
        }
    }

    fn json(self) -> Value {
        json!({"passed": self.passed, "failed": self.failed, "skipped": self.skipped})
    }
}

/// The results of one suite or scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResult {
    /// The suite's or scenario's name.
    pub name: String,
    /// Suite or scenario.
    pub kind: GroupKind,
    /// Why the whole group was skipped, if it was.
    pub skipped: Option<String>,
    /// Every selected case, in order.
    pub cases: Vec<CaseResult>,
    /// Things worth knowing that fail no case (e.g. messages the pump dropped).
    pub notes: Vec<String>,
}

impl GroupResult {
    /// The group's counts.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for case in &self.cases {
            counts.add(&case.status);
        }
        counts
    }

    /// The skipped cases by reason, reasons in the order they first appear [HP-83].
    pub fn skips(&self) -> Vec<(String, Vec<String>)> {
        let mut skips: Vec<(String, Vec<String>)> = Vec::new();
        for case in &self.cases {
            let Status::Skipped(reason) = &case.status else {
                continue;
            };
            match skips.iter_mut().find(|(r, _)| r == reason) {
                Some((_, ids)) => ids.push(case.id.clone()),
                None => skips.push((reason.clone(), vec![case.id.clone()])),
            }
        }
        skips
    }

    /// Whether the group had cases and every one was skipped.
    pub fn entirely_skipped(&self) -> bool {
        !self.cases.is_empty()
            && self
                .cases
                .iter()
                .all(|c| matches!(c.status, Status::Skipped(_)))
    }

    /// Where the group's cases are defined: the suite file, or the scenario's requirement.
    pub fn source(&self) -> String {
        match self.kind {
            GroupKind::Suite => format!("vectors/suites/{}.json", self.name),
            GroupKind::Scenario => "spec/harness-protocol.md (H.11)".to_string(),
            GroupKind::Liveness => "threads-sim list (spec/harness-protocol.md, HP-93)".to_string(),
        }
    }

    /// How a report names one of the group's cases: `tcId 35`, or `check <scenario>/<check>`.
    pub fn case_label(&self, case: &CaseResult) -> String {
        match self.kind {
            GroupKind::Suite => format!("tcId {}", case.id),
            GroupKind::Scenario => format!("check {}", case.id),
            GroupKind::Liveness => format!("run {}", case.id),
        }
    }

    /// The `--case` value that selects one of the group's cases: `SUITE:TCID`, or
    /// `SCENARIO:CHECK` [HP-85].
    pub fn case_selector(&self, case: &CaseResult) -> String {
        let id = case
            .id
            .strip_prefix(&format!("{}/", self.name))
            .unwrap_or(&case.id);
        format!("{}:{id}", self.name)
    }
}

/// The words of a skip for an operation the adapter does not list [HP-83].
pub const NOT_LISTED: &str = "the adapter does not list the operation ";

/// Several skip reasons in one sentence: the operations not listed named together
/// (`the adapter does not list the operation(s) a, b`), other reasons after them.
pub fn merge_reasons(reasons: &[String]) -> String {
    let operations: Vec<&str> = reasons
        .iter()
        .filter_map(|r| r.strip_prefix(NOT_LISTED))
        .collect();
    let mut parts: Vec<String> = Vec::new();
    match operations[..] {
        [] => {}
        [one] => parts.push(format!("{NOT_LISTED}{one}")),
        _ => parts.push(format!(
            "the adapter does not list the operation(s) {}",
            operations.join(", ")
        )),
    }
    parts.extend(
        reasons
            .iter()
            .filter(|r| !r.starts_with(NOT_LISTED))
            .cloned(),
    );
    parts.join("; ")
}

/// How a run ends: its exit status and why [HP-46], [HP-84].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Cases ran and none failed: exit status 0.
    Passed,
    /// A case failed: exit status 1.
    Failed,
    /// No case failed, but nothing ran, or a suite or scenario the user named was entirely
    /// skipped: exit status 3, for these reasons.
    NotRun(Vec<String>),
}

impl Verdict {
    /// The process exit status: 0, 1 or 3 [HP-84].
    pub fn exit_status(&self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::NotRun(_) => 3,
        }
    }

    /// The worst of several runs' verdicts (a failure over a run that did not run), for a run
    /// of several implementations.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut worst = Verdict::Passed;
        for verdict in verdicts {
            worst = match (worst, verdict) {
                (Verdict::Failed, _) | (_, Verdict::Failed) => Verdict::Failed,
                (Verdict::NotRun(mut a), Verdict::NotRun(b)) => {
                    a.extend(b);
                    Verdict::NotRun(a)
                }
                (Verdict::NotRun(a), Verdict::Passed) | (Verdict::Passed, Verdict::NotRun(a)) => {
                    Verdict::NotRun(a)
                }
                (Verdict::Passed, Verdict::Passed) => Verdict::Passed,
            };
        }
        worst
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The adapter's command line.
    pub command: Vec<String>,
    /// The implementation's name, from `hello`.
    pub implementation: String,
    /// The implementation's version, from `hello`.
    pub version: String,
    /// How often the adapter was restarted after misbehaving.
    pub restarts: u32,
    /// Every suite and scenario that had selected cases, in run order.
    pub groups: Vec<GroupResult>,
    /// Things worth knowing that fail no case (e.g. a non-zero exit status at shutdown).
    pub notes: Vec<String>,
    /// The vector set the run was judged against.
    pub vectors: VectorsInfo,
    /// The suites and scenarios the user named (`--suite`, `--case`): one entirely skipped
    /// makes the run end with status 3 [HP-84].
    pub named: Vec<String>,
    /// The command line that reruns this run (without `--case`), for the command that reruns
    /// one failed case [HP-85]; empty: `threads-conform run`.
    pub rerun: Vec<String>,
}

impl RunReport {
    /// The counts over every group.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for case in self.groups.iter().flat_map(|g| &g.cases) {
            counts.add(&case.status);
        }
        counts
    }

    /// Whether every case that ran passed (skips allowed).
    pub fn passed(&self) -> bool {
        self.counts().failed == 0
    }

    /// How the run ends [HP-46], [HP-84]: failed when a case failed; otherwise not run when no
    /// case ran or a suite or scenario the user named was entirely skipped; else passed.
    pub fn verdict(&self) -> Verdict {
        let counts = self.counts();
        if counts.failed > 0 {
            return Verdict::Failed;
        }
        let mut why = Vec::new();
        if counts.passed == 0 {
            why.push(format!(
                "no case ran: all {} selected case(s) were skipped",
                counts.skipped
            ));
        }
        for group in &self.groups {
            if self.named.contains(&group.name) && group.entirely_skipped() {
                let reasons: Vec<String> = group.skips().into_iter().map(|(r, _)| r).collect();
                why.push(format!(
                    "{} {} was named (--suite or --case) but every case of it was skipped: {}",
                    group.kind.label(),
                    group.name,
                    merge_reasons(&reasons)
                ));
            }
        }
        if why.is_empty() {
            Verdict::Passed
        } else {
            Verdict::NotRun(why)
        }
    }

    /// The command that reruns only one case of a group [HP-85].
    pub fn rerun_command(&self, group: &GroupResult, case: &CaseResult) -> String {
        let mut words = if self.rerun.is_empty() {
            vec!["threads-conform".to_string(), "run".to_string()]
        } else {
            self.rerun.clone()
        };
        words.push("--case".into());
        words.push(group.case_selector(case));
        shell_words::join(words)
    }

    /// The machine-readable report (`--json`).
    pub fn to_json(&self) -> Value {
        let verdict = self.verdict();
        let not_run = match &verdict {
            Verdict::NotRun(why) => why.clone(),
            _ => Vec::new(),
        };
        json!({
            "schemaVersion": REPORT_SCHEMA_VERSION,
            "kind": "run",
            "kitVersion": KIT_VERSION,
            "harness": HARNESS,
            "protocol": super::client::PROTOCOL,
            "specVersion": threads_vectors::format::SPEC_VERSION,
            "suitesVersion": threads_vectors::format::SUITES_VERSION,
            "implementation": self.implementation,
            "version": self.version,
            "command": self.command,
            "restarts": self.restarts,
            "vectors": self.vectors.json(),
            "notes": self.notes,
            "passed": self.passed(),
            "exitStatus": verdict.exit_status(),
            "notRun": not_run,
            "named": self.named,
            "counts": self.counts().json(),
            "groups": self.groups.iter().map(|g| self.group_json(g)).collect::<Vec<_>>(),
        })
    }

    fn group_json(&self, group: &GroupResult) -> Value {
        let skips: Vec<Value> = group
            .skips()
            .into_iter()
            .map(|(reason, cases)| json!({"reason": reason, "cases": cases}))
            .collect();
        json!({
            "name": group.name,
            "kind": group.kind.label(),
            "source": group.source(),
            "skipped": group.skipped,
            "skips": skips,
            "notes": group.notes,
            "counts": group.counts().json(),
            "cases": group.cases.iter().map(|c| self.case_json(group, c)).collect::<Vec<_>>(),
        })
    }

    fn case_json(&self, group: &GroupResult, case: &CaseResult) -> Value {
        let mut out = json!({
            "id": case.id,
            "comment": case.comment,
            "specSection": case.spec_section,
            "flags": case.reported_flags(),
        });
        match &case.status {
            Status::Passed => out["status"] = json!("passed"),
            Status::Skipped(reason) => {
                out["status"] = json!("skipped");
                out["reason"] = json!(reason);
            }
            Status::Failed(f) => {
                out["status"] = json!("failed");
                out["expected"] = json!(f.expected);
                out["actual"] = json!(f.actual);
                out["note"] = json!(f.note);
                out["stderr"] = json!(f.stderr);
                out["inputs"] = f.inputs.clone().unwrap_or(Value::Null);
                out["diff"] = json!(f.diff);
                out["specUrl"] = json!(super::links::spec_url(&case.spec_section));
                out["rerun"] = json!(self.rerun_command(group, case));
            }
        }
        out
    }
}

/// The kit's version: every package of the kit shares it.
pub const KIT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This harness's name and version.
pub const HARNESS: &str = concat!("threads-conform ", env!("CARGO_PKG_VERSION"));
