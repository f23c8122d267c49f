//! Memoised verdicts of the pure checks, for drivers that run many peers in one process.
//!
//! Follower verification [VERIFY-1], opening an event's header and body [VERIFY-2] and log-ID
//! decoding [LOGID-3] are pure functions of their input bytes: the same envelope checked for the
//! same thread, log and key always gets the same verdict, whichever peer asks. A simulator that plays a dozen peers on one core would
//! otherwise verify every record once per peer, and decompress the same few public keys in every
//! message. Inside [`memoised`], each distinct input is computed once and its verdict — the
//! whole `Result`, error detail included — is handed out again to whoever asks, so nothing a peer
//! observes changes; outside it, nothing is remembered. A real node never calls it: it verifies
//! each record once anyway.
//!
//! The memo lives in a thread-local slot for the duration of the call, never longer, so no state
//! leaks between runs, threads or tests.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::{LogId, ThreadId};
use crate::keys::{FollowKey, ReadKey};
use crate::record::Header;

use super::VerifiedRecord;

#[derive(Default)]
struct Memo {
    /// Follower verdicts, keyed by every input byte of [`super::verify_follower`].
    followers: HashMap<Vec<u8>, Result<VerifiedRecord>>,
    /// Opened headers and bodies, keyed by every input byte of the opening.
    opened: HashMap<Vec<u8>, Result<(Header, Vec<u8>)>>,
    /// Log-ID decodings, keyed by the bytes decoded.
    log_ids: HashMap<Vec<u8>, Result<LogId>>,
}

thread_local! {
    static MEMO: RefCell<Option<Memo>> = const { RefCell::new(None) };
}

/// Runs `f` with the verdicts of follower verification [VERIFY-1], of opening a verified
/// record's header and body [VERIFY-2] and of log-ID decoding [LOGID-3] memoised on this thread: each distinct input is checked once during the call and its exact
/// result reused. Nested calls share the outermost memo. Meant for simulators that play many
/// peers in one process; the verdicts are the ones the checks would give, so behaviour and
/// error codes are unchanged.
pub fn memoised<T>(f: impl FnOnce() -> T) -> T {
    if MEMO.with(|m| m.borrow().is_some()) {
        return f();
    }
    MEMO.with(|m| *m.borrow_mut() = Some(Memo::default()));
    // Cleared on the way out, panics included, so that nothing outlives the call.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            MEMO.with(|m| m.borrow_mut().take());
        }
    }
    let _clear = Clear;
    f()
}

/// Whether a memo is active on this thread.
fn active() -> bool {
    MEMO.with(|m| m.borrow().is_some())
}

/// Looks `key` up in the map `pick` selects, or computes the verdict and remembers it. The
/// memo is never borrowed while `compute` runs, which may consult it in turn.
fn lookup<V: Clone>(
    pick: fn(&mut Memo) -> &mut HashMap<Vec<u8>, V>,
    key: Vec<u8>,
    compute: impl FnOnce() -> V,
) -> V {
    let held = MEMO.with(|m| {
        m.borrow_mut()
            .as_mut()
            .and_then(|memo| pick(memo).get(&key).cloned())
    });
    if let Some(verdict) = held {
        return verdict;
    }
    let verdict = compute();
    MEMO.with(|m| {
        if let Some(memo) = m.borrow_mut().as_mut() {
            pick(memo).insert(key, verdict.clone());
        }
    });
    verdict
}

/// [`super::verify_follower`]'s verdict on these exact inputs, computed by `compute` at most
/// once inside [`memoised`].
pub(super) fn follower(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    follow: &FollowKey,
    compute: impl FnOnce() -> Result<VerifiedRecord>,
) -> Result<VerifiedRecord> {
    if !active() {
        return compute();
    }
    let key = key(&[
        thread.as_bytes(),
        &log.to_bytes(),
        follow.as_bytes(),
        &envelope.record,
        &envelope.event,
        &envelope.header,
        &envelope.body,
    ]);
    lookup(|m| &mut m.followers, key, compute)
}

