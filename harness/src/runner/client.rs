//! The protocol client: one adapter process, spoken to in newline-delimited JSON (harness protocol
//! version 1).
//!
//! Requests go to the adapter's stdin through a writer thread and replies come back from its stdout
//! through a reader thread, so a hung adapter can never block the harness: every request waits for
//! its reply at most the given timeout.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tail::{BoundedLine, StderrTail, read_bounded_line};
use crate::protocol::{Call, Empty, HelloParams, HelloResult, Request};
pub use crate::protocol::{ErrorBody as ErrorReply, PROTOCOL};

/// How long a crashed adapter is given to report its exit status.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How the adapter process misbehaved, as shown in a failed case's note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The adapter exited or closed its stdout.
    Crash,
    /// The reply was not JSON, had the wrong id, or had both or neither `result` and `error`.
    ProtocolViolation,
    /// No reply within the timeout.
    Timeout,
    /// Not run: a restarted adapter failed its `hello` or answered it differently [HP-18].
    AdapterUnavailable,
}

impl FaultKind {
    /// The note shown with the failed case: `CRASH`, `PROTOCOL_VIOLATION` or `TIMEOUT`.
    pub fn note(self) -> &'static str {
        match self {
            FaultKind::Crash => "CRASH",
            FaultKind::ProtocolViolation => "PROTOCOL_VIOLATION",
            FaultKind::Timeout => "TIMEOUT",
            FaultKind::AdapterUnavailable => "ADAPTER_UNAVAILABLE",
        }
    }
}

/// A misbehaving adapter: the request got no usable reply and the process must be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What happened.
    pub kind: FaultKind,
    /// The details, for people.
    pub detail: String,
    /// The last lines of the adapter's stderr (filled by [`super::session::Session`]).
    pub stderr: Vec<String>,
}

impl Fault {
    /// A fault without stderr lines.
    pub fn new(kind: FaultKind, detail: impl Into<String>) -> Fault {
        Fault {
            kind,
            detail: detail.into(),
            stderr: Vec::new(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.note(), self.detail)
    }
}

/// What an adapter did between a reply and the next request [HP-82].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Between {
    /// Nothing: it waits for the next request, as it should.
    Quiet,
    /// It exited or closed its stdout; how it ended.
    Exited(String),
    /// It wrote a line for which no request was pending [HP-6], quoted.
    StrayLine(String),
}

/// A well-formed reply: the result, or the error.
pub type Reply = Result<Value, ErrorReply>;

/// What the reader thread saw on the adapter's stdout.
enum StdoutEvent {
    /// One line, without its line ending.
    Line(Vec<u8>),
    /// A line longer than [`MAX_REPLY_BYTES`]; nothing more is read [HP-53].
    TooLong,
    /// End of the stream (or a read error).
    End,
}

/// One running adapter process.
pub struct AdapterProcess {
    child: Child,
    requests: Option<Sender<String>>,
    replies: Receiver<StdoutEvent>,
    stderr: StderrTail,
    next_id: u64,
}

