//! The scenario catalogue: one documented function per scenario, each stating its liveness bound.
//!
//! A scenario builds a [`Plan`] from the seed and its parameters: the seed also draws the
//! scenario's own choices (when partitions start, how long links flap, each peer's clock offset
//! and drift), so a sweep over seeds explores different schedules. Every scenario runs over noisy
//! links ([`NOISY`]): delay with jitter and a long tail (so messages reorder), loss, duplication
//! and tampering.

use std::collections::BTreeMap;

use threads::acl::{Role, Roles};
use threads::id::Variant;
use threads::invite::InviteRole;

use crate::error::{Result, SimError};
use crate::plan::{
    Action, Attack, Clock, Fault, LinkModel, Millis, Needs, NodeIx, NodeSpec, Plan, Timed,
};
use crate::rng::SimRng;

/// The links of every scenario: 10–50 ms, 1% long-tail delays up to 1.5 s, 2% loss, 1%
/// duplication, 0.5% tampered.
pub const NOISY: LinkModel = LinkModel {
    base_ms: 10,
    jitter_ms: 40,
    tail_ppm: 10_000,
    tail_ms: 1_500,
    loss_ppm: 20_000,
    dup_ppm: 10_000,
    tamper_ppm: 5_000,
};

/// A far peer's links: 150–450 ms, 5% long-tail delays up to 3 s, 5% loss.
pub const FAR: LinkModel = LinkModel {
    base_ms: 150,
    jitter_ms: 300,
    tail_ppm: 50_000,
    tail_ms: 3_000,
    loss_ppm: 50_000,
    dup_ppm: 10_000,
    tamper_ppm: 5_000,
};

/// What a scenario is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// The run seed.
    pub seed: u64,
    /// Number of peers.
    pub peers: usize,
    /// Number of events the writers append.
    pub events: u64,
}

/// One entry of the catalogue.
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line on what it shows.
    pub summary: &'static str,
    /// The liveness bound, in words.
    pub bound: &'static str,
    /// Peers by default, and at least.
    pub peers: (usize, usize),
    /// Events by default.
    pub events: u64,
    /// Builds the plan.
    pub build: fn(&Setup) -> Plan,
}

impl Scenario {
    /// The plan for `seed`, with the defaults for what is not given.
    pub fn plan(&self, seed: u64, peers: Option<usize>, events: Option<u64>) -> Result<Plan> {
        let peers = peers.unwrap_or(self.peers.0);
        if peers < self.peers.1 {
            return Err(SimError::Usage(format!(
                "{} needs at least {} peers",
                self.name, self.peers.1
            )));
        }
        if peers > 64 {
            return Err(SimError::Usage("at most 64 peers".into()));
        }
        let events = events.unwrap_or(self.events).max(1);
        Ok((self.build)(&Setup {
            seed,
            peers,
            events,
        }))
    }
}

/// Every scenario, in the order `threads-sim list` shows them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "partition-heal",
        summary: "two writers split into two halves, both keep writing; heal, catch up by head exchange",
        bound: "30 s after the heal",
        peers: (4, 2),
        events: 40,
        build: partition_heal,
    },
    Scenario {
        name: "writer-offline",
        summary: "the writer goes offline; a new reader catches up from a follower alone (Figure 6)",
        bound: "30 s after the cut to the first reader ends",
        peers: (3, 3),
        events: 150,
        build: writer_offline,
    },
    Scenario {
        name: "late-joiner",
        summary: "a reader joins a long log (100k events) and pulls it in batches",
        bound: "60 s + 2 ms per event after the cut to the writer ends",
        peers: (3, 3),
        events: 100_000,
        build: late_joiner,
    },
    Scenario {
        name: "flapping-links",
        summary: "links to the writer flap, both ways and one way, while it writes",
        bound: "30 s after the flapping stops",
        peers: (4, 3),
        events: 60,
        build: flapping_links,
    },
    Scenario {
        name: "many-logs",
        summary: "many writers (8 by default) in one thread, a partition and an offline writer",
        bound: "30 s after the last append",
        peers: (8, 2),
        events: 80,
        build: many_logs,
    },
    Scenario {
        name: "acl-revocation-partition",
        summary: "an admin revokes a writer on the other side of a partition; readers refuse beyond the cut",
        bound: "30 s after the heal",
        peers: (4, 4),
        events: 6,
        build: acl_revocation_partition,
    },
    Scenario {
        name: "crash-restart",
        summary: "writer, reader and follower crash and restart from their stores",
        bound: "30 s after the last append or restart",
        peers: (3, 3),
        events: 40,
        build: crash_restart,
    },
    Scenario {
        name: "stranger",
        summary: "a stranger that knows the thread's IDs pulls, floods heads, forges records and replays proofs",
        bound: "30 s after the last append or attack",
        peers: (4, 4),
        events: 40,
        build: stranger,
    },
    Scenario {
        name: "revoked-member",
        summary: "a member set to no-access keeps pulling, pushing, sending heads and replaying its old proofs",
        bound: "30 s after the last append or attack",
        peers: (4, 4),
        events: 40,
        build: revoked_member,
    },
    Scenario {
        name: "db-concurrent-edits",
        summary: "writers edit the same documents under a partition, loss and crashes; readers agree on the view",
        bound: "30 s after the heal or the last restart",
        peers: (5, 3),
        events: 60,
        build: db_concurrent_edits,
    },
];

