//! The node's control protocol: one command per line on stdin, exactly one JSON line per line
//! on stdout — `{"ok":true,...}` or `{"ok":false,"code":"NAME","message":"..."}` with a code from
//! the registry (spec/errors.md). Meant for scripts and tests, so every reply is one line and
//! nothing else is ever written to stdout. Every line is answered, in order: an empty line, a
//! line that is not UTF-8 and a line over [`MAX_LINE_BYTES`] each get a BAD_REQUEST reply (whose
//! message never repeats more than a short prefix of what was sent), and the channel goes on.
//!
//! Commands that only touch the [`Peer`] are run by [`run_on_peer`], which the one-shot
//! subcommands of `threads-node` share; `id`, `connect` and `stop` need the network and are run
//! by the node's event loop.
//!
//! Names are those of the harness protocol (spec/harness-protocol.md, H.9) wherever the two say
//! the same thing: a variant is `raw` or `access-controlled` [HP-33], a role `follower`, `reader`
//! or `writer` [HP-35], an appended record's CID is `recordCid` [HP-34], and the heads of a thread
//! are `logs` keyed by log ID [HP-39].

use std::io::BufRead;
use std::str::FromStr;

use multiaddr::Multiaddr;
use rand_core::CryptoRng;
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::invite::InviteRole;
use crate::store::Store;
use crate::sync::Peer;

/// The longest command line the node reads, newline excluded. Commands are short (the longest,
/// `join`, carries an invite of a few kilobytes per log); the bound keeps a line without an end
/// from growing the node's memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The most of a word of the command line an error message quotes: replies stay short whatever
/// was sent (a 200 MB unknown command was echoed back in full, issue 18).
const QUOTE_CHARS: usize = 64;

