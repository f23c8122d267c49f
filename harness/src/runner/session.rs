//! A supervised adapter: restarted (with `hello` again) after every crash, protocol violation or
//! timeout, so one misbehaving case never stops the run ([HP-20], [HP-21]). A restart whose `hello`
//! fails or differs from the first makes the adapter unavailable for the rest of the run [HP-18].
//!
//! An adapter that exits, or writes a line no request asked for, after a reply and before the
//! next request is charged to the case whose reply came last, not to the next one [HP-82]: the
//! session looks before every request, and when an exit shows only once the next request is
//! pending, it sends that request once more to a restarted adapter; if that one answers, the
//! exit was the previous case's.

use std::time::Duration;

use crate::protocol::Call;

use super::client::{AdapterProcess, Between, Fault, FaultKind, Hello, Reply};

/// The case a request belongs to, so that a misbehaviour noticed after its reply can be charged
/// to it [HP-82].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseKey {
    /// The suite's or scenario's name.
    pub group: String,
    /// The vector's tcId; `None` for a scenario's step, which is no case of its own.
    pub id: Option<String>,
}

/// A fault charged to a case after its reply came: the adapter exited, or wrote a stray line,
/// before the next request [HP-82].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blame {
    /// The case whose reply came last.
    pub case: CaseKey,
    /// What the adapter did.
    pub fault: Fault,
}

/// The adapter for the whole run.
pub struct Session {
    argv: Vec<String>,
    timeout: Duration,
    process: Option<AdapterProcess>,
    hello: Hello,
    /// Why the adapter can no longer be used, once a restart failed.
    unavailable: Option<String>,
    restarts: u32,
    /// The case the next requests belong to.
    owner: Option<CaseKey>,
    /// The case and method of the last request the running process answered.
    answered: Option<(CaseKey, &'static str)>,
    blames: Vec<Blame>,
}

impl Session {
    /// Starts the adapter and greets it; `Err` says why the harness cannot run.
    pub fn start(argv: &[String], timeout: Duration) -> Result<Session, String> {
        let (process, hello) = launch(argv, timeout)?;
        Ok(Session {
            argv: argv.to_vec(),
            timeout,
            process: Some(process),
            hello,
            unavailable: None,
            restarts: 0,
            owner: None,
            answered: None,
            blames: Vec::new(),
        })
    }

    /// What the adapter said in its first `hello`.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// How often the adapter was restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Says which case the next requests belong to [HP-82].
    pub fn begin(&mut self, case: CaseKey) {
        self.owner = Some(case);
    }

    /// The faults charged to cases after their replies since the last call [HP-82].
    pub fn take_blames(&mut self) -> Vec<Blame> {
        std::mem::take(&mut self.blames)
    }

    /// A position in the current adapter's stderr, for [`Session::stderr_since`].
    pub fn stderr_mark(&self) -> u64 {
        self.process.as_ref().map_or(0, |p| p.stderr().mark())
    }

    /// The current adapter's stderr lines written after `mark`.
    pub fn stderr_since(&self, mark: u64) -> Vec<String> {
        self.process
            .as_ref()
            .map_or_else(Vec::new, |p| p.stderr().since(mark))
    }

    /// Sends `call` as the first request of a new adapter process of its own, which is then
    /// killed: how the harness tries a `hello` it never sends in a run, one of another protocol
    /// [HP-15]. The run's own process is not touched.
    pub fn probe(&self, call: &Call) -> Result<Reply, Fault> {
        let mut process = AdapterProcess::spawn(&self.argv)
            .map_err(|e| Fault::new(FaultKind::Crash, format!("cannot start the adapter: {e}")))?;
        let reply = process.request(call, self.timeout);
        process.kill();
        reply
    }

