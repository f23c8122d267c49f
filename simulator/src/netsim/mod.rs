//! Real-network scenarios (feature `netsim`, Linux only): `threads-node` processes, each in its own
//! network namespace with a TUN interface, joined by netsim-embed's in-process IPv4 router. Links
//! get latency from netsim-embed's `DelayBuffer`; a partition unplugs a machine from the router.
//!
//! This file is not part of the simulator library: `src/bin/threads-netsim.rs` and
//! `tests/netsim.rs` include it with `#[path]`, so that the library never depends on
//! netsim-embed.
//!
//! The machines these run on are small and loaded: every wait polls a condition with a generous
//! timeout, and nothing asserts on how long anything took beyond a liveness bound.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::future::{Either, select};
use netsim_embed::{DelayBuffer, Ipv4Range, MachineId, Netsim, NetworkId};
use serde_json::Value;

/// How long one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a start, a join or a replication may take before a scenario gives up. Debug builds
/// verify signatures slowly, and these machines are loaded.
const SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// The liveness bound on a healed follower reaching the writer's heads by itself: the peers
/// exchange heads every 5 s and re-send unanswered pulls with backoff, so this is generous.
const HEAL_BOUND: Duration = Duration::from_secs(120);

/// How long a partition lasts at least: several head exchanges fail meanwhile.
const PARTITION_HOLD: Duration = Duration::from_secs(15);

/// The link delay of the machines that get one, each way.
const LINK_DELAY: Duration = Duration::from_millis(50);

/// The TCP port every node listens on (each machine has its own network namespace).
const PORT: u16 = 4001;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(250);

/// Run in each machine's namespace by `sh -c`. netsim-embed hands the test only the stdout lines
/// of a machine that start with `<` (and prints the others), so a relay prefixes the node's
/// replies with `<`. The node is `exec`ed, so it is the machine's own process: when netsim-embed
/// kills the machine, the node dies, the relay sees the end of the FIFO, and the machine's pipes
/// close. The node's log goes to a file.
const MACHINE_SCRIPT: &str = r#"set -e
fifo="$THREADS_NETSIM_DATA.stdout"
rm -f "$fifo"
mkfifo "$fifo"
(while IFS= read -r line; do printf '<%s\n' "$line"; done) <"$fifo" &
exec "$THREADS_NODE" --data "$THREADS_NETSIM_DATA" --listen "$THREADS_NETSIM_LISTEN" \
  --exit-on-stdin-close >"$fifo" 2>>"$THREADS_NETSIM_LOG""#;

/// One real-network scenario.
pub struct Scenario {
    /// Its name, for `--scenario`.
    pub name: &'static str,
    /// What it checks, in a line.
    pub about: &'static str,
    run: fn(&mut Lab) -> Result<Vec<String>, String>,
}

/// Every real-network scenario, in the order `threads-netsim` runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "partition-heal",
        about: "a follower unplugged while the writer appends reaches the writer's heads by \
                itself once plugged back; a reader that stayed connected gets everything",
        run: partition_heal,
    },
    Scenario {
        name: "follower-catch-up",
        about: "Figure 6: a follower replicates over a delayed link, the writer goes offline, \
                and a reader it invited catches up from the follower alone",
        run: follower_catch_up,
    },
];

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Why this machine cannot run the scenarios, as the line to print (`skipped: ...`), or `Ok`.
pub fn preflight() -> Result<(), String> {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("skipped: cannot tell who this process runs as (/proc/self: {e})"))?;
    if uid != 0 {
        return Err(format!(
            "skipped: netsim-embed needs root for network namespaces (running as uid {uid})"
        ));
    }
    match std::fs::metadata("/dev/net/tun") {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(
                "skipped: /dev/net/tun is missing: netsim-embed gives every machine a \
                        TUN interface (in a container, pass --device /dev/net/tun)"
                    .to_owned(),
            );
        }
        Err(e) => return Err(format!("skipped: /dev/net/tun: {e}")),
    }
    // What every machine does first, on a thread of its own so that this one keeps its namespace.
    let probe = std::thread::spawn(|| -> Result<(), String> {
        netsim_embed::Namespace::unshare()
            .map_err(|e| format!("skipped: cannot create a network namespace: {e}"))?;
        netsim_embed_machine::iface::Iface::new().map_err(|e| {
            format!("skipped: cannot create a TUN interface in a new network namespace: {e}")
        })?;
        Ok(())
    });
    probe
        .join()
        .unwrap_or_else(|_| Err("skipped: the namespace probe panicked".to_owned()))
}

