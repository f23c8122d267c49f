//! A real peer on a real network (spec/sync.md, chapter 7): the libp2p driver of the sans-IO
//! [`Peer`].
//!
//! The driver owns everything the peer must not touch — the clock, the sockets, the entropy and
//! the disk — and shuttles between them and the peer:
//!
//! - every [`Transmit`] to a peer becomes a request on [`transport::SYNC_PROTOCOL`] to that peer,
//!   dialing the addresses [`Peer::addresses`] knows when no connection is up; every one to a
//!   topic a gossipsub message on the thread's topic, [`Peer::topic`], derived from its follow
//!   key [SYNC-24];
//! - the bytes of every inbound request go to [`Peer::handle_message`], which decodes them and
//!   drops what is malformed [SYNC-2], and those of every gossip message, with its topic, to
//!   [`Peer::handle_publication`], which opens them [SYNC-24];
//! - identify's listen addresses and the addresses this node dials go into the peer's address
//!   book [SYNC-9];
//! - a timer set to [`Peer::poll_timeout`] calls [`Peer::handle_timeout`] with the wall clock,
//!   for retries [SYNC-10], head exchange [SYNC-8] and address expiry [SYNC-9]: the node sleeps
//!   exactly until the peer has something to do;
//! - control commands come in one per line ([`control`]), read on a thread of their own and at
//!   most [`control::MAX_LINE_BYTES`] each; every line gets exactly one reply, an error for a line
//!   that is empty, not UTF-8 or too long;
//! - replies go out through a queue of [`REPLY_QUEUE`] lines to a thread that writes them to
//!   stdout. A controller that stops reading fills the pipe, then the queue; the node then stops
//!   reading commands (no reply is ever dropped) until there is room, while the network, the
//!   timers and SIGTERM go on as before.
//!
//! After each of these inputs the peer's outputs are drained at once. Network events are queued
//! in arrival order, at most [`ARRIVED_EVENTS`]; the records a `records` message carries are
//! checked at once on the [`verifiers`] threads, and the queue is handled from its front as far
//! as the checks are done, in groups of up to [`GROUP_EVENTS`], each group one group commit: one
//! sync of the store for all of its events, then their acknowledgements [SYNC-12], [SYNC-31].
//! So the cores check the next answers while the loop stores the last ones. When the store fails
//! the peer refuses to go on [SYNC-12], and so does the node: it exits non-zero.

pub mod control;
pub mod database;
pub mod datadir;
pub mod transport;
pub mod verifiers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libp2p::{Multiaddr, PeerId};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
#[cfg(doc)]
use crate::sync::Peer;
use crate::sync::{Destination, Message, Notification, PULL_LIMIT, Transmit};
use control::Command;
use datadir::NodePeer;
use futures::FutureExt;
use libp2p::request_response::ResponseChannel;
use transport::{Answer, NetEvent, Transport};
use verifiers::Verifiers;

use crate::log::ahead::AheadVerdicts;

/// Replies waiting for the writer thread; when full, the node reads no more commands.
pub const REPLY_QUEUE: usize = 256;

/// Slots of the reply queue that change lines of `db watch` never take, so commands keep being
/// answered while changes stream.
const CHANGE_RESERVE: usize = 16;

/// Command lines read but not yet run; when full, the stdin thread waits, and so does a
/// controller that writes faster than the node answers.
const COMMAND_QUEUE: usize = 64;

/// How long a stopping node waits for the replies still queued to be written: it must not hang on
/// a controller that no longer reads, but should not lose the reply to `stop` either.
const FLUSH_ON_EXIT: Duration = Duration::from_secs(2);

/// One line from the controller: the command line, or the error its reply carries.
type Input = Result<String>;

/// A long catch-up logs its progress every this many records of a log.
const PROGRESS_EVERY: u64 = 500;

/// At most this many network events that have already arrived are handled as one group commit
/// [SYNC-12]: enough for a follower's window of answers [SYNC-32] and the pushes beside them;
/// few enough that the acknowledgements of the first do not wait long for the last.
pub const GROUP_EVENTS: usize = 16;

/// At most this many network events wait in the queue, for their checks or for their turn; then
/// the loop stops reading the network until the front is handled. Their bytes are bounded besides
/// by the inbound budget [SYNC-26].
pub const ARRIVED_EVENTS: usize = 32;

/// A network event waiting its turn, with its records' verdicts once they are checked.
struct Arrived {
    /// The number its check was given under.
    id: u64,
    event: NetEvent,
    /// A request's message, decoded once, on arrival; `None` for bytes that do not decode,
    /// which the peer drops and counts [SYNC-2].
    decoded: Option<Message>,
    /// Whether its check is still running on the verifier threads.
    checking: bool,
    verdicts: AheadVerdicts,
}

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: `identity.key` and `store.redb`.
    pub data: PathBuf,
    /// The address to listen on.
    pub listen: Multiaddr,
    /// Exit when stdin closes, rather than running on without a control channel.
    pub exit_on_stdin_close: bool,
    /// What a damaged data directory may be opened with ([`datadir::open_peer`]).
    pub recovery: datadir::Recovery,
    /// Pulls in flight per thread, log and peer [SYNC-32]: [`crate::sync::PULL_WINDOW`] unless
    /// a bench compares it with 1, one pull at a time.
    pub pull_window: usize,
}

