//! `threads-node`: one Threads peer on a real network (spec/sync.md, chapter 7), driven by
//! commands on stdin. See `threads-node --help`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use libp2p::Multiaddr;
use serde_json::json;
use threads::id::ThreadId;
use threads::node::{self, control, datadir};
use threads::sync::MAX_APPEND_BATCH;
use threads::{Error, ErrorCode, Result};
use tracing_subscriber::EnvFilter;

/// Command lines, one per line on stdin; each is answered by exactly one JSON line on stdout.
const CONTROL_HELP: &str = "\
Control commands (one per line on stdin; each gets exactly one JSON line on stdout,
{\"ok\":true,...} or {\"ok\":false,\"code\":\"NAME\",\"message\":\"...\"}):
  id                                   peer ID and listen addresses
  create raw|access-controlled|acl     a new thread; prints its ID and this node's log
  append THREAD TEXT...                appends the rest of the line as one event; append lines
                                       for one thread already waiting are stored in one durable
                                       write, each answered once it is stored
  invite THREAD writer|reader|follower PEER
                                       an invite for PEER, as hex
  join HEX                             joins the thread of an invite
  connect MULTIADDR                    dials an address (and files it if it ends in /p2p/ID)
  heads THREAD                         each log's head CID and counter, under \"logs\"
  read THREAD                          the plaintext events (not for followers)
  counters                             what the peer has done so far
  threads                              the threads this node holds
  stop                                 exits

Database commands (spec/database.md; THREAD a thread this node reads; JSON the rest of the line;
values are JSON with integers within +-(2^53 - 1); replies as above):
  db declare THREAD NAME JSON          declares a collection: {\"fields\":{FIELD:[TYPE...]},
                                       \"required\":[FIELD...],\"indexes\":[FIELD...]}, TYPE one of
                                       null bool integer string bytes list map
  db put THREAD COLL ID JSON           creates document ID, or saves the fields that changed
  db get THREAD COLL ID                the document under \"doc\" (null when absent)
  db delete THREAD COLL ID             deletes document ID
  db query THREAD JSON                 {\"coll\":COLL,\"filter\":...,\"sort\":[...],\"skip\":N,
                                       \"limit\":N}: the matches under \"docs\", in order
  db view THREAD                       the view CID and the latest snapshot (every 256 events)
  db watch THREAD                      from now on, one extra line {\"watch\":THREAD,\"change\":
                                       {...}} per change of the view, in commit order
  kv put THREAD KEY JSON               sets a key of the key-value store
  kv get THREAD KEY                    the value under \"value\" (null when unset)
  kv del THREAD KEY                    removes a key
Writes reply with the event's \"recordCid\"; a refused write appends nothing and replies with
its code (DB_EXISTS, DB_NOT_FOUND, DB_SCHEMA_FAILED, DB_UNKNOWN_COLLECTION, DB_MALFORMED...).

Every line gets one reply, in order: an empty line, one that is not UTF-8 or one over 1 MiB
gets BAD_REQUEST. A controller that stops reading replies stops the commands (up to 256 replies
wait for it), never the network; SIGTERM still stops the node.
The first line on stdout is {\"ok\":true,\"ready\":true,\"peer\":...,\"addrs\":[...]}.

Network limits (issue 17): a sync message is at most 8 MiB, read as it arrives; at most 16
requests in flight per connection, 2 connections per peer, 512 in all, 64 incoming handshakes
at once; idle connections close after 60 s. Messages to one peer not yet acknowledged: at most
32 and 16 MiB (64 MiB for all peers); past that a message is dropped, counted and logged with
code PEER_OVERLOADED (the sync pulls again), as is one to a peer with no connection and no
unexpired address. `counters` reports these under \"net\".
Logs go to stderr; RUST_LOG sets their level (default: info).
Exit status: 0 on stop, SIGTERM, ctrl-c or (with --exit-on-stdin-close) end of stdin;
1 when the store fails or the node cannot start, among others with STORE_CORRUPT when the data
directory is damaged: store.redb missing or empty beside identity.key (--reset-store starts
anew), or identity.key missing beside a store with threads (--new-identity starts as a new peer).";

/// Runs one Threads peer: libp2p (tcp + noise + yamux), request-response sync and gossipsub on
/// each thread's topic, with its identity and records in a data directory.
#[derive(Debug, Parser)]
#[command(name = "threads-node", version, after_long_help = CONTROL_HELP)]
struct Cli {
    /// The data directory: identity.key (created on first run) and store.redb.
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,

    /// The address to listen on. With port 0 (the default) a restart takes the port of the last
    /// run again (remembered in DIR/listen.addr) when it is free, so peers that stored the
    /// address still reach the node.
    #[arg(long, value_name = "MULTIADDR", default_value = "/ip4/127.0.0.1/tcp/0")]
    listen: Multiaddr,

    /// Exit (status 0) when stdin reaches its end, instead of running on without commands.
    #[arg(long)]
    exit_on_stdin_close: bool,

    /// Start with an empty store although identity.key shows the node ran before (store.redb
    /// deleted or truncated). Without it such a directory is refused with STORE_CORRUPT.
    #[arg(long, global = true)]
    reset_store: bool,

    /// Create a new identity although store.redb holds threads (identity.key deleted): the node
    /// becomes a different peer. Without it such a directory is refused with STORE_CORRUPT.
    #[arg(long, global = true)]
    new_identity: bool,

    #[command(subcommand)]
    command: Option<OneShot>,
}

/// Scripting without a running node: open the data directory, do one thing, exit. The store can
/// be open in one process at a time, so these fail with STORE_FAILED while a node runs on it.
#[derive(Debug, Subcommand)]
enum OneShot {
    /// Print this node's peer ID and exit (creating the identity on first use).
    Id,
    /// Append events to this node's log in a thread and exit: TEXT... as one event, or one event
    /// per line of stdin when no TEXT is given, the lines that have arrived stored in one durable
    /// write at a time. Prints one JSON line per event, once it is stored.
    Append {
        /// The thread.
        #[arg(long, value_name = "THREAD")]
        thread: ThreadId,
        /// The event's body (words joined by single spaces).
        text: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let Some(data) = cli.data.clone() else {
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--data DIR is required",
            )
            .exit()
    };
    match run(cli, &data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("threads-node: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, data: &Path) -> Result<()> {
    let recovery = datadir::Recovery {
        reset_store: cli.reset_store,
        new_identity: cli.new_identity,
    };
    match cli.command {
        None => node::run(node::Config {
            data: data.to_owned(),
            listen: cli.listen,
            exit_on_stdin_close: cli.exit_on_stdin_close,
            recovery,
            pull_window: threads::sync::PULL_WINDOW,
        }),
        Some(OneShot::Id) => {
            let identity = datadir::open_identity_with(data, recovery)?;
            println!(
                "{}",
                control::render(&control::ok(json!({"peer": identity.log_id().to_string()})))
            );
            Ok(())
        }
        Some(OneShot::Append { thread, text }) => append(data, &thread, &text, recovery),
    }
}

/// Appends `text` as one event, or each stdin line as one, printing a reply per event; stops at
/// the first failure, with its reply printed and a non-zero exit. Stdin lines are appended in
/// batches of whatever has arrived (at most [`MAX_APPEND_BATCH`]), each batch one durable write
/// whose replies are printed once it is stored [SYNC-30].
fn append(
    data: &Path,
    thread: &ThreadId,
    text: &[String],
    recovery: datadir::Recovery,
) -> Result<()> {
    let (_, mut peer) = datadir::open_peer(data, node::unix_ms(), recovery)?;
    let failed = |e: Error| {
        println!("{}", control::render(&control::error_reply(&e)));
        e
    };
    if !text.is_empty() {
        let reply = control::append(
            &mut peer,
            thread,
            text.join(" ").as_bytes(),
            node::unix_ms(),
        );
        println!("{}", control::render(&reply.map_err(failed)?));
        return Ok(());
    }
    let lines = stdin_lines();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while let Ok(first) = lines.recv() {
        let mut bodies = vec![first?];
        while bodies.len() < MAX_APPEND_BATCH {
            match lines.try_recv() {
                Ok(line) => bodies.push(line?),
                Err(_) => break,
            }
        }
        let replies =
            control::append_batch(&mut peer, thread, &bodies, node::unix_ms()).map_err(failed)?;
        for reply in &replies {
            writeln!(out, "{}", control::render(reply)).map_err(stdout_failed)?;
        }
        out.flush().map_err(stdout_failed)?;
    }
    Ok(())
}

/// Stdin's lines as event bodies, read on a thread of their own so that the appends take
/// whatever has arrived; an unreadable line ends the stream with its error.
fn stdin_lines() -> std::sync::mpsc::Receiver<Result<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(MAX_APPEND_BATCH);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let line = line
                .map(String::into_bytes)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("stdin: {e}")));
            let end = line.is_err();
            if tx.send(line).is_err() || end {
                break;
            }
        }
    });
    rx
}

fn stdout_failed(e: std::io::Error) -> Error {
    Error::new(ErrorCode::Internal, format!("stdout: {e}"))
}

/// Logs to stderr at RUST_LOG's levels; by default this crate at info and libp2p at warn.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,threads=info,threads_node=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into a log file or a test's pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