/// The header and body that steps 9–10 of [VERIFY-2] open from these exact inputs, computed by
/// `compute` at most once inside [`memoised`].
pub(super) fn opened(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    read: &ReadKey,
    compute: impl FnOnce() -> Result<(Header, Vec<u8>)>,
) -> Result<(Header, Vec<u8>)> {
    if !active() {
        return compute();
    }
    let key = key(&[
        thread.as_bytes(),
        &log.to_bytes(),
        read.as_bytes(),
        &envelope.header,
        &envelope.body,
    ]);
    lookup(|m| &mut m.opened, key, compute)
}

/// The inputs, each prefixed with its length, so that no two different inputs make one key.
fn key(inputs: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(inputs.iter().map(|b| b.len() + 8).sum());
    for input in inputs {
        key.extend_from_slice(&(input.len() as u64).to_le_bytes());
        key.extend_from_slice(input);
    }
    key
}

/// [`LogId::from_bytes`]'s verdict on `bytes`, computed by `compute` at most once inside
/// [`memoised`].
pub(crate) fn log_id(bytes: &[u8], compute: impl FnOnce() -> Result<LogId>) -> Result<LogId> {
    if !active() {
        return compute();
    }
    lookup(|m| &mut m.log_ids, bytes.to_vec(), compute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn memoised_verdicts_are_the_computed_ones_and_vanish_after_the_call() {
        let bytes = [7u8; 38];
        let plain = LogId::from_bytes(&bytes);
        let mut calls = 0;
        let (first, second) = memoised(|| {
            let first = log_id(&bytes, || {
                calls += 1;
                LogId::from_bytes(&bytes)
            });
            let second = log_id(&bytes, || unreachable!("the verdict is remembered"));
            (first, second)
        });
        assert_eq!(calls, 1);
        assert_eq!(first, plain);
        assert_eq!(second, plain);
        assert_eq!(
            plain.map_err(|e| e.code),
            Err(ErrorCode::LogIdInvalid),
            "a bad ID stays bad"
        );
        assert!(!active(), "the memo ends with the call");
        let mut outside = 0;
        let _ = log_id(&bytes, || {
            outside += 1;
            LogId::from_bytes(&bytes)
        });
        let _ = log_id(&bytes, || {
            outside += 1;
            LogId::from_bytes(&bytes)
        });
        assert_eq!(outside, 2, "outside memoised nothing is remembered");
    }

    /// Opening a header and body [VERIFY-2] and follower verification [VERIFY-1] are computed
    /// once per distinct input inside [`memoised`], and every time outside it; other inputs
    /// (another read key here) get their own verdict.
    #[test]
    fn openings_and_follower_verdicts_are_computed_once_inside_the_memo() {
        use crate::error::{Error, ErrorCode};
        use crate::id::Variant;
        use crate::keys::{FollowKey, ReadKey};
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let mut rng = ChaCha20Rng::seed_from_u64(123);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let log = crate::keys::IdentityKey::generate(&mut rng).log_id();
        let envelope = Envelope::of_size(40);
        let (read, other) = (ReadKey::generate(&mut rng), ReadKey::generate(&mut rng));
        let follow = FollowKey::generate(&mut rng);
        let failed = || Error::new(ErrorCode::HeaderDecryptFailed, "computed");
        let (mut opens, mut follows) = (0, 0);
        memoised(|| {
            for key in [&read, &read, &other, &read] {
                let _ = opened(&envelope, &thread, &log, key, || {
                    opens += 1;
                    Err(failed())
                });
            }
            for _ in 0..3 {
                let _ = follower(&envelope, &thread, &log, &follow, || {
                    follows += 1;
                    Err(failed())
                });
            }
        });
        assert_eq!((opens, follows), (2, 1), "once per distinct input");
        for _ in 0..2 {
            let _ = opened(&envelope, &thread, &log, &read, || {
                opens += 1;
                Err(failed())
            });
        }
        assert_eq!(opens, 4, "outside memoised nothing is remembered");
    }

    #[test]
    fn a_panic_inside_clears_the_memo() {
        let caught = std::panic::catch_unwind(|| memoised(|| panic!("boom")));
        assert!(caught.is_err());
        assert!(!active());
    }
}