/// Runs a node until `stop`, a signal, or (with `exit_on_stdin_close`) the end of stdin. Fails
/// when the store fails or the node cannot start; the caller exits non-zero then.
pub fn run(config: Config) -> Result<()> {
    let (writer, flushed) = stdout_writer();
    let result = run_with(&config, stdin_lines(), Replies::Stdout(writer));
    // The sender is gone with the node; the writer thread ends once it has written the rest.
    let _ = flushed.recv_timeout(FLUSH_ON_EXIT);
    result
}

/// Runs a node on this thread with commands from `lines` and replies to `replies`.
fn run_with(config: &Config, lines: mpsc::Receiver<Input>, replies: Replies) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorCode::Internal, format!("tokio runtime: {e}")))?;
    let result = runtime.block_on(async {
        let mut node = Node::start(config, replies)?;
        node.run(lines, config.exit_on_stdin_close).await
    });
    // The stdin thread may still be blocked in a read; do not wait for it.
    runtime.shutdown_background();
    result
}

/// Where a node's reply lines go.
enum Replies {
    /// One JSON line each on stdout, through the writer thread's queue: the `threads-node`
    /// binary.
    Stdout(mpsc::Sender<String>),
    /// To a [`Handle`] in the same process.
    Channel(std::sync::mpsc::Sender<Value>),
}

impl Replies {
    /// Queues a reply. The event loop reads a command only when the queue has room
    /// ([`Replies::room`]) and answers it with one reply, so the queue is never full here; if it
    /// were, the reply is dropped with an error in the log rather than the node blocked.
    fn send(&self, reply: &Value) {
        match self {
            Replies::Stdout(tx) => match tx.try_send(control::render(reply)) {
                Ok(()) => {}
                // The writer thread ended: stdout is closed, nobody reads replies any more.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::error!("the reply queue is full; a reply was dropped");
                }
            },
            // A dropped handle no longer wants replies.
            Replies::Channel(tx) => drop(tx.send(reply.clone())),
        }
    }

    /// How many replies can be queued now without waiting.
    fn room(&self) -> usize {
        match self {
            Replies::Stdout(tx) => tx.capacity().max(1),
            Replies::Channel(_) => usize::MAX,
        }
    }

    /// How many change lines fit in the queue now, keeping [`CHANGE_RESERVE`] slots for
    /// replies.
    fn room_for_changes(&self) -> usize {
        match self {
            Replies::Stdout(tx) => tx.capacity().saturating_sub(CHANGE_RESERVE),
            Replies::Channel(_) => usize::MAX,
        }
    }

    /// A handle on the reply queue, to wait for room in it while the loop does other things.
    fn waiter(&self) -> Option<mpsc::Sender<String>> {
        match self {
            Replies::Stdout(tx) => Some(tx.clone()),
            Replies::Channel(_) => None,
        }
    }
}

/// Completes when the reply queue has room for one more reply, or at once when there is no
/// queue or nobody writes it any more (its replies are dropped then anyway).
async fn room(waiter: Option<&mpsc::Sender<String>>) {
    if let Some(tx) = waiter {
        // Only the event loop sends, so the room found stays free until its reply.
        let _ = tx.reserve().await;
    }
}

/// A node running on a thread of its own in this process, controlled with the same command lines
/// as `threads-node` (for benchmarks and tests that want real sockets without a subprocess).
pub struct Handle {
    commands: mpsc::Sender<Input>,
    replies: std::sync::mpsc::Receiver<Value>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
    /// The ready line: the node's peer ID and listen addresses.
    pub ready: Value,
}

