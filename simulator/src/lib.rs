//! # threads-simulator — a seeded network simulator for the Threads protocol
//!
//! A discrete-event network with virtual time, driven by one seed, in which sans-IO reference
//! [`threads::sync::Peer`]s (or the nodes of any implementation, through the harness protocol)
//! meet delay, loss, duplication, reordering, tampering, partitions (also one-way and flapping),
//! peers going offline, crashes and restarts from durable storage, and clock drift
//! (spec/sync.md, chapter 7).
//!
//! After every step the invariants of [`check`] are checked; once the faults stop, every online
//! peer must converge within the scenario's stated bound. The same seed gives the same trace,
//! byte for byte, so its hash identifies a run; a failing run prints the command that replays it
//! and a shrunk schedule ([`shrink`]) that still fails.
//!
//! Reading order:
//!
//! 1. [`plan`] — what a run is made of: peers, links, the workload script, the fault schedule.
//! 2. [`scenarios`] — the catalogue, one documented function per scenario with its bound.
//! 3. [`sim`] — the engine: the event queue, the link model, liveness.
//! 4. [`check`] and [`truth`] — the invariants and the ground truth they compare against;
//!    [`adversary`] — what a stranger that holds no key of a thread sends.
//! 5. [`nodes`] — in-process peers (and deliberately broken ones) or a subprocess adapter.
//! 6. [`run`], [`shrink`], [`report`], [`trace`] — command-line runs, shrinking, reports.

#![cfg_attr(not(test), warn(clippy::expect_used))]

pub mod adversary;
pub mod check;
pub mod error;
pub mod nodes;
pub mod plan;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenarios;
pub mod shrink;
pub mod sim;
pub mod trace;
pub mod truth;

pub use error::{Result, SimError};
pub use run::RunSpec;
pub use sim::{Failure, Outcome, Verdict};