impl AdapterProcess {
    /// Starts `argv[0]` with the arguments `argv[1..]`, its stdin, stdout and stderr piped.
    pub fn spawn(argv: &[String]) -> io::Result<AdapterProcess> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty adapter command"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(stdin), Some(stdout), Some(stderr)) => (stdin, stdout, stderr),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io::Error::other(
                        "the adapter's standard streams were not piped",
                    ));
                }
            };
        Ok(AdapterProcess {
            child,
            requests: Some(spawn_writer(stdin)),
            replies: spawn_reader(stdout),
            stderr: StderrTail::drain(stderr),
            next_id: 1,
        })
    }

    /// The adapter's stderr buffer.
    pub fn stderr(&self) -> &StderrTail {
        &self.stderr
    }

    /// Sends one request and waits at most `timeout` for its reply.
    ///
    /// Ids count from 1 in each process. A [`Fault`] means the process is no longer usable.
    pub fn request(&mut self, call: &Call, timeout: Duration) -> Result<Reply, Fault> {
        let id = self.next_id;
        self.next_id += 1;
        let method = call.method();
        let line = Request {
            id,
            call: call.clone(),
        }
        .to_line();
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        if !sent {
            return Err(Fault::new(
                FaultKind::Crash,
                format!(
                    "{method}: the adapter's stdin is closed; {}",
                    self.exit_description()
                ),
            ));
        }
        match self.replies.recv_timeout(timeout) {
            Ok(StdoutEvent::Line(bytes)) => parse_reply(&bytes, id),
            Ok(StdoutEvent::TooLong) => Err(Fault::new(
                FaultKind::ProtocolViolation,
                format!(
                    "{method}: the reply line is longer than {MAX_REPLY_BYTES} bytes (HP-53); \
                     the rest was not read"
                ),
            )),
            Ok(StdoutEvent::End) | Err(RecvTimeoutError::Disconnected) => Err(Fault::new(
                FaultKind::Crash,
                format!(
                    "{method}: the adapter closed its stdout before replying; {}",
                    self.exit_description()
                ),
            )),
            Err(RecvTimeoutError::Timeout) => Err(Fault::new(
                FaultKind::Timeout,
                format!("{method}: no reply within {:.1} s", timeout.as_secs_f64()),
            )),
        }
    }

    /// How the process ended, waiting a little for it to exit.
    fn exit_description(&mut self) -> String {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return format!("the adapter exited ({status})"),
                Ok(None) if start.elapsed() < EXIT_GRACE => {
                    thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => return "the adapter is still running".into(),
                Err(e) => return format!("its exit status is unknown ({e})"),
            }
        }
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// What the adapter did since its last reply, with no request pending, looked at without
    /// waiting [HP-82]: nothing, an exit (or its stdout closed), or a line no request asked for
    /// ([HP-6]).
    pub fn since_last_reply(&mut self) -> Between {
        match self.replies.try_recv() {
            Ok(StdoutEvent::Line(bytes)) => {
                Between::StrayLine(quote(&String::from_utf8_lossy(&bytes)))
            }
            Ok(StdoutEvent::TooLong) => {
                Between::StrayLine(format!("a line longer than {MAX_REPLY_BYTES} bytes"))
            }
            Ok(StdoutEvent::End) | Err(mpsc::TryRecvError::Disconnected) => {
                Between::Exited(self.exit_description())
            }
            Err(mpsc::TryRecvError::Empty) if self.has_exited() => {
                Between::Exited(self.exit_description())
            }
            Err(mpsc::TryRecvError::Empty) => Between::Quiet,
        }
    }

    /// Kills the process (if it still runs) and waits a little for its stderr to drain.
    pub fn kill(&mut self) {
        self.requests = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.wait_closed(Duration::from_secs(1));
    }

    /// Sends `shutdown`, closes the adapter's stdin and waits up to `timeout` for it to exit,
    /// killing it otherwise [HP-42]. Returns what went wrong, if anything: a failed `shutdown`, a
    /// non-zero exit status, or no exit in time.
    pub fn shutdown(self, timeout: Duration) -> Option<String> {
        let (reply, exit) = self.shutdown_parts(timeout);
        let reply = match reply {
            Ok(()) => None,
            Err(Ok(error)) => Some(format!("shutdown failed: error {error}")),
            Err(Err(fault)) => Some(format!("shutdown failed: {fault}")),
        };
        match (reply, exit) {
            (None, None) => None,
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }

    /// [`AdapterProcess::shutdown`] in two parts: how the `shutdown` request went (an error
    /// reply, or a fault such as a crash before replying), and what went wrong with the exit.
    pub fn shutdown_parts(
        mut self,
        timeout: Duration,
    ) -> (Result<(), Result<ErrorReply, Fault>>, Option<String>) {
        // An adapter that already exited has nothing to answer; its exit status still counts.
        let reply = if self.has_exited() {
            Ok(())
        } else {
            match self.request(&Call::Shutdown(Empty {}), timeout) {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(Ok(error)),
                Err(fault) if fault.kind == FaultKind::Crash => {
                    // The adapter is gone: its whole stderr goes with the fault.
                    self.stderr.wait_closed(Duration::from_secs(1));
                    let stderr = self.stderr.lines();
                    Err(Err(Fault { stderr, ..fault }))
                }
                Err(fault) => Err(Err(fault)),
            }
        };
        self.requests = None;
        let start = Instant::now();
        let exit = loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => break None,
                Ok(Some(status)) => {
                    break Some(format!("the adapter exited at shutdown ({status})"));
                }
                Ok(None) if start.elapsed() < timeout => thread::sleep(Duration::from_millis(20)),
                Ok(None) | Err(_) => {
                    self.kill();
                    break Some(format!(
                        "the adapter did not exit within {:.1} s of shutdown and was killed",
                        timeout.as_secs_f64()
                    ));
                }
            }
        };
        (reply, exit)
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A thread writing each request line (plus `\n`) to the adapter's stdin, flushing after each.
/// It ends when the sender is dropped (closing stdin) or a write fails.
fn spawn_writer(mut stdin: ChildStdin) -> Sender<String> {
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in rx {
            let written = stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"))
                .and_then(|()| stdin.flush());
            if written.is_err() {
                break;
            }
        }
    });
    tx
}

