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
}

impl GroupKind {
    /// `suite` or `scenario`.
    pub fn label(self) -> &'static str {
        match self {
            GroupKind::Suite => "suite",
            GroupKind::Scenario => "scenario",
        }
    }
}

/// Why a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFailure {
    /// What a conforming implementation gives.
    pub expected: String,
    /// What this one gave.
    pub actual: String,
    /// `CRASH`, `PROTOCOL_VIOLATION` or `TIMEOUT` when the adapter misbehaved.
    pub note: Option<String>,
    /// The adapter's stderr lines that go with the failure.
    pub stderr: Vec<String>,
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

    /// The machine-readable report (`--json`).
    pub fn to_json(&self) -> Value {
        json!({
            "schemaVersion": REPORT_SCHEMA_VERSION,
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
            "counts": self.counts().json(),
            "groups": self.groups.iter().map(group_json).collect::<Vec<_>>(),
        })
    }
}

/// The kit's version: every package of the kit shares it.
pub const KIT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This harness's name and version.
pub const HARNESS: &str = concat!("threads-conform ", env!("CARGO_PKG_VERSION"));

fn group_json(group: &GroupResult) -> Value {
    json!({
        "name": group.name,
        "kind": group.kind.label(),
        "skipped": group.skipped,
        "notes": group.notes,
        "counts": group.counts().json(),
        "cases": group.cases.iter().map(case_json).collect::<Vec<_>>(),
    })
}

fn case_json(case: &CaseResult) -> Value {
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
        }
    }
    out
}