/// The scenario named `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Builds plans: draws the scenario's own choices from a stream of its own.
struct Builder {
    rng: SimRng,
    nodes: Vec<NodeSpec>,
    script: Vec<Timed<Action>>,
    faults: Vec<Fault>,
    links: BTreeMap<(NodeIx, NodeIx), LinkModel>,
}

impl Builder {
    fn new(setup: &Setup, scenario: &str) -> Builder {
        Builder {
            rng: SimRng::new(setup.seed, &format!("scenario/{scenario}")),
            nodes: Vec::new(),
            script: Vec::new(),
            faults: Vec::new(),
            links: BTreeMap::new(),
        }
    }

    /// A peer whose clock is off by up to ±2 s and drifts by up to ±300 ppm.
    fn node(&mut self, name: &str) -> NodeIx {
        let clock = Clock {
            offset_ms: self.rng.signed(2_000),
            drift_ppm: self.rng.signed(300),
        };
        self.nodes.push(NodeSpec {
            name: name.to_string(),
            clock,
            broken: None,
        });
        self.nodes.len() - 1
    }

    fn between(&mut self, lo: Millis, hi: Millis) -> Millis {
        self.rng.between(lo, hi)
    }

    fn at(&mut self, at: Millis, what: Action) {
        self.script.push(Timed { at, what });
    }

    /// `total` appends by `node`, spread evenly over `from..until`, in at most 1000 actions.
    fn appends(&mut self, node: NodeIx, total: u64, from: Millis, until: Millis) {
        let actions = total.clamp(1, 1000);
        let span = until.saturating_sub(from);
        let mut done = 0;
        for k in 0..actions {
            let count = (total * (k + 1) / actions) - done;
            done += count;
            if count == 0 {
                continue;
            }
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            let at = from + span * k / actions;
            self.at(
                at,
                Action::Append {
                    node,
                    thread: 0,
                    count,
                },
            );
        }
    }

    /// `total` database edits by `node`, spread evenly over [from, until) in actions of one or
    /// two edits [DB-2].
    fn db_edits(&mut self, node: NodeIx, total: u64, from: Millis, until: Millis) {
        let actions = total.div_ceil(2).max(1);
        let span = until.saturating_sub(from);
        for k in 0..actions {
            let count = if k + 1 == actions && total % 2 == 1 {
                1
            } else {
                2
            };
            let at = from + span * k / actions;
            self.at(
                at,
                Action::DbEdit {
                    node,
                    thread: 0,
                    count,
                },
            );
        }
    }

    fn invite(&mut self, at: Millis, from: NodeIx, to: NodeIx, role: InviteRole) {
        self.at(
            at,
            Action::Invite {
                from,
                to,
                thread: 0,
                role,
            },
        );
    }

    fn label(&self, group: &[NodeIx]) -> String {
        let names: Vec<&str> = group.iter().map(|i| self.nodes[*i].name.as_str()).collect();
        names.join(",")
    }

    /// Every link between the two groups cut, both ways.
    fn partition(&mut self, a: &[NodeIx], b: &[NodeIx], from: Millis, until: Millis) {
        let links = a
            .iter()
            .flat_map(|x| b.iter().flat_map(move |y| [(*x, *y), (*y, *x)]))
            .collect();
        let label = format!("{} | {}", self.label(a), self.label(b));
        self.faults.push(Fault::Cut {
            label,
            links,
            from,
            until,
        });
    }

