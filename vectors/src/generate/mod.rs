//! The deterministic generator: fixed seeds in, byte-identical suite files out.
//!
//! A generator states each case's inputs and its *intent* (valid, or invalid with a named error
//! code). The expected output is never written by hand: [`crate::ops::execute`] computes it with the
//! reference, and generation fails if the reference disagrees with the intent.

mod acl;
mod db;
mod forge;
mod invites;
mod keys;
mod logs;
mod membership;
pub mod records;
mod sync;
mod tid;

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use threads::ErrorCode;

use crate::format::{Note, SPEC_VERSION, SuiteFile, TestCase, TestGroup, Verdict};
use crate::ops;

/// Names of every suite, in generation order.
pub const SUITES: &[&str] = &[
    "tid",
    "keys",
    "records",
    "logs",
    "invites",
    "acl",
    "sync",
    "membership",
    "db",
];

/// Generates every suite.
pub fn all_suites() -> Result<Vec<SuiteFile>, String> {
    SUITES.iter().map(|name| suite(name)).collect()
}

/// Generates one suite by name.
pub fn suite(name: &str) -> Result<SuiteFile, String> {
    match name {
        "tid" => tid::generate(),
        "keys" => keys::generate(),
        "records" => records::generate(),
        "logs" => logs::generate(),
        "invites" => invites::generate(),
        "acl" => acl::generate(),
        "sync" => sync::generate(),
        "membership" => membership::generate(),
        "db" => db::generate(),
        other => Err(format!("unknown suite {other}")),
    }
}

/// Domain label of the scenario seeds; a new label (v2, ...) would re-randomise every suite.
const SCENARIO_RNG_DOMAIN: &str = "threads-vectors/scenario-rng/v1";

/// The RNG of one scenario of a suite: ChaCha20 seeded with SHA-256 over the domain label, the
/// suite's name and the scenario's name, each preceded by its length as a u64 big-endian (so no
/// two different name pairs hash the same bytes).
///
/// Every scenario draws from its own stream, so adding or changing a case changes the bytes of
/// its scenario only, not those of every later case of the suite.
pub fn scenario_rng(suite: &str, scenario: &str) -> ChaCha20Rng {
    let mut hash = Sha256::new();
    for part in [SCENARIO_RNG_DOMAIN, suite, scenario] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    ChaCha20Rng::from_seed(hash.finalize().into())
}

/// 32 bytes from a scenario's RNG: a seed for an identity key.
pub fn random_seed(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    seed
}

/// What the generator intends a case to be; checked against the reference.
#[derive(Debug, Clone, Copy)]
pub enum Intent {
    /// Must succeed.
    Valid,
    /// Must fail with this code.
    Invalid(ErrorCode),
}

/// A row of a table of invalid cases: section, flags, comment, the input, the expected code.
pub type InvalidRow<'a, T> = (&'a str, &'a [&'a str], &'a str, T, ErrorCode);

/// Builds one suite file, computing every expected value with the reference.
pub struct SuiteBuilder {
    file: SuiteFile,
    next_id: u64,
    errors: Vec<String>,
    /// Scenario names already given an RNG: two scenarios sharing a name would share bytes.
    scenarios: BTreeSet<String>,
}

impl SuiteBuilder {
    /// Starts a suite.
    pub fn new(suite: &str, header: &[&str]) -> Self {
        SuiteBuilder {
            file: SuiteFile {
                suite: suite.to_string(),
                spec_version: SPEC_VERSION.to_string(),
                schema: format!("{suite}.schema.json"),
                number_of_tests: 0,
                header: header.iter().map(|s| s.to_string()).collect(),
                notes: BTreeMap::new(),
                test_groups: Vec::new(),
            },
            next_id: 1,
            errors: Vec::new(),
            scenarios: BTreeSet::new(),
        }
    }

    /// The RNG of the scenario `name` of this suite ([`scenario_rng`]); each name may be used once.
    pub fn rng(&mut self, name: &str) -> ChaCha20Rng {
        if !self.scenarios.insert(name.to_string()) {
            self.errors
                .push(format!("scenario name {name:?} used twice in one suite"));
        }
        scenario_rng(&self.file.suite, name)
    }

    /// Documents a flag.
    pub fn note(&mut self, flag: &str, bug_type: &str, description: &str) {
        self.file.notes.insert(
            flag.to_string(),
            Note {
                bug_type: bug_type.to_string(),
                description: description.to_string(),
            },
        );
    }

    /// Starts a group for `operation` whose cases share `params` (a JSON object).
    pub fn group(&mut self, kind: &str, operation: &str, params: Value) {
        self.file.test_groups.push(TestGroup {
            kind: kind.to_string(),
            operation: operation.to_string(),
            params: object(params),
            tests: Vec::new(),
        });
    }

    /// Adds a case to the current group; the reference computes its expected output.
    pub fn case(
        &mut self,
        section: &str,
        flags: &[&str],
        comment: &str,
        inputs: Value,
        intent: Intent,
    ) {
        let Some(group) = self.file.test_groups.last_mut() else {
            self.errors
                .push(format!("case {comment:?} added before any group"));
            return;
        };
        let inputs = object(inputs);
        let mut merged = group.params.clone();
        merged.extend(inputs.clone());
        let outcome = ops::execute(&group.operation, &merged);
        let (result, expected, error_code) = match (intent, outcome) {
            (Intent::Valid, Ok(output)) => (Verdict::Valid, Some(output), None),
            (Intent::Invalid(code), Err(failure)) if failure.error.code == code => (
                Verdict::Invalid,
                failure.state,
                Some(code.name().to_string()),
            ),
            (intent, outcome) => {
                self.errors.push(format!(
                    "{} case {comment:?}: intended {intent:?}, reference gave {outcome:?}",
                    group.operation
                ));
                return;
            }
        };
        group.tests.push(TestCase {
            tc_id: self.next_id,
            comment: comment.to_string(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            spec_section: section.to_string(),
            inputs,
            result,
            expected,
            error_code,
        });
        self.next_id += 1;
    }

    /// Adds one invalid case per row of a table, its inputs made from the row's input by `inputs`.
    pub fn invalid_cases<'a, T>(
        &mut self,
        rows: impl IntoIterator<Item = InvalidRow<'a, T>>,
        inputs: impl Fn(T) -> Value,
    ) {
        for (section, flags, comment, input, code) in rows {
            self.case(
                section,
                flags,
                comment,
                inputs(input),
                Intent::Invalid(code),
            );
        }
    }

    /// Finishes the suite, or reports every case whose intent the reference contradicted.
    pub fn finish(mut self) -> Result<SuiteFile, String> {
        if !self.errors.is_empty() {
            return Err(self.errors.join("\n"));
        }
        self.file.number_of_tests = self.file.cases().count();
        Ok(self.file)
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_string(), other)]),
    }
}

/// The operations a suite's groups use, in first-use order.
pub fn operations_of(file: &SuiteFile) -> Vec<&str> {
    let mut seen = Vec::new();
    for group in &file.test_groups {
        if !seen.contains(&group.operation.as_str()) {
            seen.push(group.operation.as_str());
        }
    }
    seen
}

/// Every generated file: relative path and exact contents (suites and their schemas).
pub fn all_files() -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    for file in all_suites()? {
        let schema = crate::schema::suite_schema(&file.suite, &operations_of(&file));
        let mut schema_text = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
        schema_text.push('\n');
        files.push((format!("schemas/{}.schema.json", file.suite), schema_text));
        files.push((format!("suites/{}.json", file.suite), file.to_json()));
    }
    Ok(files)
}