    /// Sends one request, first restarting the adapter if it is gone or has exited.
    ///
    /// On a [`Fault`] the adapter is killed; the fault carries its last stderr lines. A crash
    /// right after the previous case's reply is told apart from one this request caused by
    /// sending it once more to a restarted adapter [HP-82].
    pub fn request(&mut self, call: &Call) -> Result<Reply, Fault> {
        self.ready()?;
        let previous = self.answered.clone();
        match self.send(call) {
            Err(fault) if fault.kind == FaultKind::Crash => match previous {
                Some((case, method)) => self.resend(call, fault, case, method),
                None => Err(fault),
            },
            other => other,
        }
    }

    /// Sends `call` again after it crashed the adapter: if a restarted adapter answers it, the
    /// crash is charged to `case`, whose reply to `method` came just before [HP-82].
    fn resend(
        &mut self,
        call: &Call,
        fault: Fault,
        case: CaseKey,
        method: &str,
    ) -> Result<Reply, Fault> {
        self.ready()?;
        let reply = self.send(call)?;
        self.blames.push(Blame {
            case,
            fault: Fault {
                kind: FaultKind::Crash,
                detail: format!(
                    "the adapter exited right after replying to this case's {method} (HP-82): the \
                     next request crashed it, and a restarted adapter answered that request ({})",
                    fault.detail
                ),
                stderr: fault.stderr,
            },
        });
        Ok(reply)
    }

    /// Sends one request to the same process as the previous one: if the adapter is gone or has
    /// exited, the request fails as a crash instead (a scenario's nodes died with it, [HP-20]).
    pub fn request_same_process(&mut self, call: &Call) -> Result<Reply, Fault> {
        if let Some(unavailable) = self.unavailable_fault() {
            return Err(unavailable);
        }
        if let Some(mut fault) = self.since_last_reply() {
            fault.detail = format!("{}: {}", call.method(), fault.detail);
            return Err(fault);
        }
        if self.process.is_none() {
            return Err(Fault::new(
                FaultKind::Crash,
                format!("{}: the adapter exited between requests", call.method()),
            ));
        }
        self.send(call)
    }

    fn send(&mut self, call: &Call) -> Result<Reply, Fault> {
        let timeout = self.timeout;
        let Some(process) = self.process.as_mut() else {
            return Err(Fault::new(FaultKind::Crash, "the adapter is not running"));
        };
        match process.request(call, timeout) {
            Ok(reply) => {
                self.answered = self.owner.clone().map(|case| (case, call.method()));
                Ok(reply)
            }
            Err(mut fault) => {
                fault.stderr = self.retire();
                Err(fault)
            }
        }
    }

    /// What the running adapter did since its last reply, as a fault, when it exited or wrote
    /// a stray line; the process is then retired [HP-82].
    fn since_last_reply(&mut self) -> Option<Fault> {
        let process = self.process.as_mut()?;
        let after = match &self.answered {
            Some((_, method)) => format!("after replying to {method}"),
            None => "after its hello".to_string(),
        };
        let fault = match process.since_last_reply() {
            Between::Quiet => return None,
            Between::Exited(how) => Fault::new(
                FaultKind::Crash,
                format!("{how} {after}, before the next request (HP-82)"),
            ),
            Between::StrayLine(line) => Fault::new(
                FaultKind::ProtocolViolation,
                format!(
                    "{after}, the adapter wrote a line no request was pending for (HP-6, HP-82): \
                     {line}"
                ),
            ),
        };
        let stderr = self.retire();
        Some(Fault { stderr, ..fault })
    }

    /// Charges what the adapter did since its last reply to the case of that reply [HP-82]. An
    /// adapter that misbehaves right after `hello` is only restarted: there is no case to charge.
    fn charge_since_last_reply(&mut self) {
        let answered = self.answered.clone();
        if let (Some(fault), Some((case, _))) = (self.since_last_reply(), answered) {
            self.blames.push(Blame { case, fault });
        }
    }

    /// Kills the current process, if any; returns its last stderr lines.
    fn retire(&mut self) -> Vec<String> {
        self.answered = None;
        match self.process.take() {
            Some(mut process) => {
                process.kill();
                process.stderr().lines()
            }
            None => Vec::new(),
        }
    }

