//! Shrinking a failing run: delta debugging over what the command line can replay.
//!
//! A [`Reduction`] names the faults kept (by index in the scenario's schedule), the kinds of noise
//! switched off and the number of events; the shrinker removes faults (halves, then quarters, …,
//! then single faults, as in Zeller's ddmin), then switches off noise, then halves the events,
//! keeping each change only while the run still fails the same way. Every reduction is a
//! command line (`--faults`, `--quiet`, `--events`), so the reduced run replays exactly.

use crate::plan::Noise;

/// What is kept of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduction {
    /// Indices of the faults kept, in the scenario's schedule.
    pub keep: Vec<usize>,
    /// Noise switched off.
    pub quiet: Vec<Noise>,
    /// Events appended.
    pub events: u64,
}

/// The smallest reduction found, and how many runs it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The reduction.
    pub reduction: Reduction,
    /// Runs tried.
    pub runs: usize,
}

/// Shrinks `start` while `fails` says the reduced run still fails the same way; at most
/// `budget` runs.
pub fn shrink(
    start: Reduction,
    budget: usize,
    fails: &mut dyn FnMut(&Reduction) -> bool,
) -> Shrunk {
    let mut state = State {
        best: start,
        runs: 0,
        budget,
        fails,
    };
    state.drop_faults();
    state.silence();
    state.halve_events();
    // Less noise and fewer events can make more faults unnecessary.
    state.drop_faults();
    Shrunk {
        reduction: state.best,
        runs: state.runs,
    }
}

struct State<'a> {
    best: Reduction,
    runs: usize,
    budget: usize,
    fails: &'a mut dyn FnMut(&Reduction) -> bool,
}

impl State<'_> {
    /// Tries `candidate`; keeps it if the run still fails.
    fn attempt(&mut self, candidate: Reduction) -> bool {
        if self.runs >= self.budget || candidate == self.best {
            return false;
        }
        self.runs += 1;
        let still = (self.fails)(&candidate);
        if still {
            self.best = candidate;
        }
        still
    }

    /// ddmin over the kept faults: try removing each chunk, halving the chunk size when no
    /// chunk can go.
    fn drop_faults(&mut self) {
        let mut chunk = self.best.keep.len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < self.best.keep.len() {
                let mut candidate = self.best.clone();
                let end = (start + chunk).min(candidate.keep.len());
                candidate.keep.drain(start..end);
                if !self.attempt(candidate) {
                    start += chunk;
                }
            }
            if chunk == 1 {
                return;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    fn silence(&mut self) {
        for noise in Noise::ALL {
            if !self.best.quiet.contains(&noise) {
                let mut candidate = self.best.clone();
                candidate.quiet.push(noise);
                candidate.quiet.sort();
                self.attempt(candidate);
            }
        }
    }

    fn halve_events(&mut self) {
        while self.best.events > 1 {
            let mut candidate = self.best.clone();
            candidate.events /= 2;
            if !self.attempt(candidate) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_two_faults_that_matter() {
        let start = Reduction {
            keep: (0..10).collect(),
            quiet: Vec::new(),
            events: 64,
        };
        // Fails when faults 3 and 7 are both kept, tampering is on and there are 5+ events.
        let mut fails = |r: &Reduction| {
            r.keep.contains(&3)
                && r.keep.contains(&7)
                && !r.quiet.contains(&Noise::Tamper)
                && r.events >= 5
        };
        let shrunk = shrink(start, 200, &mut fails);
        assert_eq!(shrunk.reduction.keep, vec![3, 7]);
        assert_eq!(shrunk.reduction.events, 8);
        assert_eq!(
            shrunk.reduction.quiet,
            vec![Noise::Loss, Noise::Dup, Noise::Jitter, Noise::Drift]
        );
    }
}