    /// The links from `a` to `b` cut, one way only.
    fn one_way(&mut self, a: &[NodeIx], b: &[NodeIx], from: Millis, until: Millis) {
        let links = a
            .iter()
            .flat_map(|x| b.iter().map(move |y| (*x, *y)))
            .collect();
        let label = format!("{} -> {}", self.label(a), self.label(b));
        self.faults.push(Fault::Cut {
            label,
            links,
            from,
            until,
        });
    }

    fn flap(&mut self, links: Vec<(NodeIx, NodeIx)>, label: String, from: Millis, until: Millis) {
        let down_ms = self.between(1_000, 3_000);
        let up_ms = self.between(1_000, 4_000);
        self.faults.push(Fault::Flap {
            label,
            links,
            from,
            until,
            down_ms,
            up_ms,
        });
    }

    fn offline(&mut self, node: NodeIx, from: Millis, until: Option<Millis>) {
        self.faults.push(Fault::Offline {
            node,
            from,
            until,
            copied_by: None,
        });
    }

    /// `node` goes offline for good at `from`, or once `copier` holds all it wrote if later.
    fn offline_once_copied(&mut self, node: NodeIx, from: Millis, copier: NodeIx) {
        self.faults.push(Fault::Offline {
            node,
            from,
            until: None,
            copied_by: Some(copier),
        });
    }

    fn crash(&mut self, node: NodeIx, at: Millis, restart: Option<Millis>) {
        self.faults.push(Fault::Crash { node, at, restart });
    }

    fn crash_in_batch(&mut self, node: NodeIx, from: Millis, until: Millis, down_ms: Millis) {
        self.faults.push(Fault::CrashInBatch {
            node,
            from,
            until,
            down_ms,
        });
    }

    /// Both directions between `node` and every other peer use `link`.
    fn far(&mut self, node: NodeIx, link: LinkModel) {
        for other in (0..self.nodes.len()).filter(|o| *o != node) {
            self.links.insert((node, other), link);
            self.links.insert((other, node), link);
        }
    }

    fn finish(mut self, bound_ms: Millis, needs: Needs) -> Plan {
        // Stable: actions at the same time keep the order they were added in.
        self.script.sort_by_key(|a| a.at);
        Plan {
            nodes: self.nodes,
            link: NOISY,
            links: self.links,
            script: self.script,
            faults: self.faults,
            bound_ms,
            needs,
        }
    }
}

const TICKS: Needs = Needs {
    ticks: true,
    crash: false,
    acl: false,
    db: false,
};

/// The role of the k-th extra peer: readers and followers alternately.
fn extra_role(k: usize) -> InviteRole {
    if k.is_multiple_of(2) {
        InviteRole::Reader
    } else {
        InviteRole::Follower
    }
}

/// **partition-heal**: writers `w0` and `w1` and their readers (`r…`) and followers (`f…`) are
/// split in two halves, even and odd peers, with every link between the halves cut both ways,
/// from a time drawn in 5–10 s for 8–16 s. Both writers keep appending until 1 s before the heal,
/// so after it each half learns what it missed only from head exchange [SYNC-8] and fetches it
/// with pulls [SYNC-5], retried when lost [SYNC-10]. The last peer is also offline 2–5 s.
///
/// Peers: K ≥ 2 (default 4). Events: split between the two writers. **Liveness bound: every peer
/// holds both logs 30 s after the heal.**
pub fn partition_heal(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "partition-heal");
    two_writers_and_others(&mut b, s);
    let split = b.between(5_000, 10_000);
    let heal = split + b.between(8_000, 16_000);
    b.appends(0, s.events / 2, 1_000, heal - 1_000);
    b.appends(1, s.events - s.events / 2, 1_000, heal - 1_000);
    let (even, odd): (Vec<NodeIx>, Vec<NodeIx>) = (0..s.peers).partition(|i| i % 2 == 0);
    b.partition(&even, &odd, split, heal);
    if s.peers >= 3 {
        b.offline(s.peers - 1, 2_000, Some(5_000));
    }
    b.finish(30_000, TICKS)
}

