//! `threads-conform bench`: an implementation's sync throughput through its adapter, beside the
//! bundled reference's measured in the same run [HP-94].
//!
//! Each measurement is one adapter process with three nodes: a writer appends `records` events
//! (timed: the append rate), then a follower and afterwards a reader join by invite and ingest the
//! whole log through `node.collect` and `node.deliver` (each timed from the accepted invite until
//! its heads equal the writer's). The rates include the harness protocol's JSON and hex on both
//! sides, which is the same for every implementation, so the ratio between two implementations is
//! what the figure is for, not the absolute rate (`benches/` measures the reference without the
//! adapter in between).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use threads::id::Variant;
use threads::invite::InviteRole;

use super::driver::{Driver, StepError};
use super::scenario::{accept, append, export_invite, heads, seed};
use super::session::Session;
use crate::protocol::{Call, ThreadCreate, ThreadCreated};

/// Default number of events.
pub const DEFAULT_RECORDS: u64 = 2_000;

/// Default body size in bytes: the 1 KiB events of issue 14's workload.
pub const DEFAULT_BODY: usize = 1024;

/// Most events one measurement may ask for: the adapter holds them all in memory.
pub const MAX_RECORDS: u64 = 1_000_000;

/// Most bytes of one body: the reference's body limit is far above it, and a larger body is
/// not what sync throughput is about.
pub const MAX_BODY: usize = 64 * 1024;

/// Pump calls without progress after which a node is declared stuck.
const STALLED_PUMPS: usize = 3;

/// What one implementation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// `implementation version` from its `hello`.
    pub implementation: String,
    /// Events appended per second by the writer (`log.append`, one request each).
    pub append: f64,
    /// Events per second a fresh follower ingested.
    pub follower: f64,
    /// Events per second a fresh reader ingested.
    pub reader: f64,
}

impl Rates {
    /// The rates as JSON.
    pub fn json(&self) -> Value {
        json!({
            "implementation": self.implementation,
            "appendPerSecond": self.append,
            "followerPerSecond": self.follower,
            "readerPerSecond": self.reader,
        })
    }
}

/// Measures the adapter `command` with `records` events of `body` bytes; `Err` says what went
/// wrong (the adapter lacks `"nodes"`, a step failed, a node never caught up).
pub fn measure(
    command: &[String],
    records: u64,
    body: usize,
    timeout: Duration,
) -> Result<Rates, String> {
    if !(1..=MAX_RECORDS).contains(&records) || !(1..=MAX_BODY).contains(&body) {
        return Err(format!(
            "bench: --records must be 1 to {MAX_RECORDS} and --body 1 to {MAX_BODY} bytes"
        ));
    }
    let mut session = Session::start(command, timeout)?;
    let hello = session.hello().clone();
    let implementation = format!("{} {}", hello.implementation, hello.version);
    if !hello.scenarios.contains("nodes") {
        return Err(format!(
            "{implementation} does not list the scenario feature \"nodes\", which bench needs"
        ));
    }
    session.ready().map_err(|f| f.to_string())?;
    let rates = {
        let mut driver = Driver::new(&mut session);
        run(&mut driver, records, body).map_err(|e| e.to_string())?
    };
    let _ = session.shutdown();
    Ok(Rates {
        implementation,
        ..rates
    })
}

fn run(d: &mut Driver, records: u64, body: usize) -> Result<Rates, StepError> {
    for node in ["writer", "follower", "reader"] {
        d.create(node, seed("bench", node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: "writer".into(),
        variant: Variant::Raw,
        time: d.now(),
    }))?;
    let thread = created.thread;
    let started = Instant::now();
    for seq in 1..=records {
        // Distinct bodies, so that no implementation can shortcut identical ones.
        let mut bytes = seq.to_be_bytes().repeat(body.div_ceil(8));
        bytes.truncate(body);
        append(d, "writer", &thread, &bytes)?;
    }
    let append_rate = per_second(records, started.elapsed());
    let want = heads(d, "writer", &thread)?.logs;
    let ingest = |d: &mut Driver, node: &str, role: InviteRole| {
        let invite = export_invite(d, "writer", &thread, role, node)?;
        let started = Instant::now();
        accept(d, node, invite)?;
        catch_up(d, node, &thread, &want)?;
        Ok::<f64, StepError>(per_second(records, started.elapsed()))
    };
    let follower = ingest(d, "follower", InviteRole::Follower)?;
    let reader = ingest(d, "reader", InviteRole::Reader)?;
    Ok(Rates {
        implementation: String::new(),
        append: append_rate,
        follower,
        reader,
    })
}

