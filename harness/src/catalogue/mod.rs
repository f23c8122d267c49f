//! The bug catalogue: the reference adapter with one plausible bug, chosen by name
//! (`threads-reference-adapter --fault NAME`), so that `threads-conform catalogue` can prove the
//! suite catches every one of them. Each fault names the requirement it breaks.
//!
//! A fault is emulated at the protocol boundary: it changes a request before the reference sees
//! it, or the reference's reply, the way an implementation with that bug would answer; the
//! database faults of live scenarios are planted in the nodes' fold instead
//! ([`crate::adapter::DbFault`]). A fault never looks at what a case expects (the adapter is
//! not told), only at the request.

mod chapters;
pub mod coverage;
pub mod driver;
mod emulate;
mod faults;
pub mod run;
mod text;

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use serde_json::Value;

use crate::adapter::{Adapter, AppendFault, AuthFault, DbFault, RestartFault};

pub use faults::FAULTS;

/// The chapters a fault's tag belongs to, by the tag's prefix: `TID-9` is chapter 1.
pub fn chapter(tag: &str) -> &'static str {
    match tag.split('-').next().unwrap_or_default() {
        "TID" | "LOGID" | "ADDR" => "1 identifiers",
        "KEY" => "2 keys",
        "SEAL" | "REC" | "SIG" | "ENV" | "VERIFY" => "3 records",
        "LOG" => "4 logs",
        "INV" => "5 invites",
        "ACL" => "6 access control",
        "SYNC" => "7 sync and membership",
        "DB" => "8 database",
        "HP" => "H harness protocol",
        _ => "other",
    }
}

/// What kind of mistake a fault makes, as issue 15 classifies the bugs implementations make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Accepts what a MUST rejects.
    AcceptsInvalid,
    /// Rejects what is valid.
    RejectsValid,
    /// Rejects with another error code than the one required.
    WrongCode,
    /// Produces output a creator-side MUST forbids.
    BadOutput,
    /// Orders a multi-item result wrongly.
    WrongOrder,
    /// Breaks a rule of the harness protocol (appendix H).
    Protocol,
    /// Stops making progress under loss or partitions: only a simulator run shows it [HP-93].
    NotLive,
}

impl Class {
    /// The class as the report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Class::AcceptsInvalid => "accepts-invalid",
            Class::RejectsValid => "rejects-valid",
            Class::WrongCode => "wrong-code",
            Class::BadOutput => "bad-output",
            Class::WrongOrder => "wrong-order",
            Class::Protocol => "protocol",
            Class::NotLive => "not-live",
        }
    }
}

/// One fault of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// Its name, as given to `--fault`.
    pub name: &'static str,
    /// The requirement tag it violates, e.g. `TID-9`.
    pub tag: &'static str,
    /// What kind of mistake it is.
    pub class: Class,
    /// The bug, in a sentence.
    pub summary: &'static str,
    /// The rules on the harness that catching it depends on: the enforcement it proves, such as
    /// [HP-81]'s refusal of a bad `hello`. The catalogue counts the fault as caught only if the
    /// run shows that rule at work ([`run::Outcome::enforced`]), and coverage counts it on each.
    pub caught_by: &'static [&'static str],
}

/// The control: the reference without a bug, under a fault's name, which the catalogue must
/// report as missed. It is not in [`FAULTS`]; `catalogue --fault no-fault` shows that the
/// catalogue fails when the suite passes [HP-86].
pub const CONTROL: Fault = Fault {
    name: "no-fault",
    tag: "HP-86",
    class: Class::Protocol,
    summary: "no bug at all: the catalogue must report it missed",
    caught_by: &[],
};

/// The fault named `name` (the catalogue's, or the control).
pub fn find(name: &str) -> Option<&'static Fault> {
    FAULTS
        .iter()
        .chain(std::iter::once(&CONTROL))
        .find(|f| f.name == name)
}

/// The operation after whose replies `exit-after-reply` exits: its cases, and only they, are
/// charged with the exit [HP-82].
pub const EXIT_AFTER_OPERATION: &str = "keyset.encode";

/// The reference adapter with one fault switched on.
pub struct Faulty {
    fault: &'static Fault,
    adapter: Adapter,
    state: emulate::State,
}

impl Faulty {
    /// The reference with `fault`.
    pub fn new(fault: &'static Fault) -> Faulty {
        let mut adapter = Adapter::default();
        // The database faults live in the nodes' fold, below the protocol boundary: no rewrite
        // of a request or a reply could make a view skip or reorder events.
        let planted = match fault.name {
            "skips-remote-reducers" => Some(DbFault::SkipsRemoteReducers),
            "arrival-order" => Some(DbFault::ArrivalOrder),
            _ => None,
        };
        if let Some(planted) = planted {
            adapter.set_db_fault(planted);
        }
        let restart = match fault.name {
            "restart-loses-last-record" => Some(RestartFault::LosesLastRecord),
            "restart-forgets-peers" => Some(RestartFault::ForgetsPeers),
            _ => None,
        };
        if let Some(restart) = restart {
            adapter.set_restart_fault(restart);
        }
        let auth = match fault.name {
            "proof-other-peers-nonce" => Some(AuthFault::OtherPeersNonce),
            "proof-other-threads-nonce" => Some(AuthFault::OtherThreadsNonce),
            "proof-stale-nonce" => Some(AuthFault::StaleNonce),
            "nonce-same-for-every-peer" => Some(AuthFault::PredictableNonce),
            _ => None,
        };
        if let Some(auth) = auth {
            adapter.set_auth_fault(auth);
        }
        if fault.name == "append-replays-randomness" {
            adapter.set_append_fault(AppendFault::ReplaysRandomness);
        }
        Faulty {
            fault,
            adapter,
            state: emulate::State::default(),
        }
    }

