//! The progress line on a terminal: `\r`, the group and its counts, on stderr.

use std::io::{self, Write};

use super::results::GroupResult;

/// Shows progress on stderr when it is a terminal; does nothing otherwise.
#[derive(Debug, Default)]
pub struct Progress {
    enabled: bool,
    width: usize,
}

impl Progress {
    /// A progress line, shown only if `enabled`.
    pub fn new(enabled: bool) -> Progress {
        Progress { enabled, width: 0 }
    }

    /// Shows a group's counts so far out of `total` selected cases.
    pub fn update(&mut self, group: &GroupResult, total: usize) {
        if !self.enabled {
            return;
        }
        let counts = group.counts();
        let done = counts.passed + counts.failed + counts.skipped;
        let line = format!(
            "{} {}: {done}/{total} (passed {}, failed {}, skipped {})",
            group.kind.label(),
            group.name,
            counts.passed,
            counts.failed,
            counts.skipped
        );
        self.show(&line);
    }

    /// Erases the progress line.
    pub fn clear(&mut self) {
        if self.enabled && self.width > 0 {
            self.show("");
            eprint!("\r");
            self.width = 0;
        }
    }

    fn show(&mut self, line: &str) {
        let len = line.chars().count();
        let pad = self.width.saturating_sub(len);
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{line}{}", " ".repeat(pad));
        let _ = err.flush();
        self.width = len;
    }
}
