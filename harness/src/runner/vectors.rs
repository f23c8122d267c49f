//! Runs vector suites through the adapter and judges each reply with
//! [`threads_vectors::run::judge`].

use std::collections::BTreeSet;

use serde_json::Value;
use threads::{Error, ErrorCode};
use threads_vectors::format::{SuiteFile, TestCase, TestGroup, Verdict};
use threads_vectors::ops;
use threads_vectors::run::{judge, merged_inputs};

use super::client::{Fault, Reply};
use super::progress::Progress;
use super::results::{CaseFailure, CaseResult, GroupKind, GroupResult, Status};
use super::select::Filter;
use super::session::Session;
use crate::protocol::{Call, VectorParams};

/// The selected cases of a suite, in file order.
pub fn selected<'a>(file: &'a SuiteFile, filter: &Filter) -> Vec<(&'a TestGroup, &'a TestCase)> {
    file.cases()
        .filter(|(_, case)| {
            let id = case.tc_id.to_string();
            let mut texts = vec![case.comment.as_str(), case.spec_section.as_str()];
            texts.extend(case.flags.iter().map(String::as_str));
            filter.matches(&[&id], &texts)
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

/// Runs the selected cases of one suite, or skips them all when the adapter lacks an operation.
pub fn run_suite(
    session: &mut Session,
    file: &SuiteFile,
    filter: &Filter,
    progress: &mut Progress,
) -> GroupResult {
    let cases = selected(file, filter);
    let missing = missing_operations(file, &session.hello().operations);
    let skipped = (!missing.is_empty()).then(|| {
        format!(
            "the adapter does not list the operation(s) {}",
            missing.join(", ")
        )
    });
    let mut group = GroupResult {
        name: file.suite.clone(),
        kind: GroupKind::Suite,
        skipped: skipped.clone(),
        cases: Vec::with_capacity(cases.len()),
        notes: Vec::new(),
    };
    for (test_group, case) in &cases {
        let status = match &skipped {
            Some(reason) => Status::Skipped(reason.clone()),
            None => run_case(session, test_group, case),
        };
        group.cases.push(case_result(case, status));
        progress.update(&group, cases.len());
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

/// Sends one case to the adapter and judges the reply.
fn run_case(session: &mut Session, group: &TestGroup, case: &TestCase) -> Status {
    let call = Call::Vector(VectorParams {
        operation: group.operation.clone(),
        inputs: merged_inputs(group, case),
    });
    let reply = session.ready().and_then(|()| {
        let mark = session.stderr_mark();
        session.request(&call).map(|reply| (reply, mark))
    });
    let failure = |actual: String, note: Option<String>, stderr: Vec<String>| {
        Status::Failed(CaseFailure {
            expected: expected_text(case),
            actual,
            note,
            stderr,
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
        ),
        Ok((reply, mark)) => match outcome(reply) {
            // HP-26: an acceptable case passes whatever the reply.
            Err(_) if case.result == Verdict::Acceptable => Status::Passed,
            Err(unknown) => failure(unknown, None, session.stderr_since(mark)),
            Ok(outcome) => match judge(case, outcome) {
                Ok(()) => Status::Passed,
                Err((expected, actual)) => Status::Failed(CaseFailure {
                    expected,
                    actual,
                    note: None,
                    stderr: session.stderr_since(mark),
                }),
            },
        },
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

/// What a case expects, as [`judge`] words it.
pub fn expected_text(case: &TestCase) -> String {
    match case.result {
        Verdict::Valid => format!("valid: {}", case.expected.clone().unwrap_or(Value::Null)),
        Verdict::Invalid => case.error_code.clone().unwrap_or_default(),
        Verdict::Acceptable => "valid or invalid (acceptable)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::client::ErrorReply;
    use serde_json::json;

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