/// The cast of the two-writer scenarios: writers `w0` (who creates a raw thread at 0 ms) and `w1`,
/// then readers `r<i>` and followers `f<i>` alternately ([`extra_role`]), each invited by `w0`
/// at 100 + 10·i ms.
fn two_writers_and_others(b: &mut Builder, s: &Setup) {
    for i in 0..s.peers {
        let name = match i {
            0 | 1 => format!("w{i}"),
            _ if extra_role(i) == InviteRole::Reader => format!("r{i}"),
            _ => format!("f{i}"),
        };
        b.node(&name);
    }
    b.at(
        0,
        Action::CreateThread {
            node: 0,
            variant: Variant::Raw,
        },
    );
    for i in 1..s.peers {
        let role = if i == 1 {
            InviteRole::Writer
        } else {
            extra_role(i)
        };
        b.invite(100 + 10 * i as Millis, 0, i, role);
    }
}

/// **writer-offline** (the paper's Figure 6): the writer appends its events, a follower pulls
/// them all, then the writer goes offline for good (at 7 s, or once the follower holds the whole
/// log if that is later: loss can eat every pull the follower makes before 7 s, and then no peer
/// would hold the records the readers must get). At 8 s readers accept invites the
/// writer exported out of band; they can reach only the follower, which verifies, stores and
/// serves records it cannot read [SYNC-14]. The follower's answers to the first reader are also
/// cut for 3 s, so its pulls are retried [SYNC-10].
///
/// Peers: K ≥ 3 (default 3): writer, follower, readers. **Liveness bound: every reader holds the
/// whole log 30 s after the cut ends (12 s)**; the writer, offline, is not required to.
pub fn writer_offline(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "writer-offline");
    let (writer, follower) = (b.node("writer"), b.node("follower"));
    let readers: Vec<NodeIx> = (2..s.peers).map(|i| b.node(&reader_name(i - 1))).collect();
    b.at(
        0,
        Action::CreateThread {
            node: writer,
            variant: Variant::Raw,
        },
    );
    b.appends(writer, s.events, 100, 3_000);
    b.invite(3_500, writer, follower, InviteRole::Follower);
    b.offline_once_copied(writer, 7_000, follower);
    for (k, reader) in readers.iter().enumerate() {
        b.invite(8_000 + k as Millis, writer, *reader, InviteRole::Reader);
    }
    b.one_way(&[follower], &readers[..1], 9_000, 12_000);
    b.finish(30_000, TICKS)
}

fn reader_name(k: usize) -> String {
    match k {
        1 => "reader".into(),
        k => format!("reader-{k}"),
    }
}

fn follower_name(k: usize) -> String {
    match k {
        1 => "follower".into(),
        k => format!("follower-{k}"),
    }
}

/// **late-joiner**: the writer appends a long log (100,000 events by default, in about
/// `events / 10` ms of virtual time) before anyone else holds the thread; then the followers and
/// a reader join at once and catch up with contiguous, oldest-first batches of at most 64 records
/// [SYNC-5], the reader from the writer and the followers together. The reader's link to the
/// writer is cut both ways for 3 s early in the catch-up, so for a while only the followers, who
/// are catching up themselves, serve it.
///
/// (The followers join late on purpose: with a follower present while the writer appends
/// faster than about one record per round trip, the reference peer's pulls pile up; see
/// `examples/push_storm.rs` and the README's findings.)
///
/// Peers: K ≥ 3 (default 3): writer, followers, joiner. **Liveness bound: 60 s + 2 ms per event
/// after the cut ends (4 s after the join)**; 100,000 events take about 94 s of round trips at
/// the links' mean delay.
pub fn late_joiner(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "late-joiner");
    let writer = b.node("writer");
    let followers: Vec<NodeIx> = (1..s.peers - 1)
        .map(|k| b.node(&follower_name(k)))
        .collect();
    let joiner = b.node("joiner");
    b.at(
        0,
        Action::CreateThread {
            node: writer,
            variant: Variant::Raw,
        },
    );
    let end = 1_000 + (s.events / 10).max(5_000);
    b.appends(writer, s.events, 1_000, end);
    let join = end + 1_000;
    for (k, f) in followers.iter().enumerate() {
        b.invite(join + k as Millis, writer, *f, InviteRole::Follower);
    }
    b.invite(join + 100, writer, joiner, InviteRole::Reader);
    b.partition(&[writer], &[joiner], join + 1_000, join + 4_000);
    b.finish(60_000 + 2 * s.events, TICKS)
}

