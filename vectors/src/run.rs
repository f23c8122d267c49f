//! Runs the reference against vector files: every valid case must give its expected output, every
//! invalid case its error code (and, for sequences, the expected state).

use serde_json::Value;

use crate::format::{SuiteFile, TestCase, TestGroup, Verdict};
use crate::ops;

/// One case the implementation got wrong.
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The suite.
    pub suite: String,
    /// The case's id.
    pub tc_id: u64,
    /// The requirement it checks.
    pub spec_section: String,
    /// Its flags.
    pub flags: Vec<String>,
    /// What the case expects.
    pub expected: String,
    /// What came back.
    pub actual: String,
}

/// Passed and failed counts of one suite.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    /// The suite.
    pub suite: String,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, with details.
    pub failures: Vec<CaseFailure>,
}

/// The inputs of a case: the group's parameters overridden by the case's own.
pub fn merged_inputs(group: &TestGroup, case: &TestCase) -> serde_json::Map<String, Value> {
    let mut inputs = group.params.clone();
    inputs.extend(case.inputs.clone());
    inputs
}

/// Checks one case's outcome; `Err` describes the mismatch as (expected, actual).
pub fn judge(
    case: &TestCase,
    outcome: Result<Value, ops::Failure>,
) -> Result<(), (String, String)> {
    let want = || match case.result {
        Verdict::Valid => format!("valid: {}", case.expected.clone().unwrap_or(Value::Null)),
        _ => case.error_code.clone().unwrap_or_default(),
    };
    match (case.result, outcome) {
        (Verdict::Acceptable, _) => Ok(()),
        (Verdict::Valid, Ok(output)) if Some(&output) == case.expected.as_ref() => Ok(()),
        (Verdict::Invalid, Err(f))
            if Some(f.error.code.name()) == case.error_code.as_deref()
                && f.state == case.expected =>
        {
            Ok(())
        }
        (_, Ok(output)) => Err((want(), format!("valid: {output}"))),
        (_, Err(f)) => Err((
            want(),
            match f.state {
                Some(state) => format!("{} with state {state}", f.error),
                None => f.error.to_string(),
            },
        )),
    }
}

/// Runs the reference on every case of a suite file.
pub fn run_suite(file: &SuiteFile) -> SuiteReport {
    let mut report = SuiteReport {
        suite: file.suite.clone(),
        ..Default::default()
    };
    for (group, case) in file.cases() {
        let outcome = ops::execute(&group.operation, &merged_inputs(group, case));
        match judge(case, outcome) {
            Ok(()) => report.passed += 1,
            Err((expected, actual)) => report.failures.push(CaseFailure {
                suite: file.suite.clone(),
                tc_id: case.tc_id,
                spec_section: case.spec_section.clone(),
                flags: case.flags.clone(),
                expected,
                actual,
            }),
        }
    }
    report
}
