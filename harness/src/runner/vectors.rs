//! Runs vector suites through the adapter and judges each reply with
//! [`threads_vectors::run::judge`].

use std::collections::BTreeSet;

use serde_json::{Value, json};
use threads::{Error, ErrorCode};
use threads_vectors::format::{SuiteFile, TestCase, TestGroup, Verdict};
use threads_vectors::ops;
use threads_vectors::run::{judge, merged_inputs};

use super::client::{Fault, Reply};
use super::progress::Progress;
use super::results::{
    CaseFailure, CaseResult, GroupKind, GroupResult, NOT_LISTED, Status, merge_reasons,
};
use super::select::Filter;
use super::session::{CaseKey, Session};
use crate::protocol::{Call, VectorParams};

/// The selected cases of a suite, in file order.
pub fn selected<'a>(file: &'a SuiteFile, filter: &Filter) -> Vec<(&'a TestGroup, &'a TestCase)> {
    file.cases()
        .filter(|(_, case)| {
            let id = case.tc_id.to_string();
            let mut texts = vec![case.comment.as_str(), case.spec_section.as_str()];
            texts.extend(case.flags.iter().map(String::as_str));
            filter.matches(&file.suite, &[&id], &texts)
        })
        .collect()
}

/// The operations a suite's groups use that the adapter does not list.
pub fn missing_operations(file: &SuiteFile, supported: &BTreeSet<String>) -> Vec<String> {
    let used: BTreeSet<&str> = file
        .test_groups
        .iter()
        .map(|g| g.operation.as_str())
        .collect();
    used.into_iter()
        .filter(|op| !supported.contains(*op))
        .map(str::to_string)
        .collect()
}

/// Why a case of a group using `operation` is skipped, if the adapter does not list it
/// [HP-16], [HP-83].
pub fn skip_reason(operation: &str, supported: &BTreeSet<String>) -> Option<String> {
    (!supported.contains(operation)).then(|| format!("{NOT_LISTED}{operation}"))
}

/// Runs the selected cases of one suite; each case whose operation the adapter does not list is
/// skipped, naming it, and the others run [HP-16], [HP-83].
pub fn run_suite(
    session: &mut Session,
    file: &SuiteFile,
    filter: &Filter,
    progress: &mut Progress,
) -> GroupResult {
    let cases = selected(file, filter);
    let mut group = GroupResult {
        name: file.suite.clone(),
        kind: GroupKind::Suite,
        skipped: None,
        cases: Vec::with_capacity(cases.len()),
        notes: Vec::new(),
    };
    for (test_group, case) in &cases {
        let status = match skip_reason(&test_group.operation, &session.hello().operations) {
            Some(reason) => Status::Skipped(reason),
            None => {
                session.begin(CaseKey {
                    group: file.suite.clone(),
                    id: Some(case.tc_id.to_string()),
                });
                run_case(session, test_group, case)
            }
        };
        group.cases.push(case_result(case, status));
        progress.update(&group, cases.len());
    }
    if group.entirely_skipped() {
        let reasons: Vec<String> = group.skips().into_iter().map(|(r, _)| r).collect();
        group.skipped = Some(merge_reasons(&reasons));
    }
    group
}

fn case_result(case: &TestCase, status: Status) -> CaseResult {
    CaseResult {
        id: case.tc_id.to_string(),
        comment: case.comment.clone(),
        spec_section: case.spec_section.clone(),
        flags: case.flags.clone(),
        status,
    }
}

/// Sends one case to the adapter and judges the reply; a failure carries the case's inputs and,
/// for structured values, where the expected and the actual differ [HP-85].
fn run_case(session: &mut Session, group: &TestGroup, case: &TestCase) -> Status {
    let inputs = merged_inputs(group, case);
    let call = Call::Vector(VectorParams {
        operation: group.operation.clone(),
        inputs: inputs.clone(),
    });
    let reply = session.ready().and_then(|()| {
        let mark = session.stderr_mark();
        session.request(&call).map(|reply| (reply, mark))
    });
    let failure = |actual: String, note: Option<String>, stderr: Vec<String>, diff| {
        Status::Failed(CaseFailure {
            expected: expected_text(case),
            actual,
            note,
            stderr,
            inputs: Some(Value::Object(inputs.clone())),
            diff,
        })
    };
    match reply {
        Err(Fault {
            kind,
            detail,
            stderr,
        }) => failure(
            format!("{}: {detail}", kind.note()),
            Some(kind.note().into()),
            stderr,
            Vec::new(),
        ),
        Ok((reply, mark)) => {
            let shown = reply_value(case, &reply);
            match outcome(reply) {
                // HP-26: an acceptable case passes whatever the reply.
                Err(_) if case.result == Verdict::Acceptable => Status::Passed,
                Err(unknown) => failure(unknown, None, session.stderr_since(mark), Vec::new()),
                Ok(outcome) => match judge(case, outcome) {
                    Ok(()) => Status::Passed,
                    Err((_, actual)) => {
                        let diff = structured_diff(case, &shown);
                        failure(actual, None, session.stderr_since(mark), diff)
                    }
                },
            }
        }
    }
}