/// The `threads-node` binary: `$THREADS_NODE`, else the one beside this executable in its cargo
/// target directory, built there with cargo (same profile) if it is missing.
pub fn threads_node() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("THREADS_NODE") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("THREADS_NODE={} is not a file", path.display()))
        };
    }
    let how = "build it with `cargo build -p threads-reference --bin threads-node` \
               (add --release for a release build), or set THREADS_NODE to its path";
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let mut dir = exe.parent().map(Path::to_owned).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let node = dir.join("threads-node");
    if node.is_file() {
        return Ok(node);
    }
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => return Err(format!("{} is missing; {how}", node.display())),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .args(["build", "-p", "threads-reference", "--bin", "threads-node"])
        .args(["--profile", &profile])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // The target directory holds CACHEDIR.TAG; with --target the profile directory is one level
    // deeper, and cargo then finds it from its environment as it found this executable's.
    if let Some(target) = dir.parent().filter(|t| t.join("CACHEDIR.TAG").is_file()) {
        build.arg("--target-dir").arg(target);
    }
    eprintln!("{} is missing; building it: {build:?}", node.display());
    match build.status() {
        Ok(status) if status.success() && node.is_file() => Ok(node),
        Ok(status) if status.success() => Err(format!(
            "cargo built threads-node, but not at {}; {how}",
            node.display()
        )),
        Ok(status) => Err(format!("building threads-node failed ({status}); {how}")),
        Err(e) => Err(format!(
            "cannot run cargo to build threads-node ({e}); {how}"
        )),
    }
}

/// How a scenario went.
pub struct Outcome {
    /// The scenario.
    pub scenario: &'static str,
    /// How long it took, start to end (for the record, never asserted).
    pub elapsed: Duration,
    /// What it observed when it passed, or why it failed.
    pub result: Result<Vec<String>, String>,
}

impl Outcome {
    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }

    /// The verdict: one line, then one indented line per note, or the failure.
    pub fn verdict(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        match &self.result {
            Ok(notes) => {
                let mut text = format!("{}: PASS in {secs:.1} s", self.scenario);
                for note in notes {
                    text.push_str("\n  - ");
                    text.push_str(note);
                }
                text
            }
            Err(why) => format!("{}: FAIL after {secs:.1} s: {why}", self.scenario),
        }
    }
}

/// Runs one scenario with `node` as every machine's `threads-node`, in a fresh temporary directory
/// that is removed afterwards unless `keep`. Call [`preflight`] first.
pub fn run(scenario: &'static Scenario, node: &Path, keep: bool) -> Outcome {
    let start = Instant::now();
    let result = run_in_lab(scenario, node, keep);
    Outcome {
        scenario: scenario.name,
        elapsed: start.elapsed(),
        result,
    }
}

fn run_in_lab(scenario: &Scenario, node: &Path, keep: bool) -> Result<Vec<String>, String> {
    let tmp = tempfile::Builder::new()
        .prefix(&format!("threads-netsim-{}-", scenario.name))
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let dir = tmp.path().to_owned();
    let mut lab = Lab::new(node, &dir);
    let result = catch_unwind(AssertUnwindSafe(|| (scenario.run)(&mut lab)))
        .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_text(&*panic))));
    // After a pass the nodes are stopped one by one and must exit cleanly; after a failure they
    // are killed at once, without waiting on a node that may be stuck.
    let passed = result.is_ok();
    let shutdown = catch_unwind(AssertUnwindSafe(|| lab.shutdown(passed)))
        .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_text(&*panic))));
    let result = match (result, shutdown) {
        (Ok(_), Err(e)) => Err(format!(
            "the scenario passed, but shutting down failed: {e}"
        )),
        (result, _) => result,
    };
    if keep {
        let kept = tmp.keep();
        let note = format!("data directories and node logs kept in {}", kept.display());
        return match result {
            Ok(mut notes) => {
                notes.push(note);
                Ok(notes)
            }
            Err(why) => Err(format!("{why}\n({note})")),
        };
    }
    result
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-text panic)".to_owned()
    }
}

/// One log's head CID (null before the first record) and counter, as `heads` reports them.
type Heads = BTreeMap<String, (Value, u64)>;

/// A node in a [`Lab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node(usize);

