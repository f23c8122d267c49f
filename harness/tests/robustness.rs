//! The harness judged as an implementer meets it (issue 15): partial credit per case, a distinct
//! exit status when nothing ran, failure reports one can act on, JSON read by RFC 8259's grammar,
//! a crash charged to the case that caused it, and the rules of `hello` enforced. Each test runs
//! the real `threads-conform` against the reference adapter behind a small Python proxy that
//! changes what it says, or against `examples/faulty_adapter.rs`, and names the requirement of
//! appendix H it checks.

// Helpers outside `#[test]` functions unwrap too: clippy.toml only covers test functions.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const CONFORM: &str = env!("CARGO_BIN_EXE_threads-conform");
const REFERENCE_ADAPTER: &str = env!("CARGO_BIN_EXE_threads-reference-adapter");

/// The reference adapter behind a proxy configured by a JSON object:
/// - `operations` / `scenarios`: what `hello` lists instead of the reference's lists;
///   `add_operations`: names appended to the operations;
/// - `surrogates`: every error message ends with an unpaired surrogate escape (`\ud83d`);
/// - `surrogate_text`: the `tid.decode` result for this input `text` gets one in `variant`.
///
/// A request the harness must not send ([HP-17]: an operation or feature the proxy's `hello` did
/// not list) is answered with a result no case expects, so it fails a case.
const PROXY: &str = r#"
import json, subprocess, sys
adapter, config = sys.argv[1], json.loads(sys.argv[2])
child = subprocess.Popen([adapter], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ops, features = None, None
ACL = {"acl.set", "node.acl", "node.keys"}
for line in sys.stdin:
    request = json.loads(line)
    method, params = request["method"], request.get("params", {})
    broken = ops is not None and (
        (method == "vector" and params.get("operation") not in ops)
        or (method not in ("hello", "vector", "shutdown") and "nodes" not in features)
        or ((method in ACL or params.get("variant") == "access-controlled") and "acl" not in features))
    if broken:
        print("HP-17 broken: " + method, file=sys.stderr, flush=True)
        print(json.dumps({"id": request["id"], "result": {"hp17": "broken"}}), flush=True)
        continue
    child.stdin.write(line)
    child.stdin.flush()
    reply = json.loads(child.stdout.readline())
    if method == "hello":
        caps = reply["result"]["capabilities"]
        if config.get("operations") is not None:
            caps["operations"] = config["operations"]
        caps["operations"] += config.get("add_operations", [])
        if config.get("scenarios") is not None:
            caps["scenarios"] = config["scenarios"]
        ops, features = set(caps["operations"]), set(caps["scenarios"])
    if config.get("surrogates") and "error" in reply:
        reply["error"]["message"] += " \ud83d"
    text = params.get("inputs", {}).get("text") if method == "vector" else None
    if text is not None and text == config.get("surrogate_text") and "result" in reply:
        reply["result"]["variant"] += "\udc00"
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"#;

/// A directory holding the proxy, kept for the test's life.
struct Proxy {
    dir: tempfile::TempDir,
}

impl Proxy {
    fn new() -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("proxy.py"), PROXY).unwrap();
        Proxy { dir }
    }

    /// The `--impl` value of the proxy with this configuration.
    fn command(&self, config: &Value) -> String {
        shell_words::join([
            "python3".to_string(),
            self.dir.path().join("proxy.py").display().to_string(),
            REFERENCE_ADAPTER.to_string(),
            config.to_string(),
        ])
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn conform(args: &[&str]) -> Output {
    Command::new(CONFORM)
        .args(["run", "--no-liveness"])
        .args(args)
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn group<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

fn cases_with(report: &Value, status: &str) -> Vec<Value> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["cases"].as_array().unwrap().iter().cloned())
        .filter(|c| c["status"] == status)
        .collect()
}

/// The tcIds of a suite's cases whose group uses `operation`, from the committed file.
fn tc_ids(suite: &str, operation: &str) -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../vectors/suites/{suite}.json"));
    let file = threads_vectors::lint::load(&path).unwrap();
    file.cases()
        .filter(|(g, _)| g.operation == operation)
        .map(|(_, c)| c.tc_id.to_string())
        .collect()
}

/// The `text` input of a valid `tid.decode` case that no other case shares.
fn unique_valid_tid_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/suites/tid.json");
    let file = threads_vectors::lint::load(&path).unwrap();
    let texts: Vec<(bool, String)> = file
        .cases()
        .filter_map(|(group, case)| {
            let inputs = threads_vectors::run::merged_inputs(group, case);
            let valid = group.operation == "tid.decode"
                && case.result == threads_vectors::format::Verdict::Valid;
            Some((valid, inputs.get("text")?.as_str()?.to_string()))
        })
        .collect();
    texts
        .iter()
        .find(|(valid, t)| *valid && texts.iter().filter(|(_, u)| u == t).count() == 1)
        .map(|(_, t)| t.clone())
        .unwrap()
}