/// The member a case's structured value is compared under: `state` for an invalid case that
/// expects a state (a `log.replay` whose success result has the same shape), else `result`.
fn value_key(case: &TestCase) -> &'static str {
    match (case.result, &case.expected) {
        (Verdict::Invalid, Some(_)) => "state",
        _ => "result",
    }
}

/// A reply as a value to compare with [`expected_value`]: `{"outcome": "valid" or the code}`,
/// and the result or the state under [`value_key`], so that a replay that should have failed
/// shows which members of its state differ.
fn reply_value(case: &TestCase, reply: &Reply) -> Value {
    let (outcome, value) = match reply {
        Ok(result) => ("valid".to_string(), Some(result.clone())),
        Err(error) => (error.code.clone(), error.state.clone()),
    };
    let mut shown = json!({"outcome": outcome});
    if let Some(value) = value {
        shown[value_key(case)] = value;
    }
    shown
}

/// What a case expects, in the shape of [`reply_value`].
fn expected_value(case: &TestCase) -> Value {
    let outcome = match case.result {
        Verdict::Invalid => case.error_code.clone().unwrap_or_default(),
        _ => "valid".to_string(),
    };
    let mut shown = json!({"outcome": outcome});
    if let Some(value) = &case.expected {
        shown[value_key(case)] = value.clone();
    }
    shown
}

/// The differences between what a case expects and the reply, when either holds a structured
/// value (a result, a replay's state); none for a bare error code against another.
fn structured_diff(case: &TestCase, reply: &Value) -> Vec<String> {
    let expected = expected_value(case);
    let key = value_key(case);
    let structured = |v: &Value| v.get(key).is_some_and(|r| r.is_object() || r.is_array());
    if structured(&expected) || structured(reply) {
        super::diff::diff(&expected, reply)
    } else {
        Vec::new()
    }
}

/// Turns a reply into the outcome [`judge`] takes; `Err` describes an error code that is not in
/// the registry.
pub fn outcome(reply: Reply) -> Result<Result<Value, ops::Failure>, String> {
    match reply {
        Ok(result) => Ok(Ok(result)),
        Err(error) => match ErrorCode::from_name(&error.code) {
            Some(code) => Ok(Err(ops::Failure {
                error: Error::new(code, error.message),
                state: error.state,
            })),
            None => Err(format!(
                "unknown error code {} (not in the registry): {error}",
                error.code
            )),
        },
    }
}

/// What a case expects, as [`judge`] words it, with the state an invalid `log.replay` case
/// expects (issue 15: only the code was shown).
pub fn expected_text(case: &TestCase) -> String {
    match (case.result, &case.expected) {
        (Verdict::Valid, expected) => {
            format!("valid: {}", expected.clone().unwrap_or(Value::Null))
        }
        (Verdict::Invalid, Some(state)) => format!(
            "{} with state {state}",
            case.error_code.clone().unwrap_or_default()
        ),
        (Verdict::Invalid, None) => case.error_code.clone().unwrap_or_default(),
        (Verdict::Acceptable, _) => "valid or invalid (acceptable)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::client::ErrorReply;

    fn error(code: &str, state: Option<Value>) -> Reply {
        Err(ErrorReply {
            code: code.into(),
            message: "m".into(),
            state,
        })
    }

    #[test]
    fn registry_codes_become_failures_and_unknown_ones_are_named() {
        let Ok(Err(f)) = outcome(error("TID_SHORT_RANDOM", Some(json!({"a": 1})))) else {
            panic!("a registry code is an ordinary failure");
        };
        assert_eq!(
            (f.error.code, f.state),
            (ErrorCode::TidShortRandom, Some(json!({"a": 1})))
        );
        let unknown = outcome(error("NO_SUCH_CODE", None)).unwrap_err();
        assert!(unknown.contains("NO_SUCH_CODE"), "{unknown}");
        assert_eq!(outcome(Ok(json!(1))).unwrap(), Ok(json!(1)));
    }
}