impl Handle {
    /// Starts a node and waits for its ready line.
    pub fn spawn(config: Config) -> Result<Handle> {
        let (commands, lines) = mpsc::channel(COMMAND_QUEUE);
        let (tx, replies) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || run_with(&config, lines, Replies::Channel(tx)));
        let mut handle = Handle {
            commands,
            replies,
            thread: Some(thread),
            ready: Value::Null,
        };
        handle.ready = handle.reply()?;
        Ok(handle)
    }

    /// Sends one command line and returns its reply (an error reply is a reply, not an `Err`).
    pub fn command(&mut self, line: &str) -> Result<Value> {
        self.commands
            .blocking_send(Ok(line.to_owned()))
            .map_err(|_| self.stopped())?;
        self.reply()
    }

    fn reply(&mut self) -> Result<Value> {
        self.replies.recv().map_err(|_| self.stopped())
    }

    /// The node's own error if it stopped, or INTERNAL.
    fn stopped(&mut self) -> Error {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => Error::new(ErrorCode::Internal, "the node stopped"),
        }
    }

    /// Stops the node and waits for it.
    pub fn stop(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        // Not blocking: a handle may be dropped anywhere, an async context included; a full queue
        // means the node is busy with commands and gets `stop` as soon as there is room.
        let _ = self.commands.try_send(Ok("stop".to_owned()));
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::new(ErrorCode::Internal, "the node panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    /// A dropped handle stops its node, so no node outlives its owner.
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// The wall clock in unix milliseconds: the only clock the peer ever sees.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether the event loop goes on after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Continue,
    Stop,
}

/// A running node: the peer, its swarm and what the driver remembers between inputs.
struct Node {
    peer: NodePeer,
    net: Transport,
    /// Network events in arrival order, not yet handled [SYNC-31].
    arrived: VecDeque<Arrived>,
    /// The number of the next event that arrives.
    arrivals: u64,
    verifiers: Verifiers,
    /// Thread topics this node subscribed to.
    topics: BTreeSet<ThreadId>,
    /// Own listen addresses, with `/p2p/`.
    listen: Vec<Multiaddr>,
    /// Whether the ready line was printed: commands wait for it, so it is the first line out.
    ready: bool,
    /// The data directory, where the port bound is remembered when the node was asked for any
    /// port, and the address it was asked for; `None` when it was given a port.
    remember_in: Option<(PathBuf, Multiaddr)>,
    progress: Progress,
    replies: Replies,
    /// Threads whose database changes are streamed (`db watch`).
    watches: database::Watches,
}

impl Node {
    /// Opens the data directory and starts listening; the peer's clock starts now, so that the
    /// addresses it files from now on get their full lifetime [SYNC-9].
    fn start(config: &Config, replies: Replies) -> Result<Node> {
        let (identity, mut peer) = datadir::open_peer(&config.data, unix_ms(), config.recovery)?;
        peer.set_pull_window(config.pull_window);
        // The libp2p key is the identity key, so the PeerId connections authenticate is the log
        // ID the peer knows itself by.
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.seed())
            .map_err(|e| Error::new(ErrorCode::Internal, format!("libp2p identity: {e}")))?;
        let mut net = Transport::new(keypair)?;
        debug_assert_eq!(net.local_peer_id(), peer.id().to_peer_id());
        let remember_in = listen(&mut net, config)?;
        tracing::info!(peer = %peer.id(), threads = peer.threads().len(), "node started");
        let cores = datadir::cores();
        Ok(Node {
            peer,
            net,
            arrived: VecDeque::new(),
            arrivals: 0,
            verifiers: Verifiers::start(cores),
            topics: BTreeSet::new(),
            listen: Vec::new(),
            ready: false,
            remember_in,
            progress: Progress::default(),
            replies,
            watches: database::Watches::default(),
        })
    }

    /// The event loop: network events, the peer's timer, commands and termination signals, one at
    /// a time, each followed by draining the peer's outputs.
    async fn run(
        &mut self,
        mut lines: mpsc::Receiver<Input>,
        exit_on_stdin_close: bool,
    ) -> Result<()> {
        let mut stdin_open = true;
        let terminated = terminated();
        tokio::pin!(terminated);
        let waiter = self.replies.waiter();
        self.drain();
        loop {
            let wake = self.peer.poll_timeout();
            // A command is read only when its reply has room in the queue: a controller that
            // stops reading stops the commands, never the network (issue 18).
            let next_line = async {
                room(waiter.as_ref()).await;
                lines.recv().await
            };
            let reading = self.arrived.len() < ARRIVED_EVENTS;
            let step = tokio::select! {
                event = self.net.next_event(), if reading => self.arrive(event),
                (id, verdicts) = self.verifiers.next() => self.checked(id, verdicts),
                () = sleep_until_unix_ms(wake) => self.peer.handle_timeout(unix_ms()).map(|()| Step::Continue)?,
                line = next_line, if stdin_open && self.ready => match line {
                    Some(line) => self.on_lines(line, &mut lines)?,
                    None => {
                        stdin_open = false;
                        tracing::info!("stdin closed");
                        if exit_on_stdin_close { Step::Stop } else { Step::Continue }
                    }
                },
                () = &mut terminated => Step::Stop,
            };
            self.handle_arrived()?;
            self.drain();
            self.send_changes();
            if step == Step::Stop {
                tracing::info!("stopping");
                return Ok(());
            }
        }
    }

    /// Queues `first` and the network events already waiting behind it, up to
    /// [`ARRIVED_EVENTS`], and gives the records of each `records` message to the verifier
    /// threads at once [SYNC-31].
    fn arrive(&mut self, first: NetEvent) -> Step {
        let mut next = Some(first);
        while let Some(event) = next {
            let id = self.arrivals;
            self.arrivals += 1;
            let (decoded, job) = match &event {
                NetEvent::Request { from, bytes, .. } => {
                    let decoded = Message::from_bytes(bytes).ok();
                    let job = log_id(*from)
                        .zip(decoded.as_ref())
                        .and_then(|(log, message)| self.peer.verify_ahead(log, message));
                    (decoded, job)
                }
                _ => (None, None),
            };
            let checking = job.is_some_and(|job| self.verifiers.give(id, job));
            self.arrived.push_back(Arrived {
                id,
                event,
                decoded,
                checking,
                verdicts: AheadVerdicts::default(),
            });
            next = (self.arrived.len() < ARRIVED_EVENTS)
                .then(|| self.net.next_event().now_or_never())
                .flatten();
        }
        Step::Continue
    }

    /// Files the verdicts of event `id`'s records.
    fn checked(&mut self, id: u64, verdicts: AheadVerdicts) -> Step {
        if let Some(arrived) = self.arrived.iter_mut().find(|a| a.id == id) {
            arrived.checking = false;
            arrived.verdicts = verdicts;
        }
        Step::Continue
    }

    /// Handles the queued events from the front for as long as their checks are done, in
    /// groups of at most [`GROUP_EVENTS`], each one group commit: the group's records are synced
    /// to disk once, after its last event, and only then are its requests acknowledged and the
    /// peer's outputs sent [SYNC-12], [SYNC-15]. A store failure returns before any
    /// acknowledgement.
    fn handle_arrived(&mut self) -> Result<()> {
        while self.arrived.front().is_some_and(|a| !a.checking) {
            let mut acks = Vec::new();
            self.peer.begin_group();
            let mut handled = 0;
            while handled < GROUP_EVENTS && self.arrived.front().is_some_and(|a| !a.checking) {
                let Some(arrived) = self.arrived.pop_front() else {
                    break;
                };
                self.on_net(arrived.event, arrived.decoded, arrived.verdicts, &mut acks)?;
                handled += 1;
            }
            self.peer.end_group()?;
            for ack in acks {
                self.net.ack(ack);
            }
        }
        Ok(())
    }

    /// Handles one network event, keeping a request's acknowledgement in `acks` for after the
    /// group's sync; fails only when the peer's store does.
    fn on_net(
        &mut self,
        event: NetEvent,
        decoded: Option<Message>,
        verdicts: AheadVerdicts,
        acks: &mut Vec<ResponseChannel<Answer>>,
    ) -> Result<()> {
        match event {
            NetEvent::Listening(addr) => self.on_listening(addr),
            NetEvent::Connected { peer, dialed } => {
                tracing::info!(%peer, "connected");
                if let (Some(addr), Some(log)) = (dialed, log_id(peer)) {
                    self.peer.add_address(unix_ms(), log, addr)?;
                }
            }
            NetEvent::Disconnected { peer } => tracing::info!(%peer, "disconnected"),
            NetEvent::Identified { peer, listen_addrs } => {
                if let Some(log) = log_id(peer) {
                    for addr in listen_addrs {
                        self.peer.add_address(unix_ms(), log, addr)?;
                    }
                }
            }
            NetEvent::Request { from, bytes, ack } => {
                // A store failure returns before the acknowledgement: nothing unstored is acked.
                self.on_message(from, &bytes, decoded, verdicts)?;
                acks.push(ack);
            }
            NetEvent::Gossip { from, topic, bytes } => {
                if let Some(log) = log_id(from) {
                    self.peer
                        .handle_publication(unix_ms(), log, &topic, &bytes)?;
                }
            }
        }
        Ok(())
    }

    /// Files a new listen address, and prints the ready line on the first one.
    fn on_listening(&mut self, addr: Multiaddr) {
        tracing::info!(%addr, "listening");
        if let Some((dir, asked)) = self.remember_in.take() {
            // The address asked for with the port bound: listening on 0.0.0.0 reports one
            // address per interface, and the next start must match what it is asked for.
            let port = addr.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            });
            if let Some(port) = port {
                let bound: Multiaddr = asked
                    .iter()
                    .map(|p| match p {
                        libp2p::multiaddr::Protocol::Tcp(0) => {
                            libp2p::multiaddr::Protocol::Tcp(port)
                        }
                        other => other,
                    })
                    .collect();
                datadir::remember_listen(&dir, &bound);
            }
        }
        self.listen.push(addr);
        self.peer.set_listen_addrs(self.listen.clone());
        if !self.ready {
            self.ready = true;
            let mut line = self.id_reply();
            line["ready"] = Value::Bool(true);
            self.replies.send(&line);
        }
    }

    /// Hands the bytes of one sync message to the peer, which drops them if they do not decode
    /// [SYNC-2]. The peer fails only when its store does [SYNC-12].
    fn on_message(
        &mut self,
        from: PeerId,
        bytes: &[u8],
        decoded: Option<Message>,
        verdicts: AheadVerdicts,
    ) -> Result<()> {
        let Some(log) = log_id(from) else {
            return Ok(());
        };
        let malformed = self.peer.counters().messages_malformed;
        match decoded {
            Some(message) => {
                self.peer
                    .handle_message_verified(unix_ms(), log, message, verdicts)?;
            }
            None => self.peer.handle_message(unix_ms(), log, bytes)?,
        }
        if self.peer.counters().messages_malformed > malformed {
            tracing::warn!(%from, "malformed message dropped");
        }
        Ok(())
    }

    /// Runs `first` and, when it is an `append`, the `append`s to the same thread already waiting
    /// behind it as one batch: one durable store write for them all (group commit), each line
    /// answered once it is stored [SYNC-30]. The first other line read ends the group and is run
    /// after it. Never takes more lines than the reply queue has room for, so no reply is lost.
    fn on_lines(&mut self, first: Input, lines: &mut mpsc::Receiver<Input>) -> Result<Step> {
        let Ok(Command::Append { thread, body }) = first.as_deref().map_or_else(
            |_| Err(Error::new(ErrorCode::BadRequest, "")),
            str::parse::<Command>,
        ) else {
            return self.on_line(first);
        };
        let room = self.replies.room().min(crate::sync::MAX_APPEND_BATCH);
        let mut bodies = vec![body];
        let mut after = None;
        while bodies.len() < room {
            let Ok(next) = lines.try_recv() else {
                break;
            };
            match next.as_deref().map(str::parse::<Command>) {
                Ok(Ok(Command::Append { thread: t, body })) if t == thread => bodies.push(body),
                _ => {
                    after = Some(next);
                    break;
                }
            }
        }
        if bodies.len() == 1 {
            self.on_line(first)?;
        } else {
            self.append_group(&thread, &bodies)?;
        }
        match after {
            Some(line) => self.on_line(line),
            None => Ok(Step::Continue),
        }
    }

    /// Appends a group of `append` lines' bodies in one batch and sends each line its reply: its
    /// record, or the batch's error. A store failure is fatal after the replies.
    fn append_group(&mut self, thread: &ThreadId, bodies: &[Vec<u8>]) -> Result<()> {
        match control::append_batch(&mut self.peer, thread, bodies, unix_ms()) {
            Ok(replies) => {
                for reply in &replies {
                    self.replies.send(reply);
                }
                Ok(())
            }
            Err(e) => {
                let reply = control::error_reply(&e);
                for _ in bodies {
                    self.replies.send(&reply);
                }
                if matches!(e.code, ErrorCode::StoreFailed | ErrorCode::StoreCorrupt) {
                    return Err(e);
                }
                Ok(())
            }
        }
    }

    /// Runs one command line and sends its reply: every line gets exactly one, an error for an
    /// empty line or one the reader refused (not UTF-8, too long). A store failure is fatal after
    /// the reply.
    fn on_line(&mut self, line: Input) -> Result<Step> {
        let parsed = line.and_then(|line| line.parse::<Command>());
        let step = match parsed {
            Ok(Command::Stop) => Step::Stop,
            _ => Step::Continue,
        };
        let reply = parsed.and_then(|command| self.execute(command));
        match reply {
            Ok(reply) => self.replies.send(&reply),
            Err(e) => {
                self.replies.send(&control::error_reply(&e));
                if matches!(e.code, ErrorCode::StoreFailed | ErrorCode::StoreCorrupt) {
                    return Err(e);
                }
            }
        }
        Ok(step)
    }

    fn execute(&mut self, command: Command) -> Result<Value> {
        match command {
            Command::Id => Ok(self.id_reply()),
            Command::Stop => Ok(control::ok(json!({"stopping": true}))),
            Command::Connect(addr) => self.connect(addr),
            Command::Counters => {
                let mut reply = control::run_on_peer(&mut self.peer, Command::Counters, unix_ms())?;
                reply["net"] = json!(self.net.stats());
                Ok(reply)
            }
            Command::Db(database::DbCommand::Watch(thread)) => {
                self.watches.watch(&mut self.peer, thread)
            }
            command => control::run_on_peer(&mut self.peer, command, unix_ms()),
        }
    }

    /// Writes the change lines of watched threads, leaving room in the reply queue for the
    /// replies of commands (a reader that falls behind sees `{"lagged":true}`, never a blocked
    /// node) [DB-11].
    fn send_changes(&mut self) {
        if self.watches.is_empty() {
            return;
        }
        let room = self.replies.room_for_changes();
        for line in self.watches.changes(&mut self.peer, room) {
            self.replies.send(&line);
        }
    }

    fn id_reply(&self) -> Value {
        let addrs: Vec<String> = self.listen.iter().map(ToString::to_string).collect();
        control::ok(json!({"peer": self.peer.id().to_string(), "addrs": addrs}))
    }

    /// Dials `addr`; when it names its peer (`/p2p/…`) the address is filed for that peer too, so
    /// later sends reach it even after the connection closes [SYNC-9].
    fn connect(&mut self, addr: Multiaddr) -> Result<Value> {
        let named = match addr.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => Some(LogId::try_from(peer)?),
            _ => None,
        };
        if let Some(log) = named {
            self.peer.add_address(unix_ms(), log, addr.clone())?;
        }
        self.net.dial(addr)?;
        Ok(control::ok(json!({"peer": named.map(|l| l.to_string())})))
    }

    /// Carries out everything the peer asked for, and subscribes to any thread it newly holds.
    fn drain(&mut self) {
        for thread in self.peer.threads() {
            if self.topics.contains(&thread) {
                continue;
            }
            if let Ok(topic) = self.peer.topic(&thread)
                && self.net.subscribe(&topic)
            {
                tracing::debug!(%thread, "subscribed");
            }
            self.topics.insert(thread);
        }
        while let Some(Transmit { destination, bytes }) = self.peer.poll_transmit() {
            match destination {
                Destination::Peer(to) => {
                    let addrs = if self.net.is_connected(&to.to_peer_id()) {
                        Vec::new()
                    } else {
                        self.peer.addresses(&to)
                    };
                    // Past a budget the message is dropped and counted; the sync recovers it.
                    let _ = self.net.send(to.to_peer_id(), bytes, addrs);
                }
                Destination::Topic(thread) => {
                    if let Ok(topic) = self.peer.topic(&thread) {
                        self.net.publish(&topic, bytes);
                    }
                }
            }
        }
        while let Some(notification) = self.peer.poll_event() {
            self.progress.note(&notification);
        }
    }
}