/// The longest reply line the harness reads, line feed excluded [HP-53]: far beyond any reply
/// of protocol 1 (the largest, a `node.read` of a long thread, is a few megabytes), and a bound on
/// what one adapter can make the harness hold (a line without an end grew it to 4 GB in 5 s).
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// A thread sending every line of the adapter's stdout, then [`StdoutEvent::End`]; a line over
/// [`MAX_REPLY_BYTES`] is sent as [`StdoutEvent::TooLong`] and ends the reading, as the adapter
/// is killed for it [HP-53].
fn spawn_reader(stdout: impl io::Read + Send + 'static) -> Receiver<StdoutEvent> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            let event = match read_bounded_line(&mut reader, MAX_REPLY_BYTES, &mut line) {
                Ok(BoundedLine::End) | Err(_) => break,
                Ok(BoundedLine::Line) => StdoutEvent::Line(line),
                Ok(BoundedLine::TooLong) => {
                    let _ = tx.send(StdoutEvent::TooLong);
                    return;
                }
            };
            if tx.send(event).is_err() {
                return;
            }
        }
        let _ = tx.send(StdoutEvent::End);
    });
    rx
}

/// At most this many characters of a bad reply are quoted in a fault.
const QUOTE_CHARS: usize = 200;

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Checks one reply line against the pending request's id.
pub fn parse_reply(line: &[u8], id: u64) -> Result<Reply, Fault> {
    let violation = |why: String| Err(Fault::new(FaultKind::ProtocolViolation, why));
    let Ok(text) = std::str::from_utf8(line) else {
        return violation(format!("reply to request {id} is not UTF-8"));
    };
    // RFC 8259 exactly: an unpaired surrogate escape is JSON, read as U+FFFD [HP-80].
    let value: Value = match crate::json::parse(text) {
        Ok((value, _)) => value,
        Err(e) => {
            return violation(format!(
                "reply to request {id} is not JSON ({e}): {}",
                quote(text)
            ));
        }
    };
    let Value::Object(mut reply) = value else {
        return violation(format!(
            "reply to request {id} is not a JSON object: {}",
            quote(text)
        ));
    };
    match reply.get("id") {
        Some(got) if got.as_u64() == Some(id) => {}
        Some(got) => {
            return violation(format!(
                "reply has id {got}, expected {id}: {}",
                quote(text)
            ));
        }
        None => return violation(format!("reply has no id, expected {id}: {}", quote(text))),
    }
    match (reply.remove("result"), reply.remove("error")) {
        (Some(result), None) => Ok(Ok(result)),
        (None, Some(error)) => parse_error(error, text).map(Err),
        (Some(_), Some(_)) => violation(format!(
            "reply {id} has both result and error: {}",
            quote(text)
        )),
        (None, None) => violation(format!(
            "reply {id} has neither result nor error: {}",
            quote(text)
        )),
    }
}