/// A writer that creates a raw thread at 0 ms and invites a reader (100 ms), a follower (110 ms)
/// and, with K > 3 peers, more readers (from 120 ms): the cast several scenarios share.
fn raw_thread_of_readers(b: &mut Builder, s: &Setup) -> (NodeIx, NodeIx, NodeIx, Vec<NodeIx>) {
    let (writer, reader, follower) = (b.node("writer"), b.node("reader"), b.node("follower"));
    let others: Vec<NodeIx> = (3..s.peers).map(|i| b.node(&reader_name(i - 1))).collect();
    b.at(
        0,
        Action::CreateThread {
            node: writer,
            variant: Variant::Raw,
        },
    );
    b.invite(100, writer, reader, InviteRole::Reader);
    b.invite(110, writer, follower, InviteRole::Follower);
    for (k, o) in others.iter().enumerate() {
        b.invite(120 + k as Millis, writer, *o, InviteRole::Reader);
    }
    (writer, reader, follower, others)
}

/// **flapping-links**: while the writer appends (1–40 s), its links with the reader flap both
/// ways (down 1–3 s, up 1–4 s, drawn per seed) from 5 s to 40 s; the follower's messages to the
/// writer flap one way from 3 s to 35 s (its pulls are lost, the writer's pushes still arrive);
/// and with K ≥ 4 the writer's messages to `reader-2` are cut one way from 10 s to 20 s, so it
/// must learn of the records from others' announcements [SYNC-8].
///
/// Peers: K ≥ 3 (default 4). **Liveness bound: 30 s after the flapping stops.**
pub fn flapping_links(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "flapping-links");
    let (writer, reader, follower, others) = raw_thread_of_readers(&mut b, s);
    b.appends(writer, s.events, 1_000, 40_000);
    let both = vec![(writer, reader), (reader, writer)];
    b.flap(both, "writer <-> reader".into(), 5_000, 40_000);
    b.flap(
        vec![(follower, writer)],
        "follower -> writer".into(),
        3_000,
        35_000,
    );
    if let Some(first) = others.first() {
        b.one_way(&[writer], &[*first], 10_000, 20_000);
    }
    b.finish(30_000, TICKS)
}

/// **many-logs**: K writers (8 by default) in one raw thread, each with its own log, each
/// appending its share of the events from 1 s to 20 s. Logs are learned from heads and records
/// [SYNC-11]. The writers are split in two halves from 8 s to 14 s, and the last writer is
/// offline from 3 s to 6 s and far away: its links are [`FAR`] (slow, lossy, reordering).
///
/// Peers: K ≥ 2 (default 8). **Liveness bound: every writer holds every log 30 s after the last
/// append (about 20 s).**
pub fn many_logs(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "many-logs");
    for i in 0..s.peers {
        b.node(&format!("w{i}"));
    }
    b.at(
        0,
        Action::CreateThread {
            node: 0,
            variant: Variant::Raw,
        },
    );
    for i in 1..s.peers {
        b.invite(100 + 10 * i as Millis, 0, i, InviteRole::Writer);
    }
    let per = s.events / s.peers as u64;
    for i in 0..s.peers {
        let share = if i == 0 {
            s.events - per * (s.peers as u64 - 1)
        } else {
            per
        };
        b.appends(i, share, 1_000, 20_000);
    }
    let (low, high): (Vec<NodeIx>, Vec<NodeIx>) = (0..s.peers).partition(|i| *i < s.peers / 2);
    b.partition(&low, &high, 8_000, 14_000);
    b.offline(s.peers - 1, 3_000, Some(6_000));
    b.far(s.peers - 1, FAR);
    b.finish(30_000, TICKS)
}

/// The admin gives each peer its role in thread 0 (from 10 ms, 1 ms apart), then invites each
/// (from 100 ms): the start of the access-controlled scenarios.
fn grant(b: &mut Builder, admin: NodeIx, grants: &[(NodeIx, Role, InviteRole)]) {
    for (k, (peer, role, _)) in grants.iter().enumerate() {
        let roles = Roles::of(*role);
        b.at(
            10 + k as Millis,
            Action::SetRoles {
                admin,
                thread: 0,
                peer: *peer,
                roles,
            },
        );
    }
    for (k, (peer, _, invite)) in grants.iter().enumerate() {
        b.invite(100 + k as Millis, admin, *peer, *invite);
    }
}