/// Reads the next command line from `input`, at most `max` bytes of it, without its newline
/// (and a `\r` before it). `Ok(None)` at the end of input; `Ok(Some(Err(_)))`, BAD_REQUEST, for a
/// line that is not UTF-8 or is longer than `max` (read to its end and dropped, and not quoted),
/// so that every line gets exactly one reply and the channel goes on. `Err` only for a read
/// error.
pub fn read_line(input: &mut impl BufRead, max: usize) -> std::io::Result<Option<Result<String>>> {
    let mut line = Vec::new();
    let mut length = 0usize;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !any {
                return Ok(None);
            }
            break;
        }
        any = true;
        let end = buf.iter().position(|b| *b == b'\n');
        let chunk = &buf[..end.unwrap_or(buf.len())];
        length = length.saturating_add(chunk.len());
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.map_or(buf.len(), |i| i + 1);
        input.consume(used);
        if end.is_some() {
            break;
        }
    }
    if length > max {
        return Ok(Some(Err(bad(format!(
            "a command line of more than {max} bytes ({length}); it was dropped"
        )))));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8(line).map_err(|e| {
        bad(format!(
            "the command line is not UTF-8 (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })))
}

/// `word` for an error message: Debug-quoted, cut to [`QUOTE_CHARS`] characters.
fn quote(word: &str) -> String {
    match word.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &word[..cut], word.len()),
        None => format!("{word:?}"),
    }
}

/// One line of the control protocol, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `id`: this node's peer ID and listen addresses.
    Id,
    /// `create raw|access-controlled` (`acl` for short): a new thread with this node as its first
    /// writer.
    Create(Variant),
    /// `append THREAD TEXT...`: the rest of the line, as bytes, is the event's body.
    Append {
        /// The thread.
        thread: ThreadId,
        /// The body.
        body: Vec<u8>,
    },
    /// `invite THREAD writer|reader|follower PEER`: an invite, printed as hex.
    Invite {
        /// The thread.
        thread: ThreadId,
        /// The role offered.
        role: InviteRole,
        /// The invited peer.
        recipient: LogId,
    },
    /// `join HEX`: join the thread of an invite.
    Join(Vec<u8>),
    /// `connect MULTIADDR`: dial an address and file it in the address book.
    Connect(Multiaddr),
    /// `heads THREAD`: each log's head CID and counter.
    Heads(ThreadId),
    /// `read THREAD`: the plaintext events (readers and writers only).
    Read(ThreadId),
    /// `counters`: what the peer has done so far.
    Counters,
    /// `threads`: the threads this node holds.
    Threads,
    /// `stop`: exit cleanly.
    Stop,
    /// `db …` and `kv …`: the database commands of [`super::database`] [DB-2], [DB-17].
    Db(super::database::DbCommand),
}

impl FromStr for Command {
    type Err = Error;

    /// BAD_REQUEST for an unknown command or a wrong number of arguments; an argument that does
    /// not parse keeps its own code (e.g. TID_BAD_MULTIBASE for a bad thread ID).
    fn from_str(line: &str) -> Result<Command> {
        let (name, rest) = split_word(line.trim_start());
        match name {
            "append" => parse_append(rest),
            "create" => match args::<1>(name, rest)? {
                // The short form the node accepted first; the protocol's name works as well.
                ["acl"] => Ok(Command::Create(Variant::AccessControlled)),
                [variant] => Ok(Command::Create(variant.parse().map_err(|_| {
                    bad(format!(
                        "create raw|access-controlled|acl, not {}",
                        quote(variant)
                    ))
                })?)),
            },
            "invite" => parse_invite(rest),
            "join" => {
                let [hex] = args::<1>(name, rest)?;
                Ok(Command::Join(
                    hex::decode(hex).map_err(|e| bad(format!("the invite is not hex: {e}")))?,
                ))
            }
            "connect" => {
                let [addr] = args::<1>(name, rest)?;
                Ok(Command::Connect(Multiaddr::from_str(addr).map_err(
                    |e| Error::new(ErrorCode::AddrInvalid, format!("{}: {e}", quote(addr))),
                )?))
            }
            "heads" => Ok(Command::Heads(args::<1>(name, rest)?[0].parse()?)),
            "read" => Ok(Command::Read(args::<1>(name, rest)?[0].parse()?)),
            "db" | "kv" => Ok(Command::Db(super::database::parse(name == "kv", rest)?)),
            _ => parse_bare(name, rest),
        }
    }
}

/// The commands without arguments.
fn parse_bare(name: &str, rest: &str) -> Result<Command> {
    let command = match name {
        "id" => Command::Id,
        "counters" => Command::Counters,
        "threads" => Command::Threads,
        "stop" => Command::Stop,
        "" => return Err(bad("an empty command")),
        other => return Err(bad(format!("unknown command {}", quote(other)))),
    };
    args::<0>(name, rest)?;
    Ok(command)
}

/// `append THREAD TEXT...`: the body is everything after the thread ID and the whitespace that
/// follows it, verbatim, so that an event may contain spaces.
fn parse_append(rest: &str) -> Result<Command> {
    let (thread, body) = split_word(rest);
    if thread.is_empty() {
        return Err(bad("usage: append THREAD TEXT..."));
    }
    Ok(Command::Append {
        thread: thread.parse()?,
        body: body.as_bytes().to_vec(),
    })
}

fn parse_invite(rest: &str) -> Result<Command> {
    let [thread, role, recipient] = args::<3>("invite", rest)?;
    Ok(Command::Invite {
        thread: thread.parse()?,
        role: role.parse::<InviteRole>()?,
        recipient: recipient.parse()?,
    })
}

/// The first word of `s` and the rest with its leading whitespace removed.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (s, ""),
    }
}

/// Exactly `N` whitespace-separated arguments.
fn args<'a, const N: usize>(name: &str, rest: &'a str) -> Result<[&'a str; N]> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    words
        .try_into()
        .map_err(|words: Vec<&str>| bad(format!("{name} takes {N} arguments, not {}", words.len())))
}

fn bad(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, detail)
}

/// `{"ok":true}` plus `fields` (a JSON object).
pub fn ok(fields: Value) -> Value {
    let mut reply = Map::from_iter([("ok".to_owned(), Value::Bool(true))]);
    if let Value::Object(fields) = fields {
        reply.extend(fields);
    }
    Value::Object(reply)
}