/// The `error` of a failure reply: an object with a string `code` and a string `message`, and
/// possibly a `state`, `null` counting as none [HP-9], [HP-10].
fn parse_error(error: Value, text: &str) -> Result<ErrorReply, Fault> {
    serde_json::from_value(error).map_err(|e| {
        Fault::new(
            FaultKind::ProtocolViolation,
            format!(
                "error is not an object with a string code and message ({e}): {}",
                quote(text)
            ),
        )
    })
}

/// What the adapter said about itself in `hello`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// The implementation's name.
    pub implementation: String,
    /// The implementation's version.
    pub version: String,
    /// The vector operations it supports.
    pub operations: BTreeSet<String>,
    /// The scenario features it supports (e.g. `nodes`).
    pub scenarios: BTreeSet<String>,
}

impl Hello {
    /// The `hello` request for this harness [HP-14].
    pub fn call() -> Call {
        Call::Hello(HelloParams::this_harness())
    }

    /// Reads a `hello` result [HP-14], [HP-15]; `Err` says what is wrong with it.
    pub fn from_result(result: &Value) -> Result<Hello, String> {
        // The protocol number first: another protocol's result may have another shape.
        match result.get("protocol") {
            Some(p) if p.as_u64() == Some(PROTOCOL) => {}
            Some(other) => {
                return Err(format!(
                    "HP-15: the adapter speaks protocol {other}; this harness speaks {PROTOCOL}"
                ));
            }
            None => return Err("HP-14: the hello result has no protocol number".into()),
        }
        let hello: HelloResult = serde_json::from_value(result.clone())
            .map_err(|e| format!("the hello result does not have the shape of HP-14: {e}"))?;
        for (key, text) in [
            ("implementation", &hello.implementation),
            ("version", &hello.version),
        ] {
            if text.is_empty() {
                return Err(format!("HP-14: the hello result has an empty `{key}`"));
            }
        }
        let capabilities = hello.capabilities;
        let operations = distinct("operations", capabilities.operations)?;
        let scenarios = distinct("scenarios", capabilities.scenarios)?;
        check_features(&scenarios)?;
        Ok(Hello {
            implementation: hello.implementation,
            version: hello.version,
            operations,
            scenarios,
        })
    }
}

/// The scenario features protocol 1 defines, each with the feature it requires [HP-14]. A new
/// feature needs new methods, so a new protocol number [HP-1]: a name not listed here is an
/// error [HP-81].
pub const FEATURES: [(&str, Option<&str>); 4] = [
    ("nodes", None),
    ("acl", Some("nodes")),
    ("ticks", Some("nodes")),
    ("db", Some("nodes")),
];

