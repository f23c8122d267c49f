//! A bounded buffer holding the last lines an adapter wrote to its stderr, and the bounded line
//! reader it and the reply reader share: whatever an adapter writes, the harness holds at most a
//! bounded part of it ([HP-4], [HP-53]).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How many stderr lines are kept.
pub const KEPT_LINES: usize = 50;
/// Longer stderr lines are cut to this many characters.
const MAX_LINE_CHARS: usize = 500;
/// Bytes of one stderr line read into memory: enough for [`MAX_LINE_CHARS`] characters of UTF-8;
/// the rest of a longer line is read and dropped (a 2 GB line without an end was held whole).
const MAX_LINE_BYTES: usize = 4 * MAX_LINE_CHARS;

/// What [`read_bounded_line`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundedLine {
    /// The end of the stream: nothing more was read.
    End,
    /// A whole line (the last one may lack its line feed), without the line feed.
    Line,
    /// A line longer than the bound: its first `max` bytes were kept, and the rest is still
    /// unread.
    TooLong,
}

/// Reads one line into `line` (cleared first), keeping at most `max` bytes, so that a line
/// without an end never grows the buffer beyond the bound. Reads go through the standard
/// library's line search, fast even in a debug build.
pub fn read_bounded_line(
    reader: &mut impl BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<BoundedLine> {
    line.clear();
    // One byte more than allowed tells a line of exactly `max` bytes from a longer one.
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    if reader.by_ref().take(limit).read_until(b'\n', line)? == 0 {
        return Ok(BoundedLine::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(BoundedLine::Line);
    }
    if line.len() <= max {
        return Ok(BoundedLine::Line);
    }
    line.truncate(max);
    Ok(BoundedLine::TooLong)
}

/// Reads and drops the rest of a line, a bounded chunk at a time (forever, for a line without
/// an end: the stream is drained, as [HP-4] asks, in constant memory).
pub fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
    let mut chunk = Vec::new();
    loop {
        chunk.clear();
        let read = reader
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut chunk)?;
        if read == 0 || chunk.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

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
                match read_bounded_line(&mut reader, MAX_LINE_BYTES, &mut line) {
                    Ok(BoundedLine::End) | Err(_) => break,
                    Ok(BoundedLine::Line) => writer.push(&String::from_utf8_lossy(&line)),
                    Ok(BoundedLine::TooLong) => {
                        let skipped = skip_line(&mut reader);
                        writer.push(&String::from_utf8_lossy(&line));
                        if skipped.is_err() {
                            break;
                        }
                    }
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

    /// A stream of gigabytes in one line is read to its end, and only its start is kept.
    #[test]
    fn a_line_without_an_end_is_drained_and_cut() {
        let flood = io::repeat(b'x').take(2 << 30).chain(&b"\nafter\n"[..]);
        let tail = StderrTail::drain(flood);
        assert!(tail.wait_closed(Duration::from_secs(600)));
        let lines = tail.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), MAX_LINE_CHARS + 1);
        assert_eq!(lines[1], "after");
    }

    #[test]
    fn bounded_lines_keep_at_most_the_bound() {
        let mut reader = &b"abc\nabcd\nabcdef\nlast"[..];
        let mut line = Vec::new();
        let mut read = |reader: &mut &[u8]| {
            let what = read_bounded_line(reader, 4, &mut line).expect("read");
            (what, String::from_utf8_lossy(&line).into_owned())
        };
        assert_eq!(read(&mut reader), (BoundedLine::Line, "abc".into()));
        assert_eq!(read(&mut reader), (BoundedLine::Line, "abcd".into()));
        assert_eq!(read(&mut reader), (BoundedLine::TooLong, "abcd".into()));
        skip_line(&mut reader).expect("skip");
        assert_eq!(read(&mut reader), (BoundedLine::Line, "last".into()));
        assert_eq!(read(&mut reader), (BoundedLine::End, String::new()));
    }

    #[test]
    fn drains_a_stream_to_its_end() {
        let tail = StderrTail::drain(&b"one\ntwo\r\nthree"[..]);
        assert!(tail.wait_closed(Duration::from_secs(10)));
        assert_eq!(tail.lines(), ["one", "two", "three"]);
    }
}