/// Starts listening where `config` says. Asked for any TCP port (`/tcp/0`, the default), the node
/// takes the port it had last time if it is free: its peers stored its address with the port,
/// and a restart on a new one would leave them dialing a dead address while it, restarted too,
/// might not know theirs either (issue 18) [SYNC-9]. If that port is taken it listens on a new
/// one, with a warning. Returns where to remember the port bound, if the node should.
fn listen(net: &mut Transport, config: &Config) -> Result<Option<(PathBuf, Multiaddr)>> {
    let asks_any = config
        .listen
        .iter()
        .any(|p| p == libp2p::multiaddr::Protocol::Tcp(0));
    if let Some(addr) = datadir::remembered_listen(&config.data, &config.listen) {
        // libp2p listens with SO_REUSEPORT, which would share the port with another process that
        // set it too; a plain bind first makes sure nobody holds it.
        let free = socket_addr(&addr).is_some_and(|a| std::net::TcpListener::bind(a).is_ok());
        match free.then(|| net.listen(addr.clone())) {
            Some(Ok(())) => return Ok(Some((config.data.clone(), config.listen.clone()))),
            Some(Err(e)) => {
                tracing::warn!(%addr, error = %e, "cannot listen where this node listened before; taking a new port")
            }
            None => {
                tracing::warn!(%addr, "the port this node listened on before is taken; taking a new port, so peers that stored the old one must learn the new one")
            }
        }
    }
    net.listen(config.listen.clone())?;
    Ok(asks_any.then(|| (config.data.clone(), config.listen.clone())))
}