struct NodeState {
    name: &'static str,
    machine: MachineId,
    log: PathBuf,
    data: PathBuf,
    peer: String,
    ip: Ipv4Addr,
    /// The process has exited (after `stop`): it gets no more commands.
    stopped: bool,
}

/// One network (10.77.0.0/24) of netsim-embed machines, each running a `threads-node`.
struct Lab {
    /// `None` once shut down.
    sim: Option<Netsim<String, String>>,
    net: NetworkId,
    bin: PathBuf,
    dir: PathBuf,
    nodes: Vec<NodeState>,
}

impl Lab {
    fn new(bin: &Path, dir: &Path) -> Lab {
        let mut sim = Netsim::new();
        let net = sim.spawn_network(Ipv4Range::new(Ipv4Addr::new(10, 77, 0, 0), 24));
        Lab {
            sim: Some(sim),
            net,
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            nodes: Vec::new(),
        }
    }

    fn sim(&mut self) -> &mut Netsim<String, String> {
        self.sim.as_mut().expect("the lab is running")
    }

    /// Starts a machine running a node called `name`, with `delay` on its link (each way), plugs
    /// it into the network, and waits until the node listens on the machine's address.
    fn spawn(&mut self, name: &'static str, delay: Option<Duration>) -> Result<Node, String> {
        let data = self.dir.join(name);
        let log = self.dir.join(format!("{name}.log"));
        let mut command = async_process::Command::new("sh");
        command
            .arg("-c")
            .arg(MACHINE_SCRIPT)
            .env("THREADS_NODE", &self.bin)
            .env("THREADS_NETSIM_DATA", &data)
            .env("THREADS_NETSIM_LOG", &log)
            .env("THREADS_NETSIM_LISTEN", format!("/ip4/0.0.0.0/tcp/{PORT}"))
            .env("RUST_LOG", "warn,threads=debug");
        let delay = delay.map(|d| {
            let mut buffer = DelayBuffer::new();
            buffer.set_delay(d);
            buffer
        });
        let net = self.net;
        let sim = self.sim();
        let machine = block_on(sim.spawn_machine(command, delay));
        block_on(sim.plug(machine, net, None));
        let ip = sim.machine(machine).addr();
        let node = Node(self.nodes.len());
        self.nodes.push(NodeState {
            name,
            machine,
            log,
            data,
            peer: String::new(),
            ip,
            stopped: false,
        });
        let ready = self.reply_within(node, SYNC_TIMEOUT)?;
        if ready["ready"] != true {
            return Err(self.fail(
                node,
                &format!("the first line is not the ready line: {ready}"),
            ));
        }
        let peer = ready["peer"].as_str().unwrap_or_default().to_owned();
        self.nodes[node.0].peer = peer;
        // It starts before its machine has an address, so it listens on 127.0.0.1 first and on
        // the machine's address once libp2p sees it.
        let wanted = format!("/ip4/{ip}/tcp/{PORT}");
        self.poll(
            node,
            SYNC_TIMEOUT,
            "to listen on the machine's address",
            |lab| {
                let id = lab.ok(node, "id")?;
                Ok(id["addrs"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| listed(a, &wanted))))
            },
        )?;
        Ok(node)
    }

    fn state(&self, node: Node) -> &NodeState {
        &self.nodes[node.0]
    }

    /// The next reply of `node`, parsed.
    fn reply_within(&mut self, node: Node, timeout: Duration) -> Result<Value, String> {
        let machine = self.state(node).machine;
        let next = block_on(async {
            let recv = self.sim().machine(machine).recv();
            futures::pin_mut!(recv);
            match select(recv, async_io::Timer::after(timeout)).await {
                Either::Left((line, _)) => Ok(line),
                Either::Right(_) => Err(()),
            }
        });
        match next {
            Ok(Some(line)) => {
                let line = line.strip_prefix('<').unwrap_or(&line);
                serde_json::from_str(line).map_err(|e| {
                    self.fail(node, &format!("a reply that is not JSON ({e}): {line}"))
                })
            }
            Ok(None) => Err(self.fail(node, "the node exited (its stdout closed)")),
            Err(()) => Err(self.fail(node, &format!("no reply within {} s", timeout.as_secs()))),
        }
    }

    /// Sends one command line and returns its reply, whatever it says.
    fn send(&mut self, node: Node, line: &str) -> Result<Value, String> {
        if self.state(node).stopped {
            return Err(self.fail(node, &format!("{line:?} sent to a stopped node")));
        }
        let machine = self.state(node).machine;
        self.sim().machine(machine).send(line.to_owned());
        self.reply_within(node, REPLY_TIMEOUT)
    }

    /// Sends one command line and returns its reply, which must be a success.
    fn ok(&mut self, node: Node, line: &str) -> Result<Value, String> {
        let reply = self.send(node, line)?;
        if reply["ok"] == true {
            Ok(reply)
        } else {
            Err(self.fail(node, &format!("{line:?} failed: {reply}")))
        }
    }

    fn heads(&mut self, node: Node, thread: &str) -> Result<Heads, String> {
        let reply = self.ok(node, &format!("heads {thread}"))?;
        let Some(heads) = reply["logs"].as_object() else {
            return Err(self.fail(node, &format!("heads without a heads object: {reply}")));
        };
        Ok(heads
            .iter()
            .map(|(log, h)| {
                (
                    log.clone(),
                    (h["head"].clone(), h["counter"].as_u64().unwrap_or(0)),
                )
            })
            .collect())
    }

    /// Polls `node`'s heads until they equal `target`, for at most `bound`; returns how long it
    /// took.
    fn wait_for_heads(
        &mut self,
        node: Node,
        thread: &str,
        target: &Heads,
        bound: Duration,
    ) -> Result<Duration, String> {
        let mut last = Heads::new();
        let what = format!("to reach the heads {}", brief(target));
        let waited = self.poll(node, bound, &what, |lab| {
            last = lab.heads(node, thread)?;
            Ok(last == *target)
        });
        waited.map_err(|e| format!("{e}\n(its last heads: {})", brief(&last)))
    }

    /// Polls `done` every [`POLL`] until it holds, for at most `bound`; returns how long it took.
    fn poll(
        &mut self,
        node: Node,
        bound: Duration,
        what: &str,
        mut done: impl FnMut(&mut Lab) -> Result<bool, String>,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            if done(self)? {
                return Ok(start.elapsed());
            }
            if start.elapsed() > bound {
                return Err(self.fail(
                    node,
                    &format!("did not manage {what} within {} s", bound.as_secs()),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Partitions `node`: unplugs its machine from the router, so that every packet to or from it
    /// is lost while its interface, address and sockets stay as they are.
    fn unplug(&mut self, node: Node) {
        let machine = self.state(node).machine;
        block_on(self.sim().unplug(machine));
    }

    /// Heals a partition: plugs `node`'s machine back in with the address it had.
    fn replug(&mut self, node: Node) {
        let (machine, ip, net) = (self.state(node).machine, self.state(node).ip, self.net);
        let sim = self.sim();
        // netsim-embed 0.9 re-adds the machine's default route when it plugs a machine in, which
        // fails with EEXIST (and ends the machine) if the route is still there; taking the
        // interface down first drops the route, and plugging puts the interface back up.
        sim.machine(machine).down();
        block_on(sim.plug(machine, net, Some(ip)));
    }

    /// Stops `node` and waits until its process has exited.
    fn stop(&mut self, node: Node) -> Result<(), String> {
        self.ok(node, "stop")?;
        match self.reply_within(node, REPLY_TIMEOUT) {
            Err(e) if e.contains("the node exited") => {
                self.nodes[node.0].stopped = true;
                Ok(())
            }
            Err(e) => Err(e),
            Ok(line) => Err(self.fail(node, &format!("a line after stop: {line}"))),
        }
    }

    /// Stops every node still running if `graceful`, then ends the machines and the router.
    fn shutdown(&mut self, graceful: bool) -> Result<(), String> {
        let mut result = Ok(());
        for node in (0..self.nodes.len()).map(Node) {
            if graceful && !self.state(node).stopped {
                let stopped = self.stop(node);
                result = result.and(stopped);
            }
        }
        // Each machine's drop ends its thread, killing its node if it still runs.
        drop(self.sim.take());
        result
    }

    /// A failure of `node`: `what`, with the tail of its log.
    fn fail(&self, node: Node, what: &str) -> String {
        let state = self.state(node);
        let log = std::fs::read_to_string(&state.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        format!(
            "{} ({}): {what}\n--- tail of {} ---\n{tail}\n---",
            state.name,
            state.ip,
            state.log.display()
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A machine whose thread failed panics when dropped, and a panic while panicking
            // aborts: leak the simulation instead. Each node exits when this process does, since
            // its stdin closes then.
            std::mem::forget(self.sim.take());
        }
    }
}

/// Heads as `log…:counter` pairs, short enough for a message.
fn brief(heads: &Heads) -> String {
    let pairs: Vec<String> = heads
        .iter()
        .map(|(log, (_, counter))| {
            let start = log.len().saturating_sub(6);
            format!("…{}:{counter}", &log[start..])
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Whether the listen address `addr` (a JSON string, with `/p2p/…`) is `wanted`.
fn listed(addr: &Value, wanted: &str) -> bool {
    addr.as_str()
        .and_then(|a| a.strip_prefix(wanted))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("/p2p/"))
}

fn string(value: &Value, key: &str) -> Result<String, String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key:?} in {value}"))
}

fn total(heads: &Heads) -> u64 {
    heads.values().map(|h| h.1).sum()
}

/// The bodies of `node`'s events in `thread`, checking that their seqs run 1, 2, 3...
fn read_bodies(lab: &mut Lab, node: Node, thread: &str) -> Result<Vec<String>, String> {
    let reply = lab.ok(node, &format!("read {thread}"))?;
    let events = reply["events"].as_array().cloned().unwrap_or_default();
    let mut bodies = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if event["seq"].as_u64() != Some(i as u64 + 1) {
            return Err(lab.fail(node, &format!("event {i} has seq {}", event["seq"])));
        }
        bodies.push(string(event, "body")?);
    }
    Ok(bodies)
}

/// Appends `bodies` on `node`, one event each.
fn append_all(lab: &mut Lab, node: Node, thread: &str, bodies: &[String]) -> Result<(), String> {
    for body in bodies {
        lab.ok(node, &format!("append {thread} {body}"))?;
    }
    Ok(())
}

/// An invite for `who` into `thread` as `role`, from `inviter`, as hex.
fn invite(
    lab: &mut Lab,
    inviter: Node,
    thread: &str,
    role: &str,
    who: Node,
) -> Result<String, String> {
    let peer = lab.state(who).peer.clone();
    let reply = lab.ok(inviter, &format!("invite {thread} {role} {peer}"))?;
    string(&reply, "invite")
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `partition-heal`: a writer, a follower (on a delayed link) and a reader share a thread; the
/// follower is unplugged while the writer appends, the reader still gets everything, and once
/// plugged back the follower reaches the writer's heads by itself: no `connect` after healing,
/// only the peers' retries and head exchanges.
fn partition_heal(lab: &mut Lab) -> Result<Vec<String>, String> {
    const BEFORE: usize = 20;
    const DURING: usize = 20;
    let writer = lab.spawn("writer", None)?;
    let follower = lab.spawn("follower", Some(LINK_DELAY))?;
    let reader = lab.spawn("reader", None)?;
    let thread = string(&lab.ok(writer, "create raw")?, "thread")?;
    let bodies: Vec<String> = (0..BEFORE + DURING)
        .map(|i| format!("event {i}: partition-heal"))
        .collect();
    append_all(lab, writer, &thread, &bodies[..BEFORE])?;
    let before = lab.heads(writer, &thread)?;
    for (who, role) in [(follower, "follower"), (reader, "reader")] {
        let hex = invite(lab, writer, &thread, role, who)?;
        lab.ok(who, &format!("join {hex}"))?;
    }
    let joined = lab.wait_for_heads(follower, &thread, &before, SYNC_TIMEOUT)?;
    lab.wait_for_heads(reader, &thread, &before, SYNC_TIMEOUT)?;

    lab.unplug(follower);
    let partitioned = Instant::now();
    append_all(lab, writer, &thread, &bodies[BEFORE..])?;
    let after = lab.heads(writer, &thread)?;
    let reader_took = lab.wait_for_heads(reader, &thread, &after, SYNC_TIMEOUT)?;
    if let Some(rest) = PARTITION_HOLD.checked_sub(partitioned.elapsed()) {
        std::thread::sleep(rest);
    }
    let cut_off = lab.heads(follower, &thread)?;
    if cut_off != before {
        return Err(lab.fail(
            follower,
            &format!(
                "got records while unplugged: the partition did not hold ({} instead of {})",
                brief(&cut_off),
                brief(&before)
            ),
        ));
    }
    let held = partitioned.elapsed();

    lab.replug(follower);
    let healed = lab.wait_for_heads(follower, &thread, &after, HEAL_BOUND)?;
    let read = read_bodies(lab, reader, &thread)?;
    if read != bodies {
        return Err(lab.fail(
            reader,
            &format!("read {read:?}, the writer appended {bodies:?}"),
        ));
    }
    Ok(vec![
        format!(
            "the follower replicated {BEFORE} events over a {} ms link in {}",
            LINK_DELAY.as_millis(),
            secs(joined)
        ),
        format!(
            "unplugged for {}: the reader got the {DURING} new events in {}, the follower none",
            secs(held),
            secs(reader_took)
        ),
        format!(
            "plugged back, the follower reached the writer's heads by itself in {} (bound {})",
            secs(healed),
            secs(HEAL_BOUND)
        ),
    ])
}

/// `follower-catch-up` (Figure 6 of the paper): a follower replicates a thread it cannot read
/// over a delayed link; the writer invites a reader and goes offline; the reader joins and
/// catches up from the follower alone, which it finds through its invite.
fn follower_catch_up(lab: &mut Lab) -> Result<Vec<String>, String> {
    const EVENTS: usize = 200;
    let writer = lab.spawn("writer", None)?;
    let follower = lab.spawn("follower", Some(LINK_DELAY))?;
    let reader = lab.spawn("reader", None)?;
    let thread = string(&lab.ok(writer, "create raw")?, "thread")?;
    let bodies: Vec<String> = (0..EVENTS)
        .map(|i| format!("event {i}: figure 6"))
        .collect();
    append_all(lab, writer, &thread, &bodies)?;
    let written = lab.heads(writer, &thread)?;
    if total(&written) != EVENTS as u64 {
        return Err(lab.fail(
            writer,
            &format!("heads {} after {EVENTS} appends", brief(&written)),
        ));
    }
    let hex = invite(lab, writer, &thread, "follower", follower)?;
    lab.ok(follower, &format!("join {hex}"))?;
    let replicated = lab.wait_for_heads(follower, &thread, &written, SYNC_TIMEOUT)?;
    let read = lab.send(follower, &format!("read {thread}"))?;
    if read["code"] != "KEY_UNAVAILABLE" {
        return Err(lab.fail(follower, &format!("a follower read its thread: {read}")));
    }

    // The writer invites the reader while it is up, then leaves for good. The invite must name
    // the follower's address, or the reader could not find anyone to catch up from.
    let hex = invite(lab, writer, &thread, "reader", reader)?;
    let follower_addr = format!("/ip4/{}/tcp/{PORT}", lab.state(follower).ip);
    check_invite_names(lab, reader, &hex, &follower_addr)?;
    lab.stop(writer)?;
    lab.unplug(writer);

    let joined = Instant::now();
    lab.ok(reader, &format!("join {hex}"))?;
    lab.wait_for_heads(reader, &thread, &written, SYNC_TIMEOUT)?;
    let caught_up = joined.elapsed();
    let read = read_bodies(lab, reader, &thread)?;
    if read != bodies {
        return Err(lab.fail(
            reader,
            &format!("read {read:?}, the writer appended {bodies:?}"),
        ));
    }
    Ok(vec![
        format!(
            "the follower replicated {EVENTS} events over a {} ms link in {}, and cannot read them",
            LINK_DELAY.as_millis(),
            secs(replicated)
        ),
        format!(
            "with the writer stopped and unplugged, the reader caught up from the follower in {} \
             and read all {EVENTS} events",
            secs(caught_up)
        ),
    ])
}

/// Opens the invite `hex` with `reader`'s identity and checks that it names `addr` for every log.
fn check_invite_names(lab: &Lab, reader: Node, hex: &str, addr: &str) -> Result<(), String> {
    let identity = threads::node::datadir::open_identity(&lab.state(reader).data)
        .map_err(|e| format!("the reader's identity: {e}"))?;
    let bytes = hex::decode(hex).map_err(|e| format!("the invite is not hex: {e}"))?;
    let opened = threads::invite::Invite::open(&bytes, &identity)
        .map_err(|e| format!("the reader cannot open its invite: {e}"))?;
    for entry in &opened.logs {
        if !entry
            .addrs
            .iter()
            .any(|a| listed(&Value::from(a.as_str()), addr))
        {
            return Err(format!(
                "the reader's invite does not name the follower ({addr}) for log {}: {:?}",
                entry.log, entry.addrs
            ));
        }
    }
    Ok(())
}
