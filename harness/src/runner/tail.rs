//! A bounded buffer holding the last lines an adapter wrote to its stderr.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How many stderr lines are kept.
pub const KEPT_LINES: usize = 50;
/// Longer stderr lines are cut to this many characters.
const MAX_LINE_CHARS: usize = 500;

/// The last [`KEPT_LINES`] lines of an adapter's stderr, filled by a background thread.
///
/// Cloning shares the buffer.
#[derive(Debug, Clone, Default)]
pub struct StderrTail {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    lines: VecDeque<String>,
    /// How many lines were ever pushed; numbers the lines for [`StderrTail::since`].
    total: u64,
    /// Whether the stream ended.
    closed: bool,
}

impl StderrTail {
    /// Starts a thread that drains `stream` line by line into a new buffer.
    pub fn drain(stream: impl Read + Send + 'static) -> StderrTail {
        let tail = StderrTail::default();
        let writer = tail.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => writer.push(&String::from_utf8_lossy(&line)),
                }
            }
            writer.lock().closed = true;
        });
        tail
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the buffer inconsistent: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends one line (its line ending removed, cut to a bounded length).
    pub fn push(&self, line: &str) {
        let line = line.trim_end_matches(['\n', '\r']);
        let line = match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        };
        let mut inner = self.lock();
        if inner.lines.len() == KEPT_LINES {
            inner.lines.pop_front();
        }
        inner.lines.push_back(line);
        inner.total += 1;
    }

    /// A position in the stream: [`StderrTail::since`] returns the lines written after it.
    pub fn mark(&self) -> u64 {
        self.lock().total
    }

    /// The kept lines written after `mark`.
    pub fn since(&self, mark: u64) -> Vec<String> {
        let inner = self.lock();
        let first_kept = inner.total - inner.lines.len() as u64;
        let skip = mark.saturating_sub(first_kept) as usize;
        inner.lines.iter().skip(skip).cloned().collect()
    }

    /// Every kept line.
    pub fn lines(&self) -> Vec<String> {
        self.since(0)
    }

    /// Waits until the stream has ended, at most `limit`; returns whether it did.
    pub fn wait_closed(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while !self.lock().closed {
            if start.elapsed() >= limit {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_lines() {
        let tail = StderrTail::default();
        for i in 0..(KEPT_LINES + 7) {
            tail.push(&format!("line {i}\n"));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), KEPT_LINES);
        assert_eq!(lines[0], "line 7");
        assert_eq!(lines.last().map(String::as_str), Some("line 56"));
    }

    #[test]
    fn since_returns_lines_after_a_mark() {
        let tail = StderrTail::default();
        tail.push("before");
        let mark = tail.mark();
        tail.push("after 1");
        tail.push("after 2");
        assert_eq!(tail.since(mark), ["after 1", "after 2"]);
        assert!(tail.since(tail.mark()).is_empty());
    }

    #[test]
    fn long_lines_are_cut() {
        let tail = StderrTail::default();
        tail.push(&"é".repeat(2 * MAX_LINE_CHARS));
        assert_eq!(tail.lines()[0].chars().count(), MAX_LINE_CHARS + 1);
    }

    #[test]
    fn drains_a_stream_to_its_end() {
        let tail = StderrTail::drain(&b"one\ntwo\r\nthree"[..]);
        assert!(tail.wait_closed(Duration::from_secs(10)));
        assert_eq!(tail.lines(), ["one", "two", "three"]);
    }
}