/// The IP and TCP port of `addr`, if it has both.
fn socket_addr(addr: &Multiaddr) -> Option<std::net::SocketAddr> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(std::net::SocketAddr::new(ip?, port?))
}

/// The log ID of a libp2p peer; `None` (and a debug line) for a key type logs cannot have.
fn log_id(peer: PeerId) -> Option<LogId> {
    LogId::try_from(peer)
        .map_err(|e| tracing::debug!(%peer, error = %e, "not an Ed25519 peer"))
        .ok()
}

/// The reply queue and the thread that writes it to stdout, a line at a time, each flushed so a
/// script waiting for it sees it at once; a blocked write blocks this thread only. The receiver
/// hears when the thread has written everything (the sender dropped) or stopped. A closed stdout
/// is not this node's problem: the thread ends and later replies are dropped.
fn stdout_writer() -> (mpsc::Sender<String>, std::sync::mpsc::Receiver<()>) {
    let (tx, mut rx) = mpsc::channel::<String>(REPLY_QUEUE);
    let (done, flushed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        while let Some(line) = rx.blocking_recv() {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                break;
            }
        }
        let _ = done.send(());
    });
    (tx, flushed)
}

/// Lines from stdin, read on a thread of their own (a blocking read must not stall the event
/// loop, nor keep the runtime from shutting down), each at most [`control::MAX_LINE_BYTES`]; a
/// line that is too long or not UTF-8 comes as its error. The channel closes at end of input or
/// on a read error; a full channel makes the thread wait.
fn stdin_lines() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let line = match control::read_line(&mut stdin, control::MAX_LINE_BYTES) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read stdin");
                    break;
                }
            };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Completes on ctrl-c or SIGTERM. If a handler cannot be installed, never completes: the node
