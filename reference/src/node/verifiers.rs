//! The node's verifier threads: the records of messages that have arrived are checked here, on
//! every core, while the event loop stores the messages before them [SYNC-31].
//!
//! The event loop hands each `records` message's [`AheadJob`] to a pool of threads and keeps the
//! message queued, in arrival order, until its verdicts are back; it then decides it with
//! [`crate::sync::Peer::handle_message_verified`]. The verdicts are those the peer would compute
//! itself, so nothing but the cores used changes: messages are still decided one at a time, in
//! the order they arrived, and stored before they are acknowledged [SYNC-12].

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::log::ahead::{AheadJob, AheadVerdicts};

/// A job and the number the event loop knows it by.
type Numbered<T> = (u64, T);

/// A pool of threads running [`AheadJob`]s, in the order given, each on whichever is free.
pub struct Verifiers {
    jobs: Option<std_mpsc::Sender<Numbered<AheadJob>>>,
    done: mpsc::UnboundedReceiver<Numbered<AheadVerdicts>>,
    threads: Vec<JoinHandle<()>>,
    /// Jobs given and not yet collected.
    out: usize,
}

impl Verifiers {
    /// `count` threads (at least one), named `verify-N`.
    pub fn start(count: usize) -> Verifiers {
        let (jobs, queue) = std_mpsc::channel::<Numbered<AheadJob>>();
        let (finished, done) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        let threads = (0..count.max(1))
            .filter_map(|n| {
                let queue = Arc::clone(&queue);
                let finished = finished.clone();
                std::thread::Builder::new()
                    .name(format!("verify-{n}"))
                    .spawn(move || work(&queue, &finished))
                    .ok()
            })
            .collect();
        Verifiers {
            jobs: Some(jobs),
            done,
            threads,
            out: 0,
        }
    }

    /// Queues `job` as number `id`; false when no thread is running to take it, and then the
    /// caller verifies inline.
    pub fn give(&mut self, id: u64, job: AheadJob) -> bool {
        let sent = !self.threads.is_empty()
            && self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send((id, job)).is_ok());
        self.out += usize::from(sent);
        sent
    }

    /// Jobs given and not yet collected.
    pub fn out(&self) -> usize {
        self.out
    }

    /// The next finished job's number and verdicts; waits forever when none is out.
    pub async fn next(&mut self) -> Numbered<AheadVerdicts> {
        if self.out == 0 {
            return std::future::pending().await;
        }
        match self.done.recv().await {
            Some(done) => {
                self.out -= 1;
                done
            }
            // Every thread exited: nothing more will come.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Verifiers {
    fn drop(&mut self) {
        // Closing the queue ends each thread after its current job.
        self.jobs.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One thread's loop: take a job, run it, send the verdicts back, until the queue closes.
fn work(
    queue: &Mutex<std_mpsc::Receiver<Numbered<AheadJob>>>,
    finished: &mpsc::UnboundedSender<Numbered<AheadVerdicts>>,
) {
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok((id, job)) = next else {
            return;
        };
        // The checks never panic on any input (the decoders are fuzzed); if one did, no verdict
        // comes from here and the peer checks those records itself when it decides them.
        let verdicts = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()))
            .unwrap_or_default();
        if finished.send((id, verdicts)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Variant;
    use crate::sync::Peer;

    /// Jobs come back numbered as given, each with one verdict per record; dropping the pool
    /// ends its threads.
    #[tokio::test(flavor = "current_thread")]
    async fn jobs_come_back_numbered_and_the_pool_stops_when_dropped() {
        let mut writer = Peer::from_seed([3; 32]);
        let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
        writer.append(1, &thread, b"one").expect("append");
        let envelopes = writer.envelopes(&thread, &log).expect("log").to_vec();
        let keys = writer.keys(&thread).expect("keys").clone();
        let mut pool = Verifiers::start(2);
        assert_eq!(pool.out(), 0);
        for id in 0..5 {
            let job = AheadJob::new(thread.clone(), log, keys.clone(), envelopes.clone());
            assert!(pool.give(id, job));
        }
        let mut ids = Vec::new();
        while pool.out() > 0 {
            let (id, verdicts) = pool.next().await;
            assert_eq!(verdicts.len(), 1);
            ids.push(id);
        }
        ids.sort_unstable();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        drop(pool);
    }
}