/// **acl-revocation-partition**: in an access-controlled thread the admin grants `writer` write,
/// `reader` read and `follower` follow. The writer appends half the events (1–5 s); then
/// `writer, reader` are cut off from the others (8–20 s). At 10 s the admin revokes the writer's
/// write (the cut is the writer's counter the admin holds); from 11 s the writer, unaware,
/// appends the other half, which the reader on its side shows until the revocation reaches it.
/// From then on no reader may show a record beyond the cut [ACL-7] (the invariant), although
/// every peer stores them.
///
/// Peers: K ≥ 4 (default 4): admin, writer, reader, follower, more readers. **Liveness bound:
/// 30 s after the heal.**
pub fn acl_revocation_partition(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "acl-revocation-partition");
    let admin = b.node("admin");
    let (writer, reader, follower) = (b.node("writer"), b.node("reader"), b.node("follower"));
    let others: Vec<NodeIx> = (4..s.peers).map(|i| b.node(&reader_name(i - 2))).collect();
    b.at(
        0,
        Action::CreateThread {
            node: admin,
            variant: Variant::AccessControlled,
        },
    );
    let mut grants = vec![(writer, Role::Write, InviteRole::Writer)];
    grants.push((reader, Role::Read, InviteRole::Reader));
    grants.push((follower, Role::Follow, InviteRole::Follower));
    grants.extend(others.iter().map(|o| (*o, Role::Read, InviteRole::Reader)));
    grant(&mut b, admin, &grants);
    b.appends(writer, s.events / 2, 1_000, 5_000);
    let mut rest: Vec<NodeIx> = vec![admin, follower];
    rest.extend(&others);
    b.partition(&[writer, reader], &rest, 8_000, 20_000);
    let roles = Roles::of(Role::Read);
    b.at(
        10_000,
        Action::SetRoles {
            admin,
            thread: 0,
            peer: writer,
            roles,
        },
    );
    b.appends(writer, s.events - s.events / 2, 11_000, 15_000);
    b.finish(30_000, Needs { acl: true, ..TICKS })
}

/// **crash-restart**: while the writer appends (1–30 s), the follower crashes at 5 s and
/// restarts at 9 s, the reader crashes at 12 s and restarts at once, the writer crashes at 17 s
/// and restarts at 20 s (its appends in between are skipped), and the follower crashes again at
/// 24 s. A crash loses what is only in memory; the restart reopens the store, verifying it again
/// [SYNC-13]. With K ≥ 4, `reader-2` crashes at 28 s and restarts at 35 s. Heads must never go
/// back across a restart [SYNC-12].
///
/// Peers: K ≥ 3 (default 3). **Liveness bound: 30 s after the last append (about 29 s) or
/// restart, whichever is later.**
pub fn crash_restart(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "crash-restart");
    let (writer, reader, follower, others) = raw_thread_of_readers(&mut b, s);
    b.appends(writer, s.events, 1_000, 30_000);
    b.crash(follower, 5_000, Some(9_000));
    let (quick, quicker) = (b.between(1, 500), b.between(1, 500));
    b.crash(reader, 12_000, Some(12_000 + quick));
    b.crash(writer, 17_000, Some(20_000));
    b.crash(follower, 24_000, Some(24_000 + quicker));
    if let Some(first) = others.first() {
        b.crash(*first, 28_000, Some(35_000));
    }
    b.finish(
        30_000,
        Needs {
            crash: true,
            ..TICKS
        },
    )
}

/// The attacks of [`stranger`], in the order it cycles through them: floods of exactly the
/// limit, one past it and twice it [SYNC-23].
const ATTACKS: [Attack; 7] = [
    Attack::Pull,
    Attack::FloodHeads { entries: 1_024 },
    Attack::ForgedRecords,
    Attack::ReplayAuth,
    Attack::FloodHeads { entries: 1_025 },
    Attack::ForgedPublication,
    Attack::FloodHeads { entries: 2_048 },
];