/// Pumps until `node` holds what the writer holds; an error when it stops making progress.
fn catch_up(
    d: &mut Driver,
    node: &str,
    thread: &str,
    want: &std::collections::BTreeMap<String, crate::protocol::Head>,
) -> Result<(), StepError> {
    let mut stalled = 0;
    let mut last = None;
    loop {
        d.pump()?;
        let held = heads(d, node, thread)?.logs;
        if held == *want {
            return Ok(());
        }
        let counters: Vec<u64> = held.values().map(|h| h.counter).collect();
        if last.as_ref() == Some(&counters) {
            stalled += 1;
            if stalled >= STALLED_PUMPS {
                return Err(StepError::new(
                    &format!("catching up on {node}"),
                    format!(
                        "no progress after {STALLED_PUMPS} pumps: it holds counters {counters:?}, \
                         the writer {:?}",
                        want.values().map(|h| h.counter).collect::<Vec<_>>()
                    ),
                ));
            }
        } else {
            stalled = 0;
        }
        last = Some(counters);
    }
}

fn per_second(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The median of each rate over several measurements of one implementation (the rates of a
/// loaded machine vary by tens of percent from one run to the next).
pub fn median(runs: &[Rates]) -> Option<Rates> {
    let first = runs.first()?;
    let middle = |rate: fn(&Rates) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(rate).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Some(Rates {
        implementation: first.implementation.clone(),
        append: middle(|r| r.append),
        follower: middle(|r| r.follower),
        reader: middle(|r| r.reader),
    })
}

/// A row of the table: what it shows, and the rate it reads.
type Row = (&'static str, fn(&Rates) -> f64);

/// The table `bench` prints: each implementation's rates, and with two, their ratio.
pub fn render(
    reference: &Rates,
    other: Option<&Rates>,
    records: u64,
    body: usize,
    repeats: usize,
) -> String {
    let mut out = format!(
        "{records} events of {body} bytes through the harness protocol (node methods); \
         the median of {repeats} measurement(s) each, the implementations taking turns\n\n"
    );
    let rows: [Row; 3] = [
        ("writer appends (log.append)", |r| r.append),
        ("a fresh follower catches up", |r| r.follower),
        ("a fresh reader catches up", |r| r.reader),
    ];
    match other {
        None => {
            out += &format!("events/s: {}\n", reference.implementation);
            for (what, rate) in rows {
                out += &format!("{what:<30} {:>10.0}\n", rate(reference));
            }
        }
        Some(other) => {
            out += &format!(
                "events/s: A = {}, B = {} (the reference)\n{:<30} {:>10} {:>10} {:>8}\n",
                other.implementation, reference.implementation, "", "A", "B", "A/B"
            );
            for (what, rate) in rows {
                out += &format!(
                    "{what:<30} {:>10.0} {:>10.0} {:>7.2}x\n",
                    rate(other),
                    rate(reference),
                    rate(other) / rate(reference).max(1e-9)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_sizes_are_refused_before_anything_starts() {
        let nothing = ["/nonexistent-adapter".to_string()];
        for (records, body) in [(0, 10), (MAX_RECORDS + 1, 10), (10, 0), (10, MAX_BODY + 1)] {
            let e = measure(&nothing, records, body, Duration::from_secs(1)).unwrap_err();
            assert!(e.contains("--records"), "{e}");
        }
    }

    #[test]
    fn the_median_is_taken_per_rate() {
        let r = |a: f64, f: f64| Rates {
            implementation: "x".into(),
            append: a,
            follower: f,
            reader: 1.0,
        };
        let m = median(&[r(1.0, 30.0), r(3.0, 10.0), r(2.0, 20.0)]).expect("three runs");
        assert_eq!((m.append, m.follower, m.reader), (2.0, 20.0, 1.0));
        assert!(median(&[]).is_none());
    }

    #[test]
    fn the_table_shows_both_rates_and_their_ratio() {
        let r = |name: &str, x: f64| Rates {
            implementation: name.into(),
            append: x,
            follower: 2.0 * x,
            reader: 4.0 * x,
        };
        let text = render(&r("ref 1", 100.0), Some(&r("other 2", 50.0)), 10, 8, 1);
        assert!(text.contains("a fresh follower catches up"), "{text}");
        assert!(text.contains("0.50x"), "{text}");
        assert!(text.contains("other 2") && text.contains("ref 1"), "{text}");
    }
}
