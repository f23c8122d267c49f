//! Driver faults: one plausible implementer bug each, planted at one point of the libp2p driver
//! or the sync core, for the conformance kit's catalogue (`threads-conform catalogue`, kind
//! "driver fault, proven by the reference's own tests"). Only with the cargo feature
//! `fault-injection`; without it every hook is a `const fn` returning false or 0.
//!
//! These requirements live below the harness protocol, so no request or reply of an adapter can
//! show them broken: [SYNC-15], [SYNC-16], [SYNC-25], [SYNC-26], [SYNC-27], [SYNC-28],
//! [SYNC-33], [SYNC-35], [DB-25]. The catalogue proves the reference's own tests of them can
//! fail: it runs each fault's test with `THREADS_DRIVER_FAULT=NAME` and counts the fault caught
//! only if the test fails, having seen it pass without the fault.

use std::sync::OnceLock;

use rand_core::CryptoRng;

use crate::db::{DB_VIEW, DbView};
use crate::id::{LogId, ThreadId};
use crate::store::Store;
use crate::sync::Peer;

/// The environment variable that names the fault, read once per process.
pub const ENV: &str = "THREADS_DRIVER_FAULT";

/// Every fault a hook can ask for, with the requirement it breaks.
pub const FAULTS: &[(&str, &str)] = &[
    ("oversized-prefix-read-on", "SYNC-15"),
    ("gossip-topic-from-tid", "SYNC-16"),
    ("refusal-read-as-received", "SYNC-25"),
    ("keeps-request-past-bound", "SYNC-26"),
    ("refusal-counted-as-delivered", "SYNC-27"),
    ("no-peer-share", "SYNC-28"),
    ("held-answer-missed-at-its-turn", "SYNC-33"),
    ("compacted-serves-from-snapshot", "SYNC-35"),
    ("foreign-snapshot-trusted", "DB-25"),
];

/// Whether the fault `name` is the one switched on. Panics on a name no fault has (in the hook
/// or in [`ENV`]): a misspelt fault must fail the run that asked for it, not pass silently
/// [SYNC-15].
pub fn on(name: &str) -> bool {
    assert!(
        FAULTS.iter().any(|(n, _)| *n == name),
        "a driver-fault hook names no fault of crate::fault::FAULTS: {name:?}"
    );
    chosen().is_some_and(|chosen| chosen == name)
}

fn chosen() -> Option<&'static str> {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            let name = std::env::var(ENV).ok().filter(|n| !n.is_empty())?;
            assert!(
                FAULTS.iter().any(|(n, _)| *n == name),
                "{ENV}={name:?} names no driver fault; known: {}",
                FAULTS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Some(name)
        })
        .as_deref()
}

/// With `compacted-serves-from-snapshot`: the seq a compacted peer pretends `log` starts after,
/// its kept snapshot's head for the log, as if compacting had freed the records the snapshot
/// covers; 0 otherwise [SYNC-35].
pub fn compacted_floor<R: CryptoRng, S: Store>(
    peer: &Peer<R, S>,
    thread: &ThreadId,
    log: &LogId,
) -> u64 {
    if !on("compacted-serves-from-snapshot") {
        return 0;
    }
    peer.reducer(thread, DB_VIEW)
        .and_then(|r| r.as_any().downcast_ref::<DbView>())
        .filter(|view| view.is_compacted())
        .and_then(DbView::snapshot)
        .and_then(|s| s.heads().get(&log.to_bytes()).copied())
        .unwrap_or(0)
}