/// **stranger**: a writer, a reader, a follower (and, with K > 4, more readers) replicate a raw
/// thread while the writer appends (1–20 s); the last peer, `stranger`, knows the Thread ID and
/// every log ID but holds no key, so it can never prove membership [SYNC-18]. From 0.5 s to 25 s
/// it attacks a member drawn per attack, at times drawn from the seed, cycling through
/// [`Attack`]: it challenges and pulls every log; floods `heads` with 1,024, 1,025 and 2,048
/// random log IDs (and the real logs far ahead); pushes a real record under a forged log ID and a
/// log's real records as its own push; publishes forged and unsealed publications; and replays
/// members' `auth` messages to their recipients and back to their senders, then pulls.
///
/// The writer is cut off from the reader and the follower for 3 s (from 4–8 s), so that the members
/// also catch up by head exchange while the floods go on.
///
/// The membership invariant is checked as every message is sent and after every step: nothing
/// but `auth` reaches the stranger, no member holds a log nobody wrote or files the stranger
/// [SYNC-20], [SYNC-21], [SYNC-23], [SYNC-24]; and the members still converge.
///
/// Peers: K ≥ 4 (default 4). **Liveness bound: 30 s after the last append or attack.**
pub fn stranger(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "stranger");
    let (writer, reader, follower, others) = {
        let cast = Setup {
            peers: s.peers - 1,
            ..*s
        };
        raw_thread_of_readers(&mut b, &cast)
    };
    let stranger = b.node("stranger");
    let mut members = vec![writer, reader, follower];
    members.extend(&others);
    b.appends(writer, s.events, 1_000, 20_000);
    // A partition makes the members re-sync by head exchange while the stranger floods heads.
    let split = b.between(4_000, 8_000);
    b.partition(&[writer], &[reader, follower], split, split + 3_000);
    let count = b.between(14, 21) as usize;
    attack(&mut b, stranger, &members, count, 500, &ATTACKS);
    b.finish(30_000, TICKS)
}

/// `count` attacks by `from` on thread 0, each at a time drawn from `start` to 25 s and on a
/// member drawn from `members`, cycling through `attacks` in order.
fn attack(
    b: &mut Builder,
    from: NodeIx,
    members: &[NodeIx],
    count: usize,
    start: Millis,
    attacks: &[Attack],
) {
    for k in 0..count {
        let at = b.between(start, 25_000);
        let to = members[b.rng.below(members.len() as u64) as usize];
        b.at(
            at,
            Action::Attack {
                from,
                to,
                thread: 0,
                attack: attacks[k % attacks.len()],
            },
        );
    }
}

/// The attacks of [`revoked_member`], in the order it cycles through them.
const REVOKED_ATTACKS: [Attack; 5] = [
    Attack::Pull,
    Attack::ReplayOwnAuth,
    Attack::ForgedRecords,
    Attack::FloodHeads { entries: 64 },
    Attack::ReplayAuth,
];