/// still stops on `stop` and on the default action of the signal.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Catch-up reporting, per (thread, log): the last counter seen here, and where the current
/// catch-up started.
#[derive(Default)]
struct Progress {
    last: BTreeMap<(ThreadId, LogId), u64>,
    start: BTreeMap<(ThreadId, LogId), u64>,
}

impl Progress {
    fn note(&mut self, notification: &Notification) {
        match notification {
            Notification::Appended {
                thread,
                log,
                counter,
                sender_counter,
            } => self.appended(thread, log, *counter, *sender_counter),
            Notification::Rejected {
                from,
                thread,
                log,
                code,
            } => tracing::warn!(%from, %thread, %log, code = %code, "record rejected"),
            Notification::Refused { from, thread, code } => {
                tracing::warn!(%from, %thread, code = %code, "refused at a limit");
            }
        }
    }

    /// Logs progress every [`PROGRESS_EVERY`] records, and "caught up" when a catch-up of more
    /// than one batch reaches the sender's counter; single pushes stay at debug level.
    fn appended(&mut self, thread: &ThreadId, log: &LogId, counter: u64, target: u64) {
        let key = (thread.clone(), *log);
        let last = self.last.insert(key.clone(), counter).unwrap_or(0);
        let start = *self.start.entry(key.clone()).or_insert(last);
        if counter / PROGRESS_EVERY > last / PROGRESS_EVERY {
            tracing::info!(%thread, %log, counter, "catching up");
        }
        if counter >= target {
            self.start.remove(&key);
            if counter.saturating_sub(start) > PULL_LIMIT {
                tracing::info!(%thread, %log, counter, "caught up");
            } else {
                tracing::debug!(%thread, %log, counter, "up to date");
            }
        }
    }
}