    fn unavailable_fault(&self) -> Option<Fault> {
        self.unavailable
            .as_ref()
            .map(|why| Fault::new(FaultKind::AdapterUnavailable, why.clone()))
    }

    /// Makes sure an adapter process is running: restarts it if it is gone or has exited ([HP-20],
    /// [HP-21]), charging an exit or stray line after the last reply to that reply's case
    /// [HP-82]. A failed restart makes the adapter unavailable for the rest of the run [HP-18].
    pub fn ready(&mut self) -> Result<(), Fault> {
        if let Some(unavailable) = self.unavailable_fault() {
            return Err(unavailable);
        }
        self.charge_since_last_reply();
        if self.process.is_some() {
            return Ok(());
        }
        self.restarts += 1;
        let restarted = launch(&self.argv, self.timeout).and_then(|(process, hello)| {
            if hello == self.hello {
                Ok(process)
            } else {
                Err(format!(
                    "the restarted adapter's hello differs from the first: {hello:?}, first {:?}",
                    self.hello
                ))
            }
        });
        match restarted {
            Ok(process) => {
                self.process = Some(process);
                Ok(())
            }
            Err(why) => {
                let why = format!("the adapter could not be restarted: {why}");
                self.unavailable = Some(why.clone());
                Err(Fault::new(FaultKind::AdapterUnavailable, why))
            }
        }
    }

    /// Sends `shutdown` and waits up to the case timeout for the adapter to exit, killing it
    /// otherwise; returns what went wrong at shutdown, if anything [HP-42], and the faults still
    /// to charge: an exit after the last case's reply, noticed before `shutdown` or because
    /// `shutdown` found the adapter gone, is that case's [HP-82].
    pub fn shutdown(mut self) -> (Option<String>, Vec<Blame>) {
        self.charge_since_last_reply();
        let timeout = self.timeout;
        let answered = self.answered.take();
        let Some(process) = self.process.take() else {
            return (None, self.blames);
        };
        let (reply, exit) = process.shutdown_parts(timeout);
        let reply = match (reply, answered) {
            (Ok(()), _) => None,
            (Err(Err(fault)), Some((case, method))) if fault.kind == FaultKind::Crash => {
                self.blames.push(Blame {
                    case,
                    fault: Fault {
                        detail: format!(
                            "the adapter exited right after replying to this case's {method}, \
                             before the harness's shutdown (HP-82): {}",
                            fault.detail
                        ),
                        ..fault
                    },
                });
                None
            }
            (Err(Ok(error)), _) => Some(format!("shutdown failed: error {error}")),
            (Err(Err(fault)), _) => Some(format!("shutdown failed: {fault}")),
        };
        let note = match (reply, exit) {
            (None, None) => None,
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        (note, self.blames)
    }
}

/// Starts the adapter and runs the `hello` handshake.
fn launch(argv: &[String], timeout: Duration) -> Result<(AdapterProcess, Hello), String> {
    let shown = shell_words::join(argv);
    let mut process =
        AdapterProcess::spawn(argv).map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let outcome = match process.request(&Hello::call(), timeout) {
        Ok(Ok(result)) => Hello::from_result(&result),
        Ok(Err(error)) => Err(format!("the adapter refused hello: {error}")),
        Err(fault) => Err(format!("hello failed: {fault}")),
    };
    match outcome {
        Ok(hello) => Ok((process, hello)),
        Err(why) => {
            process.kill();
            Err(with_stderr(
                format!("`{shown}`: {why}"),
                &process.stderr().lines(),
            ))
        }
    }
}

/// A message followed by the adapter's stderr lines, if any.
fn with_stderr(message: String, stderr: &[String]) -> String {
    if stderr.is_empty() {
        return message;
    }
    let mut text = format!("{message}\nadapter stderr (last {} lines):", stderr.len());
    for line in stderr {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text
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

    const HELLO: &str = r#"{"id":1,"result":{"protocol":1,"implementation":"fake","version":"0","capabilities":{"operations":[],"scenarios":[]}}}"#;
    const LONG: Duration = Duration::from_secs(30);

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn starts_and_greets() {
        let script = format!(
            "read l; echo '{HELLO}'; read l; echo '{{\"id\":2,\"result\":5}}'; read l; echo '{{\"id\":3,\"result\":{{}}}}'"
        );
        let mut session = Session::start(&sh(&script), LONG).unwrap();
        assert_eq!(session.hello().implementation, "fake");
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(5)));
        assert_eq!(session.shutdown(), (None, vec![]));
    }