fn suite_size(suite: &str) -> usize {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../vectors/suites/{suite}.json"));
    threads_vectors::lint::load(&path).unwrap().number_of_tests
}

fn python_example() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python/threads_adapter.py");
    shell_words::join(["python3".to_string(), script.display().to_string()])
}

fn faulty(fault: &str) -> String {
    let conform = PathBuf::from(CONFORM);
    let adapter = conform.with_file_name("examples").join("faulty_adapter");
    shell_words::join([
        adapter.display().to_string(),
        "--fault".into(),
        fault.into(),
    ])
}

/// Partial credit: an adapter listing one of a suite's operations has exactly that operation's
/// cases run, and the others skipped naming the operation (the whole suite was skipped, 0 passed)
/// [HP-16], [HP-83]. The harness sends nothing the adapter did not list [HP-17].
#[test]
fn a_suite_runs_the_cases_of_the_operations_listed_and_skips_the_rest() {
    let proxy = Proxy::new();
    let json_path = proxy.path("report.json");
    let only = proxy.command(&json!({"operations": ["tid.decode"], "scenarios": []}));
    let out = conform(&[
        "--impl",
        &only,
        "--suite",
        "tid",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let report = report(&json_path);
    let tid = group(&report, "tid");
    let ran = tc_ids("tid", "tid.decode").len();
    assert!(ran > 0);
    assert_eq!(
        tid["counts"],
        json!({"passed": ran, "failed": 0, "skipped": suite_size("tid") - ran})
    );
    assert_eq!(
        tid["skipped"],
        Value::Null,
        "the suite was not skipped whole"
    );
    let reasons: Vec<&str> = tid["skips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"the adapter does not list the operation tid.encode"),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"the adapter does not list the operation tid.decodeBytes"));
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!(
            "SKIPPED suite tid ({} of {} cases):",
            suite_size("tid") - ran,
            suite_size("tid")
        )),
        "{summary}"
    );

    // Features too: "nodes" without "acl" runs one scenario and never sends an ACL request.
    let nodes = proxy.command(&json!({"operations": [], "scenarios": ["nodes"]}));
    let out = conform(&[
        "--impl",
        &nodes,
        "--suite",
        "writer-follower-reader",
        "--suite",
        "acl-revocation",
    ]);
    let summary = stdout(&out);
    assert!(!stderr(&out).contains("HP-17 broken"), "{}", stderr(&out));
    assert!(
        summary.contains("10 passed, 0 failed, 9 skipped"),
        "{summary}"
    );
    // acl-revocation was named and skipped whole: status 3, not 0.
    assert_eq!(code(&out), 3, "{summary}");
    assert!(
        summary.contains("NOT RUN (exit status 3): scenario acl-revocation was named"),
        "{summary}"
    );
}

/// A run in which nothing ran, or a named suite was skipped whole, ends with status 3 and says
/// why; the default run of an adapter that implements one suite still ends with 0, its skips
/// listed (what CI runs for the Python example) [HP-84].
#[test]
fn a_run_that_runs_nothing_it_was_asked_to_ends_with_status_3() {
    let python = python_example();
    let default = conform(&["--impl", &python]);
    assert_eq!(code(&default), 0, "{}", stdout(&default));
    assert!(
        stdout(&default).contains("SKIPPED suite keys (all "),
        "{}",
        stdout(&default)
    );
    assert!(!stdout(&default).contains("NOT RUN"));

    let keys = conform(&["--impl", &python, "--suite", "keys"]);
    assert_eq!(code(&keys), 3, "{}", stdout(&keys));
    let summary = stdout(&keys);
    assert!(
        summary.contains("NOT RUN (exit status 3): no case ran"),
        "{summary}"
    );
    assert!(summary.contains("suite keys was named (--suite or --case) but every case of it was skipped: the adapter does not list the operation(s) "), "{summary}");

    let tid_and_keys = conform(&["--impl", &python, "--suite", "tid", "--suite", "keys"]);
    assert_eq!(
        code(&tid_and_keys),
        3,
        "tid ran, but keys was named: {}",
        stdout(&tid_and_keys)
    );

    let nothing = Proxy::new();
    let none = nothing.command(&json!({"operations": [], "scenarios": []}));
    let out = conform(&["--impl", &none]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(stdout(&out).contains("NOT RUN (exit status 3): no case ran"));
}

/// A failure shows the case's inputs, the difference between the expected and the replayed
/// state (not only the code), the link to the spec tag, and a command that reruns that case
/// alone, which does [HP-85].
#[test]
fn a_failure_shows_inputs_diff_spec_link_and_a_working_rerun_command() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let implementation = faulty("skip-link-check");
    let out = conform(&[
        "--impl",
        &implementation,
        "--suite",
        "logs",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let report = report(&json_path);
    let failed = cases_with(&report, "failed");
    let with_state = failed
        .iter()
        .find(|c| {
            c["diff"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l.as_str().unwrap().starts_with("state."))
        })
        .unwrap_or_else(|| panic!("no failure shows a state diff: {failed:#?}"));
    assert!(
        with_state["inputs"]["deliveries"].is_array(),
        "{with_state:#}"
    );
    assert!(
        with_state["expected"]
            .as_str()
            .unwrap()
            .contains(" with state {"),
        "{with_state:#}"
    );
    let tag = with_state["specSection"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        with_state["specUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/spec/logs.md#{tag}")),
        "{with_state:#}"
    );
    let id = with_state["id"].as_str().unwrap();
    let rerun = with_state["rerun"].as_str().unwrap();
    assert!(rerun.ends_with(&format!("--case logs:{id}")), "{rerun}");
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("  rerun:    {rerun}")),
        "{summary}"
    );
    assert!(
        summary.contains("  diff (expected → actual):\n    outcome: expected \"LOG_"),
        "{summary}"
    );
    assert!(
        summary.contains("\n    state.counter: expected "),
        "{summary}"
    );
    assert!(summary.contains(&format!("  case:     vectors/suites/logs.json tcId {id}")));

    // The command, run as printed (`threads-conform` being this binary), reruns that case alone.
    let words = shell_words::split(rerun).unwrap();
    assert_eq!(&words[..2], ["threads-conform", "run"]);
    let again = dir.path().join("again.json");
    let out = Command::new(CONFORM)
        .args(&words[1..])
        .args(["--json", again.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let again = self::report(&again);
    assert_eq!(
        again["counts"],
        json!({"passed": 0, "failed": 1, "skipped": 0})
    );
    assert_eq!(cases_with(&again, "failed")[0]["id"], id);
}

/// `--case` names one case; one that names nothing, or is not `GROUP:ID`, is refused with
/// status 2. A scenario's check is named by its check name.
#[test]
fn case_selects_one_case_or_is_refused() {
    let out = conform(&["--case", "tid:1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("1 passed, 0 failed, 0 skipped\n"),
        "{}",
        stdout(&out)
    );
    let out = conform(&[
        "--case",
        "writer-follower-reader:reader-reads",
        "--case",
        "tid:2",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("2 passed, 0 failed, 0 skipped\n"),
        "{}",
        stdout(&out)
    );
    for bad in ["tid:999999", "nope:1", "tid", "tid:1 --suite keys"] {
        let mut args: Vec<&str> = vec!["--case"];
        args.extend(bad.split(' '));
        let out = conform(&args);
        assert_eq!(code(&out), 2, "{bad}: {}", stdout(&out));
    }
}

/// An unpaired surrogate escape is valid JSON: error messages holding one are ordinary replies
/// (the run passes, no restart), and a result holding one is judged, read as U+FFFD: a wrong
/// answer, not a protocol violation [HP-80].
#[test]
fn lone_surrogate_escapes_are_json_not_protocol_violations() {
    let proxy = Proxy::new();
    let text = unique_valid_tid_text();
    let text = text.as_str();
    let json_path = proxy.path("report.json");
    let implementation = proxy.command(&json!({"surrogates": true, "surrogate_text": text}));
    let out = conform(&[
        "--impl",
        &implementation,
        "--suite",
        "tid",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let report = report(&json_path);
    assert_eq!(report["restarts"], 0, "{}", stdout(&out));
    let failed = cases_with(&report, "failed");
    assert_eq!(
        failed.len(),
        1,
        "only the case whose result was changed: {failed:#?}"
    );
    assert_eq!(
        failed[0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| *f == "PROTOCOL_VIOLATION")
            .count(),
        0
    );
    assert!(
        failed[0]["actual"]
            .as_str()
            .unwrap()
            .contains("\u{FFFD}\"}"),
        "{:#}",
        failed[0]
    );
    assert!(
        failed[0]["diff"][0]
            .as_str()
            .unwrap()
            .contains("result.variant"),
        "{:#}",
        failed[0]
    );
    assert_eq!(code(&out), 1);
}

/// An adapter that replies correctly and then exits has that case fail with CRASH, and the
/// next case, innocent, passes on a restarted adapter [HP-82].
#[test]
fn an_exit_after_a_reply_fails_that_case_and_not_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let implementation = faulty("exit-after-reply");
    let out = conform(&[
        "--impl",
        &implementation,
        "--suite",
        "keys",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let report = report(&json_path);
    let failed: Vec<(String, Vec<Value>)> = cases_with(&report, "failed")
        .into_iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["flags"].as_array().unwrap().clone(),
            )
        })
        .collect();
    let guilty = tc_ids("keys", "keyset.encode");
    assert_eq!(
        failed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        guilty,
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .all(|(_, flags)| flags.contains(&json!("CRASH"))),
        "{failed:?}"
    );
    assert_eq!(
        group(&report, "keys")["counts"]["passed"],
        suite_size("keys") - guilty.len()
    );
    let summary = stdout(&out);
    assert!(summary.contains("HP-82"), "{summary}");
}

/// `hello` is held to its rules: a feature without the one it requires, a feature protocol 1
/// does not define, a name listed twice, another protocol, an empty name; each stops the run
/// with status 2 and a message naming the rule [HP-14], [HP-15], [HP-81].
#[test]
fn a_hello_that_breaks_a_rule_stops_the_run_naming_the_rule() {
    let hello = |operations: Value, scenarios: Value, protocol: u64, name: &str| {
        let result = json!({"protocol": protocol, "implementation": name, "version": "1",
            "capabilities": {"operations": operations, "scenarios": scenarios}});
        let line = json!({"id": 1, "result": result}).to_string();
        shell_words::join([
            "sh".to_string(),
            "-c".into(),
            format!("read l; echo '{line}'; cat >/dev/null"),
        ])
    };
    for (adapter, rule, words) in [
        (
            hello(json!([]), json!(["acl"]), 1, "x"),
            "HP-14",
            "\"acl\" without \"nodes\"",
        ),
        (
            hello(json!([]), json!(["ticks"]), 1, "x"),
            "HP-14",
            "\"ticks\" without \"nodes\"",
        ),
        (
            hello(json!([]), json!(["db"]), 1, "x"),
            "HP-14",
            "\"db\" without \"nodes\"",
        ),
        (
            hello(json!([]), json!(["nodes", "telepathy"]), 1, "x"),
            "HP-81",
            "\"telepathy\"",
        ),
        (
            hello(json!(["tid.decode", "tid.decode"]), json!([]), 1, "x"),
            "HP-14",
            "\"tid.decode\" twice",
        ),
        (
            hello(json!([]), json!(["nodes", "nodes"]), 1, "x"),
            "HP-14",
            "\"nodes\" twice",
        ),
        (hello(json!([]), json!([]), 2, "x"), "HP-15", "protocol 2"),
        (
            hello(json!([]), json!([]), 1, ""),
            "HP-14",
            "empty `implementation`",
        ),
    ] {
        let out = conform(&["--impl", &adapter]);
        let message = stderr(&out);
        assert_eq!(code(&out), 2, "{adapter}: {message}");
        assert!(
            message.contains(rule) && message.contains(words),
            "{adapter}: {message}"
        );
    }
    // An operation this kit does not know is a newer kit's: ignored, and said so.
    let proxy = Proxy::new();
    let more = proxy.command(&json!({"add_operations": ["tid.fly"]}));
    let out = conform(&["--impl", &more, "--suite", "tid"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("NOTE the adapter lists operation(s) no suite of this kit uses, ignored (HP-81): tid.fly"), "{}", stdout(&out));
}

/// Several implementations in one run: each one's report, then a side-by-side matrix in the
/// text, one JSON document holding each report, and one page; the exit status is the worst.
#[test]
fn several_implementations_are_compared_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let (json_path, html_dir) = (dir.path().join("m.json"), dir.path().join("page"));
    let python = python_example();
    let mut args = vec![
        "--impl",
        python.as_str(),
        "--impl",
        REFERENCE_ADAPTER,
        "--suite",
        "tid",
    ];
    args.extend([
        "--json",
        json_path.to_str().unwrap(),
        "--html",
        html_dir.to_str().unwrap(),
    ]);
    let out = conform(&args);
    let summary = stdout(&out);
    assert_eq!(code(&out), 0, "{summary}\n{}", stderr(&out));
    let tid = suite_size("tid");
    assert!(
        summary.contains("side by side (passed/failed/skipped)"),
        "{summary}"
    );
    let matrix_text = summary.split("side by side").nth(1).unwrap_or_default();
    let row = matrix_text
        .lines()
        .find(|l| l.starts_with("suite tid "))
        .unwrap_or_default();
    assert_eq!(row.matches(&format!("{tid}/0/0")).count(), 2, "{summary}");
    let matrix = report(&json_path);
    assert_eq!(matrix["kind"], "matrix");
    let names: Vec<&str> = matrix["implementations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["implementation"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["threads-python-example", "threads-reference"]);
    let page = fs::read_to_string(html_dir.join("index.html")).unwrap();
    assert!(page.contains("<h2>Side by side</h2>") && page.contains("threads-python-example"));
    // keys named: the Python example runs none of it, so the run as a whole ends with 3.
    let out = conform(&[
        "--impl",
        &python,
        "--impl",
        REFERENCE_ADAPTER,
        "--suite",
        "keys",
    ]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
}