/// Completes at Unix time `at` (milliseconds), or never when there is no time to wake at.
async fn sleep_until_unix_ms(at: Option<u64>) {
    match at {
        Some(at) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(unix_ms()))).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next reply line; a reply that never comes fails the test (after a bound far beyond
    /// any load, so only a lost reply reaches it).
    fn next_reply(replies: &mut mpsc::Receiver<String>) -> Value {
        let give_up = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            match replies.try_recv() {
                Ok(line) => return serde_json::from_str(&line).expect("a JSON reply"),
                Err(mpsc::error::TryRecvError::Empty) if std::time::Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("a reply was lost: {e:?}"),
            }
        }
    }

    /// Waits until `replies` holds `count` replies: the node has answered every line it took
    /// and, the queue full, waits for room before it reads another. (Counting the queued replies,
    /// not the free slots: the node's wait for room holds a slot for a moment.)
    fn wait_queued(replies: &mpsc::Receiver<String>, count: usize) {
        let give_up = std::time::Instant::now() + Duration::from_secs(120);
        while replies.len() < count {
            assert!(
                std::time::Instant::now() < give_up,
                "the queue never filled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Checks [SYNC-9] for `connect`: an address that ends in `/p2p/ID` is filed for that peer
    /// at once, before (and whether or not) the dial succeeds, so later sends can reach it, and
    /// the reply names the peer; an address without `/p2p/` names no peer and files nothing.
    #[test]
    fn sync_9_connect_files_an_address_that_names_its_peer() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (tx, _replies) = std::sync::mpsc::channel();
            let mut node = Node::start(&config, Replies::Channel(tx)).expect("the node starts");
            let other = crate::keys::IdentityKey::from_seed(&[9; 32]).log_id();
            // Nobody listens there: the dial fails later, the address stays filed.
            let named: Multiaddr = format!("/ip4/127.0.0.1/tcp/9/p2p/{}", other.to_peer_id())
                .parse()
                .expect("addr");
            let reply = node.connect(named.clone()).expect("dialed");
            assert_eq!(reply["ok"], true);
            assert_eq!(reply["peer"], other.to_string());
            assert_eq!(node.peer.addresses(&other), [named]);
            let bare: Multiaddr = "/ip4/127.0.0.1/tcp/10".parse().expect("addr");
            let reply = node.connect(bare).expect("dialed");
            assert_eq!(reply["peer"], Value::Null);
            assert_eq!(node.peer.addresses(&other).len(), 1, "nothing more filed");
        });
    }

    /// Checks [REC-6] for the node: an event appended through the control channel carries the
    /// writer's clock when it was created, in Unix milliseconds, as `read` shows it.
    #[test]
    fn rec_6_an_appended_event_carries_the_wall_clock_time() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", false);
        let wall = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_millis() as u64
        };
        let mut node = Handle::spawn(config).expect("the node starts");
        let created = node.command("create raw").expect("a reply");
        let thread = created["thread"].as_str().expect("thread").to_owned();
        let before = wall();
        let appended = node
            .command(&format!("append {thread} now"))
            .expect("a reply");
        let after = wall();
        assert_eq!(appended["ok"], true);
        let read = node.command(&format!("read {thread}")).expect("a reply");
        let time = read["events"][0]["time"].as_u64().expect("a time");
        assert!(
            (before..=after).contains(&time),
            "{time} is not between {before} and {after}"
        );
        node.stop().expect("the node stops");
    }

    /// Checks [SYNC-30] under back-pressure: with room for one more reply, an `append` is run
    /// alone even when more wait behind it, so each line still gets its reply; a group never
    /// takes more lines than the reply queue has room for.
    #[test]
    fn appends_never_take_more_lines_than_the_reply_queue_has_room_for() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", true);
        let (commands, lines) = mpsc::channel(16);
        let (tx, mut replies) = mpsc::channel(2);
        let node = std::thread::spawn(move || run_with(&config, lines, Replies::Stdout(tx)));
        let send = |line: String| commands.blocking_send(Ok(line)).expect("node running");
        assert!(
            next_reply(&mut replies)["peer"].is_string(),
            "the ready line"
        );
        send("create raw".into());
        let created = next_reply(&mut replies);
        let thread = created["thread"].as_str().expect("thread").to_owned();
        // Two replies fill the queue; the appends wait behind them until a reply is taken.
        send("id".into());
        send("id".into());
        for i in 0..3 {
            send(format!("append {thread} e{i}"));
        }
        wait_queued(&replies, 2);
        // One slot free: the node takes the first append, with two more waiting behind it.
        assert_eq!(next_reply(&mut replies)["ok"], true);
        wait_queued(&replies, 2);
        assert_eq!(next_reply(&mut replies)["ok"], true);
        let seqs: Vec<Value> = (0..3)
            .map(|_| next_reply(&mut replies)["seq"].clone())
            .collect();
        assert_eq!(seqs, [json!(1), json!(2), json!(3)]);
        drop(commands);
        node.join().expect("the node thread").expect("the node ran");
    }

    /// Checks [SYNC-30]'s group commit: `append` lines waiting together are grouped only with
    /// those to the same thread; each body lands in the thread its line names, in order.
    #[test]
    fn waiting_appends_to_two_threads_each_land_in_their_own() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", true);
        let (commands, lines) = mpsc::channel(16);
        let (tx, mut replies) = mpsc::channel(8);
        let node = std::thread::spawn(move || run_with(&config, lines, Replies::Stdout(tx)));
        let send = |line: String| commands.blocking_send(Ok(line)).expect("node running");
        next_reply(&mut replies);
        let mut thread = || {
            send("create raw".into());
            next_reply(&mut replies)["thread"]
                .as_str()
                .expect("thread")
                .to_owned()
        };
        let (one, two) = (thread(), thread());
        // A full reply queue holds the appends back until they all wait together.
        for _ in 0..8 {
            send("id".into());
        }
        wait_queued(&replies, 8);
        for (t, body) in [(&one, "a"), (&two, "b"), (&one, "c"), (&one, "d")] {
            send(format!("append {t} {body}"));
        }
        // All eight slots are freed in one call, so the node most likely finds room for every
        // waiting line when it wakes (were it to take them one by one, nothing is grouped and
        // the check below holds all the same).
        let mut ids = Vec::new();
        while ids.len() < 8 {
            replies.blocking_recv_many(&mut ids, 8);
        }
        for _ in 0..4 {
            assert_eq!(next_reply(&mut replies)["ok"], true);
        }
        let mut bodies = |t: &str| -> Vec<Value> {
            send(format!("read {t}"));
            let events = next_reply(&mut replies)["events"].clone();
            let events = events.as_array().expect("events").clone();
            events.iter().map(|e| e["body"].clone()).collect()
        };
        assert_eq!(bodies(&one), [json!("a"), json!("c"), json!("d")]);
        assert_eq!(bodies(&two), [json!("b")]);
        drop(commands);
        node.join().expect("the node thread").expect("the node ran");
    }

    /// A node's configuration for a test: its data under `dir`, listening on `listen`.
    fn test_config(dir: &std::path::Path, listen: &str, exit_on_stdin_close: bool) -> Config {
        Config {
            data: dir.join("node"),
            listen: listen.parse().expect("addr"),
            exit_on_stdin_close,
            recovery: datadir::Recovery::default(),
            pull_window: crate::sync::PULL_WINDOW,
        }
    }

    /// The TCP port of the first address a ready line lists.
    fn listen_port(ready: &Value) -> u16 {
        let addr: Multiaddr = ready["addrs"][0]
            .as_str()
            .expect("a listen address")
            .parse()
            .expect("a multiaddr");
        addr.iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            })
            .expect("a TCP port")
    }

    /// A node asked for any port on an IPv4 address (`/tcp/0`, the default) takes the port it
    /// had last time when it starts again, so that the addresses its peers stored stay good
    /// (issue 18) [SYNC-9]; its [`Handle`] hands back the ready line and each command's own
    /// reply, and the store keeps what the first run appended [SYNC-12].
    #[test]
    fn a_node_restarted_on_any_ipv4_port_takes_the_port_it_had() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = || test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", false);
        let mut first = Handle::spawn(config()).expect("the node starts");
        assert_eq!(first.ready["ready"], true, "the ready line");
        let peer = first.ready["peer"].clone();
        assert!(peer.is_string(), "the ready line names the peer");
        let port = listen_port(&first.ready);
        assert_ne!(port, 0);
        let created = first.command("create raw").expect("a reply");
        let thread = created["thread"].as_str().expect("thread").to_owned();
        let appended = first
            .command(&format!("append {thread} one"))
            .expect("a reply");
        assert_eq!(appended["seq"], 1);
        first.stop().expect("the node stops");

        let mut again = Handle::spawn(config()).expect("the node starts again");
        assert_eq!(again.ready["peer"], peer);
        assert_eq!(listen_port(&again.ready), port, "the port it had");
        let appended = again
            .command(&format!("append {thread} two"))
            .expect("a reply");
        assert_eq!(appended["seq"], 2);
        again.stop().expect("the node stops");
    }

    /// A dropped [`Handle`] stops its node and lets go of its data directory, even when the
    /// node was told to go on after its input closes: the same directory opens again at once.
    #[test]
    fn a_dropped_handle_stops_its_node() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = || test_config(tmp.path(), "/ip4/127.0.0.1/tcp/0", false);
        drop(Handle::spawn(config()).expect("the node starts"));
        let again = Handle::spawn(config()).expect("the directory is free again");
        again.stop().expect("the node stops");
    }

    /// As on IPv4: a node asked for any port on the IPv6 loopback (`/ip6/::1/tcp/0`) takes the
    /// port it had last time when it starts again (issue 18) [SYNC-9].
    #[test]
    fn a_node_restarted_on_any_ipv6_port_takes_the_port_it_had() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = || test_config(tmp.path(), "/ip6/::1/tcp/0", false);
        let first = Handle::spawn(config()).expect("the node starts on ::1");
        let port = listen_port(&first.ready);
        assert_ne!(port, 0);
        first.stop().expect("the node stops");
        let again = Handle::spawn(config()).expect("the node starts again");
        assert_eq!(listen_port(&again.ready), port, "the port it had");
        again.stop().expect("the node stops");
    }
}