/// Checks a feature list against [`FEATURES`]: every name defined, and listed with the feature
/// it requires [HP-14], [HP-81]. `Err` names the rule.
fn check_features(listed: &BTreeSet<String>) -> Result<(), String> {
    for name in listed {
        match FEATURES.iter().find(|(feature, _)| feature == name) {
            None => {
                let known: Vec<&str> = FEATURES.iter().map(|(f, _)| *f).collect();
                return Err(format!(
                    "HP-81: capabilities.scenarios lists {name:?}, a feature protocol {PROTOCOL} \
                     does not define (it defines {})",
                    known.join(", ")
                ));
            }
            Some((_, Some(required))) if !listed.contains(*required) => {
                return Err(format!(
                    "HP-14: capabilities.scenarios lists {name:?} without {required:?}, which it \
                     requires"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A list of names that must hold no duplicates [HP-14]; `Err` names the rule and the name.
fn distinct(key: &str, names: Vec<String>) -> Result<BTreeSet<String>, String> {
    let mut set = BTreeSet::new();
    for name in names {
        if set.contains(&name) {
            return Err(format!("HP-14: capabilities.{key} lists {name:?} twice"));
        }
        set.insert(name);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NodeOnly;
    use serde_json::json;

    /// Any request: the scripts below do not read it.
    fn any() -> Call {
        Call::NodeStop(NodeOnly { node: "n".into() })
    }

    fn sh(script: &str) -> AdapterProcess {
        let argv = ["sh".to_string(), "-c".to_string(), script.to_string()];
        AdapterProcess::spawn(&argv).expect("sh starts")
    }

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn a_result_and_an_error_reply() {
        let mut p = sh(r#"read l; echo '{"id":1,"result":{"ok":true}}'
read l; echo '{"id":2,"error":{"code":"TID_SHORT_RANDOM","message":"short","state":null}}'
read l; printf '{"id":3,"error":{"code":"LOG_GAP","message":"gap","state":{"counter":2}},"extra":1}\r\n'"#);
        assert_eq!(p.request(&any(), LONG), Ok(Ok(json!({"ok": true}))));
        let e = p.request(&any(), LONG).unwrap().unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.state),
            ("TID_SHORT_RANDOM", "short", None)
        );
        let e = p.request(&any(), LONG).unwrap().unwrap_err();
        assert_eq!(e.state, Some(json!({"counter": 2})));
    }

    #[test]
    fn the_request_line_is_json_with_id_method_and_params() {
        let mut p = sh(r#"read l; printf '{"id":1,"result":%s}\n' "$l""#);
        let echoed = p.request(&any(), LONG).unwrap().unwrap();
        assert_eq!(
            echoed,
            json!({"id": 1, "method": "node.stop", "params": {"node": "n"}})
        );
    }

    fn fault(script: &str, timeout: Duration) -> Fault {
        let mut p = sh(script);
        let fault = p.request(&any(), timeout).unwrap_err();
        p.kill();
        fault
    }

    /// A reply line without an end is read to the bound and no further: a protocol violation,
    /// not gigabytes held [HP-53].
    #[test]
    fn a_reply_line_without_an_end_is_a_protocol_violation() {
        let f = fault("read l; yes | tr -d '\\n'", Duration::from_secs(600));
        assert_eq!(f.kind, FaultKind::ProtocolViolation, "{f}");
        assert!(f.detail.contains("HP-53"), "{f}");
    }

    #[test]
    fn garbage_is_a_protocol_violation() {
        let f = fault("read l; echo 'this is not json'", LONG);
        assert_eq!(f.kind, FaultKind::ProtocolViolation);
        assert!(f.detail.contains("not JSON"), "{f}");
    }

    #[test]
    fn a_wrong_id_is_a_protocol_violation() {
        let f = fault(r#"read l; echo '{"id":7,"result":{}}'"#, LONG);
        assert_eq!(f.kind, FaultKind::ProtocolViolation);
        assert!(f.detail.contains("id 7, expected 1"), "{f}");
    }

    #[test]
    fn both_or_neither_result_and_error_are_protocol_violations() {
        let both = fault(
            r#"read l; echo '{"id":1,"result":{},"error":{"code":"INTERNAL","message":""}}'"#,
            LONG,
        );
        assert!(both.detail.contains("both"), "{both}");
        let neither = fault(r#"read l; echo '{"id":1}'"#, LONG);
        assert!(neither.detail.contains("neither"), "{neither}");
        let bad_error = fault(r#"read l; echo '{"id":1,"error":"oops"}'"#, LONG);
        assert_eq!(bad_error.kind, FaultKind::ProtocolViolation);
        let no_message = fault(
            r#"read l; echo '{"id":1,"error":{"code":"INTERNAL"}}'"#,
            LONG,
        );
        assert!(no_message.detail.contains("message"), "{no_message}");
    }

    #[test]
    fn exit_before_replying_is_a_crash_with_the_status() {
        let f = fault("read l; echo dying >&2; exit 3", LONG);
        assert_eq!(f.kind, FaultKind::Crash);
        assert!(f.detail.contains("exit status: 3"), "{f}");
    }

    #[test]
    fn a_process_that_never_reads_is_a_crash_or_a_timeout_never_a_hang() {
        let f = fault("exit 0", LONG);
        assert_eq!(f.kind, FaultKind::Crash, "{f}");
    }

    #[test]
    fn no_reply_is_a_timeout() {
        let f = fault("read l; exec sleep 60", Duration::from_secs(2));
        assert_eq!(f.kind, FaultKind::Timeout);
    }

    #[test]
    fn stderr_is_captured() {
        let mut p = sh("echo 'starting up' >&2; read l; echo 'about to fail' >&2; exit 1");
        assert!(p.request(&any(), LONG).is_err());
        p.kill();
        assert_eq!(p.stderr().lines(), ["starting up", "about to fail"]);
    }

    #[test]
    fn a_missing_program_does_not_start() {
        assert!(AdapterProcess::spawn(&["threads-conform-no-such-program".into()]).is_err());
        assert!(AdapterProcess::spawn(&[]).is_err());
    }

    #[test]
    fn hello_results_are_checked() {
        let good = json!({"protocol": 1, "implementation": "x", "version": "1",
            "capabilities": {"operations": ["tid.decode"], "scenarios": ["nodes"]}});
        let hello = Hello::from_result(&good).unwrap();
        assert!(hello.operations.contains("tid.decode") && hello.scenarios.contains("nodes"));
        let mut wrong = good.clone();
        wrong["protocol"] = json!(2);
        assert!(
            Hello::from_result(&wrong)
                .unwrap_err()
                .contains("protocol 2")
        );
        let mut wrong = good.clone();
        wrong["capabilities"]["operations"] = json!([1]);
        assert!(Hello::from_result(&wrong).is_err());
        assert!(Hello::from_result(&json!({"protocol": 1})).is_err());
        let mut duplicate = good.clone();
        duplicate["capabilities"]["scenarios"] = json!(["nodes", "nodes"]);
        assert!(Hello::from_result(&duplicate).is_err());
        let mut missing = good.clone();
        missing["capabilities"] = json!({"operations": []});
        assert!(Hello::from_result(&missing).is_err());
        let mut empty = good;
        empty["version"] = json!("");
        assert!(Hello::from_result(&empty).is_err());
    }

    #[test]
    fn non_utf8_is_a_protocol_violation() {
        let f = parse_reply(b"\xff\xfe", 1).unwrap_err();
        assert_eq!(f.kind, FaultKind::ProtocolViolation);
    }
}

#[cfg(test)]
mod shutdown_tests {
    use super::*;

    fn sh(script: &str) -> AdapterProcess {
        AdapterProcess::spawn(&["sh".into(), "-c".into(), script.into()]).expect("sh starts")
    }

    #[test]
    fn a_clean_shutdown_reports_nothing() {
        let p = sh(r#"read l; echo '{"id":1,"result":{}}'; exit 0"#);
        assert_eq!(p.shutdown(Duration::from_secs(30)), None);
    }

    #[test]
    fn a_non_zero_exit_at_shutdown_is_reported() {
        let p = sh(r#"read l; echo '{"id":1,"result":{}}'; exit 5"#);
        let note = p.shutdown(Duration::from_secs(30)).unwrap();
        assert!(note.contains("exit status: 5"), "{note}");
    }

    #[test]
    fn an_adapter_that_ignores_shutdown_is_killed() {
        let p = sh("exec sleep 60");
        let note = p.shutdown(Duration::from_secs(2)).unwrap();
        assert!(note.contains("killed"), "{note}");
    }
}