    /// Whether a `shutdown` request was handled.
    pub fn done(&self) -> bool {
        self.adapter.done()
    }

    /// Whether the adapter exits right after answering `line` (fault `exit-after-reply`, which
    /// breaks [HP-23]: the exit is charged to that case, [HP-82]).
    pub fn exits_after(&self, line: &str) -> bool {
        self.fault.name == "exit-after-reply"
            && crate::json::parse(line)
                .is_ok_and(|(request, _)| request["params"]["operation"] == EXIT_AFTER_OPERATION)
    }

    /// One reply for one request line, with the fault's effect.
    pub fn handle_line(&mut self, line: &str) -> Value {
        match crate::json::parse(line) {
            Ok((request, _)) => {
                faults::handle(self.fault.name, &mut self.adapter, &mut self.state, request)
            }
            Err(_) => emulate::json_of(self.adapter.handle_line(line)),
        }
    }

    /// The bytes written to standard output for `reply` to the request `line`: the reply and its
    /// line feed [HP-3], or what a transport fault of appendix H writes instead.
    pub fn wire(&self, line: &str, reply: &Value) -> Vec<u8> {
        let operation = crate::json::parse(line)
            .map(|(request, _)| request["params"]["operation"].clone())
            .unwrap_or_default();
        let on = |op: &str| operation == op;
        let text = format!("{reply}\n");
        match self.fault.name {
            // A debugging line left in: stdout carries replies only [HP-3].
            "log-on-stdout" if on("membership.transcript") => {
                format!("computing the transcript…\n{text}").into_bytes()
            }
            // The reply written twice: one reply per request [HP-6].
            "reply-twice" if on("seal.associatedData") => format!("{text}{text}").into_bytes(),
            // A debug dump inside the reply, past the bound of a reply line [HP-53].
            "reply-without-end" if on("record.signingInput") => {
                let mut dump = format!("{{\"id\":{},\"debug\":\"", reply["id"]).into_bytes();
                dump.resize(
                    dump.len() + crate::runner::client::MAX_REPLY_BYTES + 1024,
                    b'.',
                );
                dump.extend_from_slice(b"\"}\n");
                dump
            }
            _ => text.into_bytes(),
        }
    }

    /// Whether standard output is flushed after each reply: not with `block-buffered-stdout`,
    /// whose replies wait in an 8 KiB buffer [HP-5].
    pub fn flushes(&self) -> bool {
        self.fault.name != "block-buffered-stdout"
    }
}

/// Serves the reference with `fault` on stdin and stdout, like [`crate::adapter::serve_stdio`].
pub fn serve_stdio(name: &str) -> ExitCode {
    let Some(fault) = find(name) else {
        eprintln!("no fault named {name:?}; `threads-conform catalogue --list` lists them");
        return ExitCode::from(2);
    };
    let mut faulty = Faulty::new(fault);
    // Buffered by this program, not line by line as Rust's stdout is: what a program whose
    // stdout is a pipe does unless it flushes [HP-5].
    let mut out = io::BufWriter::with_capacity(8192, io::stdout().lock());
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = faulty.handle_line(&line);
        let written = out.write_all(&faulty.wire(&line, &reply));
        let flushed = if faulty.flushes() {
            written.and_then(|()| out.flush())
        } else {
            written
        };
        if flushed.is_err() {
            break;
        }
        if faulty.done() {
            break;
        }
        if faulty.exits_after(&line) {
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn the_catalogue_spans_every_chapter_and_class_and_names_real_tags() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
        let tags = threads_vectors::lint::spec_tags(&spec).expect("spec/ is readable");
        let names: BTreeSet<_> = FAULTS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FAULTS.len(), "fault names are unique");
        assert!(FAULTS.len() >= 40, "issue 15 asks for at least 40 faults");
        assert!(!names.contains(CONTROL.name));
        for fault in FAULTS {
            assert!(
                tags.contains_key(fault.tag),
                "{} cites {}",
                fault.name,
                fault.tag
            );
            assert_ne!(chapter(fault.tag), "other", "{}", fault.name);
        }
        let chapters: BTreeSet<_> = FAULTS.iter().map(|f| chapter(f.tag)).collect();
        assert_eq!(chapters.len(), 9, "{chapters:?}");
        let classes: BTreeSet<_> = FAULTS.iter().map(|f| f.class).collect();
        assert_eq!(classes.len(), 7, "{classes:?}");
    }
}