/// **revoked-member**: in an access-controlled thread the admin grants `writer` write, `reader`
/// (and, with K > 4, more readers) read, and `revoked` read or follow (drawn per seed); all are
/// invited and replicate while the writer appends (1–20 s). At a time drawn in 5–9 s the admin
/// sets `revoked`'s role to no-access. `revoked` is a member like any other before that (a
/// reference peer, holding the follow key and, as a reader, the read key), and it keeps running
/// after: its own pulls, retries and head exchanges go on, and from 0.2 s after the revocation
/// to 25 s it also attacks members drawn per attack: challenges and pulls every log from the
/// start, replays the `auth` messages it sent as a member, pushes real records (also under a
/// forged log ID), sends `heads` naming forged logs, and replays other members' proofs. The
/// admin and the reader are cut off from each other for 1–4 s from around the revocation, so
/// the change reaches the reader later, through the writer.
///
/// The invariant (membership, checked on every message and step): once a peer that reads the
/// ACL holds the revocation, it sends `revoked` no `pull`, `records` or `heads` about the
/// thread, and a direct message from `revoked` changes nothing it stores [SYNC-22]. Publications
/// still reach `revoked` (the follow key is not rotated, [SYNC-22]), so it is not required to
/// converge; the others are.
///
/// Peers: K ≥ 4 (default 4): admin, writer, readers, revoked. **Liveness bound: 30 s after the
/// last append or attack.**
pub fn revoked_member(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "revoked-member");
    let admin = b.node("admin");
    let (writer, reader) = (b.node("writer"), b.node("reader"));
    let others: Vec<NodeIx> = (4..s.peers).map(|i| b.node(&reader_name(i - 2))).collect();
    let revoked = b.node("revoked");
    b.at(
        0,
        Action::CreateThread {
            node: admin,
            variant: Variant::AccessControlled,
        },
    );
    let (role, invite) = if b.rng.below(2) == 0 {
        (Role::Read, InviteRole::Reader)
    } else {
        (Role::Follow, InviteRole::Follower)
    };
    let mut grants = vec![(writer, Role::Write, InviteRole::Writer)];
    grants.push((reader, Role::Read, InviteRole::Reader));
    grants.extend(others.iter().map(|o| (*o, Role::Read, InviteRole::Reader)));
    grants.push((revoked, role, invite));
    grant(&mut b, admin, &grants);
    b.appends(writer, s.events, 1_000, 20_000);
    let revoke = b.between(5_000, 9_000);
    b.at(
        revoke,
        Action::SetRoles {
            admin,
            thread: 0,
            peer: revoked,
            roles: Roles::of(Role::NoAccess),
        },
    );
    // The admin is cut off from the reader around the revocation, so that the change reaches
    // the reader later, through the writer, while the revoked member keeps asking.
    let cut = b.between(revoke.saturating_sub(1_000), revoke + 500);
    let heal = cut + b.between(1_000, 4_000);
    b.partition(&[admin], &[reader], cut, heal);
    let mut members = vec![admin, writer, reader];
    members.extend(&others);
    let count = b.between(8, 14) as usize;
    attack(
        &mut b,
        revoked,
        &members,
        count,
        revoke + 200,
        &REVOKED_ATTACKS,
    );
    b.finish(30_000, Needs { acl: true, ..TICKS })
}

/// **db-concurrent-edits** (spec/database.md): writers `w0` and `w1` declare a collection and
/// edit the same four documents and three keys (creates, saves of changed fields, deletes, key
/// puts and removals, each checked against the writer's own view first) while a partition splits
/// the peers into even and odd halves for 6–12 s from 4–8 s, over the noisy links of every
/// scenario. A reader crashes during the partition and restarts from its store; a writer crashes
/// between two of its edits, loses what was only in memory, and restarts; from the heal on, the
/// last peer crashes inside the first write that stores a batch of records (the other half's, as
/// it pulls them), before it does anything else, and restarts 0.3–3 s later. Every reader keeps its view
/// from the moment it joins, folding records in whatever order they arrive, and a restarted one
/// checks its stored view rows against its records (STORE_CORRUPT otherwise) [DB-11], [SYNC-13].
/// At the end every reader and writer must show the same view CID (the invariant checked at the
/// end of every scenario).
///
/// Peers: K ≥ 3 (default 5): two writers, then readers and followers alternately. Events: the
/// edits, split between the writers. **Liveness bound: every peer holds both logs 30 s after the
/// heal or the last restart, whichever is later.**
pub fn db_concurrent_edits(s: &Setup) -> Plan {
    let mut b = Builder::new(s, "db-concurrent-edits");
    two_writers_and_others(&mut b, s);
    let split = b.between(4_000, 8_000);
    let heal = split + b.between(6_000, 12_000);
    b.db_edits(0, s.events / 2, 500, heal);
    b.db_edits(1, s.events - s.events / 2, 700, heal);
    let (even, odd): (Vec<NodeIx>, Vec<NodeIx>) = (0..s.peers).partition(|i| i % 2 == 0);
    b.partition(&even, &odd, split, heal);
    let reader_down = split + b.between(500, 3_000);
    let reader_up = reader_down + b.between(500, 4_000);
    b.crash(2, reader_down, Some(reader_up));
    let writer_down = b.between(1_000, heal);
    let writer_up = writer_down + b.between(200, 2_000);
    b.crash(1, writer_down, Some(writer_up));
    // The healed partition sends the last peer the other half's records in batches: it dies
    // inside the first batch write, and its restarted view must check against its records.
    let down = b.between(300, 3_000);
    b.crash_in_batch(s.peers - 1, heal, heal + 10_000, down);
    b.finish(
        30_000,
        Needs {
            crash: true,
            db: true,
            ..TICKS
        },
    )
}