    #[test]
    fn restarts_after_a_crash() {
        // Every process greets, then dies on its first real request.
        let script = format!("read l; echo '{HELLO}'; read l; echo boom >&2; exit 4");
        let mut session = Session::start(&sh(&script), LONG).unwrap();
        for _ in 0..2 {
            let fault = session.request(&any()).unwrap_err();
            assert_eq!(fault.kind, FaultKind::Crash);
            assert_eq!(fault.stderr, ["boom"]);
        }
        assert_eq!(session.restarts(), 1);
    }

    fn key(id: &str) -> CaseKey {
        CaseKey {
            group: "g".into(),
            id: Some(id.into()),
        }
    }

    fn on(node: &str) -> Call {
        Call::NodeStop(NodeOnly { node: node.into() })
    }

    /// Greets, then answers every request with its id, but exits on one that names `boom`, and
    /// does `after` after each reply.
    fn answering(after: &str) -> Vec<String> {
        sh(&format!(
            r#"read l; echo '{HELLO}'; n=1; while read l; do n=$((n+1)); case "$l" in *boom*) echo dying >&2; exit 3;; esac; echo "{{\"id\":$n,\"result\":$n}}"; {after}; done"#
        ))
    }

    /// An adapter that exits after replying is charged to the case it replied to; the next
    /// case runs on a restarted adapter and passes [HP-82].
    #[test]
    fn an_exit_right_after_a_reply_is_charged_to_that_case() {
        let mut session = Session::start(&answering("exit 0"), LONG).unwrap();
        session.begin(key("a"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        // Give the process time to exit, so the next request sees it gone before it is sent.
        std::thread::sleep(Duration::from_millis(500));
        session.begin(key("b"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        let blames = session.take_blames();
        assert_eq!(blames.len(), 1, "{blames:?}");
        assert_eq!(
            (&blames[0].case, blames[0].fault.kind),
            (&key("a"), FaultKind::Crash)
        );
        assert!(
            blames[0]
                .fault
                .detail
                .contains("after replying to node.stop"),
            "{blames:?}"
        );
        assert_eq!(session.restarts(), 1);
    }

    /// The same exit, seen only once the next request is pending: the request is sent once
    /// more to a restarted adapter, which answers it, so the exit is the previous case's
    /// [HP-82].
    #[test]
    fn an_exit_seen_only_after_the_next_send_is_charged_by_a_resend() {
        // It sleeps before exiting, so that the harness sends the next request first.
        let mut session = Session::start(&answering("sleep 0.3; exit 0"), LONG).unwrap();
        session.begin(key("a"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        session.begin(key("b"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        let blames = session.take_blames();
        assert_eq!(blames.len(), 1, "{blames:?}");
        assert_eq!(blames[0].case, key("a"));
        assert!(blames[0].fault.detail.contains("HP-82"), "{blames:?}");
        assert_eq!(session.restarts(), 1);
    }

    /// A request that crashes the adapter by itself crashes the restarted one too: it is that
    /// case's crash, and the case before is not charged [HP-82].
    #[test]
    fn a_request_that_crashes_every_adapter_is_charged_to_itself() {
        let mut session = Session::start(&answering("true"), LONG).unwrap();
        session.begin(key("a"));
        assert_eq!(session.request(&on("fine")).unwrap(), Ok(json!(2)));
        session.begin(key("b"));
        let fault = session.request(&on("boom")).unwrap_err();
        assert_eq!(fault.kind, FaultKind::Crash);
        assert_eq!(fault.stderr, ["dying"]);
        assert!(session.take_blames().is_empty());
        session.begin(key("c"));
        assert_eq!(session.request(&on("fine")).unwrap(), Ok(json!(2)));
        assert_eq!(session.restarts(), 2);
    }

    /// A line written after a reply, with no request pending, breaks [HP-6]: it is charged to the
    /// case before, not read as the next case's reply [HP-82].
    #[test]
    fn a_stray_line_after_a_reply_is_charged_to_that_case() {
        let mut session =
            Session::start(&answering("echo '{\"id\":99,\"result\":0}'"), LONG).unwrap();
        session.begin(key("a"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        std::thread::sleep(Duration::from_millis(300));
        session.begin(key("b"));
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        let blames = session.take_blames();
        assert_eq!(blames.len(), 1, "{blames:?}");
        assert_eq!(blames[0].fault.kind, FaultKind::ProtocolViolation);
        assert!(blames[0].fault.detail.contains("HP-6"), "{blames:?}");
        assert!(blames[0].fault.detail.contains("99"), "{blames:?}");
    }

    /// An exit after the last case's reply is that case's, whether it shows before `shutdown`
    /// or only because `shutdown` finds the adapter gone [HP-82].
    #[test]
    fn an_exit_after_the_last_reply_is_charged_at_shutdown() {
        for after in ["exit 0", "sleep 0.3; exit 0"] {
            let mut session = Session::start(&answering(after), LONG).unwrap();
            session.begin(key("last"));
            assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
            let (note, blames) = session.shutdown();
            assert_eq!(note, None, "{after}");
            assert_eq!(blames.len(), 1, "{after}: {blames:?}");
            assert_eq!(blames[0].case, key("last"));
        }
    }

    #[test]
    fn an_exit_between_requests_fails_a_same_process_request() {
        let mut session = Session::start(&answering("exit 0"), LONG).unwrap();
        session.begin(CaseKey {
            group: "scenario".into(),
            id: None,
        });
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        std::thread::sleep(Duration::from_millis(500));
        let fault = session.request_same_process(&any()).unwrap_err();
        assert_eq!(fault.kind, FaultKind::Crash);
        assert!(
            fault.detail.contains("after replying to node.stop"),
            "{fault}"
        );
        assert_eq!(session.request(&any()).unwrap(), Ok(json!(2)));
        assert_eq!(session.restarts(), 1);
    }

    #[test]
    fn a_refused_hello_stops_the_start() {
        let script = r#"read l; echo '{"id":1,"error":{"code":"BAD_REQUEST","message":"protocol 1 unknown"}}'"#;
        let why = Session::start(&sh(script), LONG).err().unwrap();
        assert!(why.contains("BAD_REQUEST"), "{why}");
    }

    #[test]
    fn a_failed_restart_makes_the_adapter_unavailable() {
        // The first process greets; a marker file makes every later one fail its hello.
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let script = format!(
            "if [ -e '{m}' ]; then echo 'second start' >&2; exit 1; fi; touch '{m}'; read l; echo '{HELLO}'; read l; exit 1",
            m = marker.display()
        );
        let mut session = Session::start(&sh(&script), LONG).unwrap();
        let first = session.request(&any()).unwrap_err();
        assert!(first.detail.contains("closed its stdout"), "{first}");
        for _ in 0..2 {
            let f = session.request(&any()).unwrap_err();
            assert_eq!(f.kind, FaultKind::AdapterUnavailable);
            assert!(f.detail.contains("second start"), "{f}");
        }
        assert_eq!(session.restarts(), 1);
    }
}