/// A reply as one line of JSON with `ok` first, whatever order the map keeps its keys in, so a
/// person reading the stream sees the outcome before the details.
pub fn render(reply: &Value) -> String {
    let Value::Object(fields) = reply else {
        return reply.to_string();
    };
    let ordered = fields
        .get_key_value("ok")
        .into_iter()
        .chain(fields.iter().filter(|(key, _)| *key != "ok"));
    let members: Vec<String> = ordered
        .map(|(key, value)| format!("{}:{value}", Value::String(key.clone())))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// `{"ok":false,"code":"NAME","message":"..."}`.
pub fn error_reply(error: &Error) -> Value {
    json!({"ok": false, "code": error.code.name(), "message": error.detail})
}

/// Runs a command that needs only the peer; BAD_REQUEST for `id`, `connect` and `stop`, which
/// need a running node. `now` is the wall clock in unix milliseconds, for event headers.
pub fn run_on_peer<R: CryptoRng, S: Store>(
    peer: &mut Peer<R, S>,
    command: Command,
    now: u64,
) -> Result<Value> {
    Ok(match command {
        Command::Create(variant) => {
            let (thread, log) = peer.create_thread(now, variant)?;
            ok(json!({"thread": thread.to_string(), "log": log.to_string()}))
        }
        Command::Append { thread, body } => append(peer, &thread, &body, now)?,
        Command::Invite {
            thread,
            role,
            recipient,
        } => ok(json!({"invite": hex::encode(peer.invite(&thread, role, recipient)?)})),
        Command::Join(invite) => {
            let (thread, role) = peer.join(now, &invite)?;
            ok(json!({"thread": thread.to_string(), "role": role.to_string()}))
        }
        Command::Heads(thread) => heads(peer, &thread)?,
        Command::Read(thread) => read(peer, &thread)?,
        Command::Counters => ok(json!({"counters": peer.counters()})),
        Command::Threads => {
            let threads: Vec<String> = peer.threads().iter().map(ToString::to_string).collect();
            ok(json!({"threads": threads}))
        }
        Command::Db(command) => super::database::run(peer, command, now)?,
        Command::Id | Command::Connect(_) | Command::Stop => {
            return Err(bad("this command needs a running node"));
        }
    })
}

/// Appends one event to this peer's log in `thread`: `{"log","seq","recordCid"}` [HP-34].
pub fn append<R: CryptoRng, S: Store>(
    peer: &mut Peer<R, S>,
    thread: &ThreadId,
    body: &[u8],
    now: u64,
) -> Result<Value> {
    let (log, seq, cid) = peer.append(now, thread, body)?;
    Ok(ok(
        json!({"log": log.to_string(), "seq": seq, "recordCid": cid.to_string()}),
    ))
}

/// Appends `bodies` to this peer's log in `thread` in one durable write [SYNC-30]: one
/// `{"log","seq","recordCid"}` per event, in order [HP-34].
pub fn append_batch<R: CryptoRng, S: Store>(
    peer: &mut Peer<R, S>,
    thread: &ThreadId,
    bodies: &[Vec<u8>],
    now: u64,
) -> Result<Vec<Value>> {
    Ok(peer
        .append_batch(now, thread, bodies)?
        .into_iter()
        .map(|(log, seq, cid)| {
            ok(json!({"log": log.to_string(), "seq": seq, "recordCid": cid.to_string()}))
        })
        .collect())
}

/// Each log's head CID (or null) and counter [LOG-2], keyed by log ID: `{"logs"}` [HP-39].
fn heads<R: CryptoRng, S: Store>(peer: &Peer<R, S>, thread: &ThreadId) -> Result<Value> {
    let heads: Map<String, Value> = peer
        .heads(thread)?
        .into_iter()
        .map(|(log, (head, counter))| {
            let head = head.map(|cid| cid.to_string());
            (log.to_string(), json!({"head": head, "counter": counter}))
        })
        .collect();
    Ok(ok(json!({"logs": heads})))
}

/// The events a reader opens, by log then seq; bodies as UTF-8, lossily. KEY_UNAVAILABLE for a
/// follower [KEY-7].
fn read<R: CryptoRng, S: Store>(peer: &Peer<R, S>, thread: &ThreadId) -> Result<Value> {
    let events: Vec<Value> = peer
        .read(thread)?
        .iter()
        .map(|event| {
            json!({
                "log": event.record.log().to_string(),
                "seq": event.record.seq(),
                "time": event.header.time,
                "body": String::from_utf8_lossy(&event.body),
            })
        })
        .collect();
    Ok(ok(json!({"events": events})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> Option<ErrorCode> {
        line.parse::<Command>().err().map(|e| e.code)
    }

    proptest::proptest! {
        /// Any line a user or script types gives a command or a registry error, never a panic.
        #[test]
        fn arbitrary_lines_never_panic_the_parser(line in "\\PC{0,200}") {
            let _ = line.parse::<Command>();
        }
    }

    fn lines(input: &[u8], max: usize) -> Vec<std::result::Result<String, ErrorCode>> {
        let mut reader = std::io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, max).expect("a slice reads") {
            out.push(line.map_err(|e| e.code));
        }
        out
    }

    /// Every line, whatever its bytes, gives one line or one error, and the next line reads on
    /// (issue 18: invalid UTF-8 ended the channel for good).
    #[test]
    fn bad_lines_are_errors_and_reading_goes_on() {
        let mut input = b"id\r\n\xff\xfe\n\nstop".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\nthreads\n");
        assert_eq!(
            lines(&input, 50),
            vec![
                Ok("id".to_owned()),
                Err(ErrorCode::BadRequest),
                Ok(String::new()),
                Err(ErrorCode::BadRequest),
                Ok("threads".to_owned()),
            ]
        );
        assert_eq!(lines(b"", 50), Vec::new());
        assert_eq!(lines(b"id", 50), vec![Ok("id".to_owned())]);
        // The bound is on the line without its end: `max` bytes are a line, one more is not.
        let at_max = format!("{}\n{}\n", "y".repeat(50), "z".repeat(51));
        assert_eq!(
            lines(at_max.as_bytes(), 50),
            vec![Ok("y".repeat(50)), Err(ErrorCode::BadRequest)]
        );
    }

    /// A reader that is interrupted (a signal arrived) before each of its chunks.
    struct Interrupted {
        data: &'static [u8],
        pending: bool,
    }

    impl std::io::Read for Interrupted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.pending = !self.pending;
            if self.pending && !self.data.is_empty() {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(3);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// An interrupted read is retried, not taken as the end of the channel or an error: a signal
    /// delivered to the node must not stop its control loop (std's own `read_line` retries too).
    #[test]
    fn an_interrupted_read_is_retried() {
        let mut reader = std::io::BufReader::with_capacity(
            4,
            Interrupted {
                data: b"id\nthreads\n",
                pending: false,
            },
        );
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, 50).expect("interruptions are retried") {
            out.push(line.map_err(|e| e.code));
        }
        assert_eq!(out, vec![Ok("id".to_owned()), Ok("threads".to_owned())]);
    }

    /// A reader that fails once with `kind`, then has `data`.
    struct FailsOnce {
        kind: Option<std::io::ErrorKind>,
        data: &'static [u8],
    }

    impl std::io::Read for FailsOnce {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if let Some(kind) = self.kind.take() {
                return Err(kind.into());
            }
            let n = buf.len().min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Only an interruption is retried: any other read error of the control channel is the
    /// caller's to see (the node reports it and stops reading), not read past as if it had not
    /// happened.
    #[test]
    fn a_read_error_other_than_an_interruption_is_returned() {
        let mut reader = std::io::BufReader::new(FailsOnce {
            kind: Some(std::io::ErrorKind::InvalidData),
            data: b"id\n",
        });
        let error = read_line(&mut reader, 50).expect_err("the error is returned");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }

    /// An error quotes at most a short prefix of what was sent.
    #[test]
    fn errors_do_not_echo_long_words() {
        let long = "y".repeat(100_000);
        for line in [
            long.clone(),
            format!("create {long}"),
            format!("connect {long}"),
        ] {
            let error = line.parse::<Command>().expect_err("not a command");
            assert!(error.detail.len() < 200, "{}", error.detail.len());
        }
    }

    #[test]
    fn commands_parse_and_append_keeps_the_rest_of_the_line() {
        assert_eq!("id".parse(), Ok(Command::Id));
        assert_eq!(" stop ".parse(), Ok(Command::Stop));
        assert_eq!(
            "create acl".parse(),
            Ok(Command::Create(Variant::AccessControlled))
        );
        let thread = ThreadId::from_parts(Variant::Raw, &[7; 16]).expect("tid");
        let line = format!("append {thread}   two  words ");
        assert_eq!(
            line.parse(),
            Ok(Command::Append {
                thread,
                body: b"two  words ".to_vec()
            })
        );
    }

    #[test]
    fn bad_lines_carry_registry_codes() {
        assert_eq!(code(""), Some(ErrorCode::BadRequest));
        assert_eq!(code("fly"), Some(ErrorCode::BadRequest));
        assert_eq!(code("create"), Some(ErrorCode::BadRequest));
        assert_eq!(code("create raw extra"), Some(ErrorCode::BadRequest));
        assert_eq!(code("id now"), Some(ErrorCode::BadRequest));
        assert_eq!(code("join zz"), Some(ErrorCode::BadRequest));
        assert_eq!(code("connect nowhere"), Some(ErrorCode::AddrInvalid));
        assert_eq!(code("heads !"), Some(ErrorCode::TidBadMultibase));
        assert_eq!(code("append"), Some(ErrorCode::BadRequest));
    }

    /// `text` with every run of more than 64 hex digits (invites) replaced by its length, so
    /// that a snapshot shows the shape of a reply rather than random bytes.
    fn shorten(text: &str) -> String {
        let mut out = String::new();
        let mut run = String::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
                run.push(c);
                continue;
            }
            if run.len() > 64 {
                out.push_str(&format!("<{} hex digits>", run.len()));
            } else {
                out.push_str(&run);
            }
            run.clear();
            out.push(c);
        }
        out.pop();
        out
    }

    /// What a script sees: every command's reply line, in the format of the module docs.
    #[test]
    fn control_replies_keep_their_format() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;

        let peer = |seed| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            Peer::new(crate::keys::IdentityKey::generate(&mut rng), rng)
        };
        let (mut writer, mut reader) = (peer(1), peer(2));
        let mut transcript = Vec::new();
        let mut now = 1_569_888_000_000;
        let mut run = |peer: &mut Peer<ChaCha20Rng>, line: &str| {
            now += 1000;
            let reply = line
                .parse::<Command>()
                .and_then(|command| run_on_peer(peer, command, now))
                .unwrap_or_else(|e| error_reply(&e));
            transcript.push(shorten(&format!("> {line}\n{}", render(&reply))));
            reply
        };
        let created = run(&mut writer, "create raw");
        let thread = created["thread"].as_str().unwrap_or_default().to_string();
        run(&mut writer, &format!("append {thread} hello, world"));
        run(&mut writer, &format!("append {thread} second"));
        run(&mut writer, &format!("heads {thread}"));
        run(&mut writer, &format!("read {thread}"));
        let invite = run(
            &mut writer,
            &format!("invite {thread} reader {}", reader.id()),
        );
        let invite = invite["invite"].as_str().unwrap_or_default().to_string();
        run(
            &mut writer,
            &format!("invite {thread} admin {}", reader.id()),
        );
        run(&mut reader, &format!("join {invite}"));
        run(&mut reader, &format!("heads {thread}"));
        run(&mut reader, "threads");
        run(&mut writer, "create access-controlled");
        run(&mut writer, "create acl");
        run(&mut writer, "stop");
        insta::assert_snapshot!(transcript.join("\n"));
    }

    #[test]
    fn replies_are_single_json_objects() {
        let reply = ok(json!({"a": 1}));
        assert_eq!(render(&reply), r#"{"ok":true,"a":1}"#);
        let error = error_reply(&Error::new(ErrorCode::KeyUnavailable, "no read key"));
        assert_eq!(
            render(&error),
            r#"{"ok":false,"code":"KEY_UNAVAILABLE","message":"no read key"}"#
        );
    }
}
