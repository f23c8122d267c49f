//! The vector file format: Wycheproof-style JSON, one file per suite (vectors/README.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Version of the specification the vectors check.
pub const SPEC_VERSION: &str = "0.5.0";
/// Version of the vector format and suites; bumps whenever a vector changes.
pub const SUITES_VERSION: &str = "0.5.0";

/// One suite file, e.g. `suites/tid.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuiteFile {
    /// Suite name: `tid`, `keys`, `records`, `logs`.
    pub suite: String,
    /// The spec version these vectors check.
    pub spec_version: String,
    /// The JSON Schema file (in `schemas/`) this file conforms to.
    pub schema: String,
    /// How many test cases the file holds, over all groups.
    pub number_of_tests: usize,
    /// What the suite covers, for humans.
    pub header: Vec<String>,
    /// Every flag used in the file, with the mistake it names.
    pub notes: BTreeMap<String, Note>,
    /// Test groups, each for one operation.
    pub test_groups: Vec<TestGroup>,
}

/// What a flag means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Note {
    /// The kind of bug a failing implementation has: e.g. `MISSING_CHECK`, `WRONG_PRIMITIVE`,
    /// `BASIC` for plain functional vectors.
    pub bug_type: String,
    /// What the flagged vectors check.
    pub description: String,
}

/// A group of test cases for one operation, with the inputs they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestGroup {
    /// A name for the group's kind, e.g. `TidDecodeText`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The operation every test in the group exercises, e.g. `tid.decode`.
    pub operation: String,
    /// Inputs shared by every test of the group (thread, log, keys…).
    #[serde(flatten)]
    pub params: Map<String, Value>,
    /// The test cases.
    pub tests: Vec<TestCase>,
}

/// The verdict a conforming implementation must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Must succeed and give `expected`.
    Valid,
    /// Must fail with `errorCode`.
    Invalid,
    /// May succeed or fail; both conform.
    Acceptable,
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCase {
    /// Unique within the file, from 1.
    pub tc_id: u64,
    /// What this case checks.
    pub comment: String,
    /// Flags naming the behaviour or mistake checked; each is documented in the file's `notes`.
    pub flags: Vec<String>,
    /// The requirement tag this case checks, e.g. `TID-4`.
    pub spec_section: String,
    /// The case's own inputs.
    #[serde(flatten)]
    pub inputs: Map<String, Value>,
    /// The verdict.
    pub result: Verdict,
    /// The output a valid case must give (and, for sequences, the state an invalid one leaves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// The error code an invalid case must give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl SuiteFile {
    /// Every test case with its group, in file order.
    pub fn cases(&self) -> impl Iterator<Item = (&TestGroup, &TestCase)> {
        self.test_groups
            .iter()
            .flat_map(|g| g.tests.iter().map(move |t| (g, t)))
    }

    /// The canonical file text: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("vector files are plain JSON");
        text.push('\n');
        text
    }
}
