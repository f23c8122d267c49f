//! The human-readable report: a table per suite and scenario, then every failure.

use std::fmt::Write;

use super::results::{CaseResult, GroupResult, RunReport, Status};

/// Hex runs longer than this are shortened in the text report.
pub const MAX_HEX: usize = 120;

/// The whole text report.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} {} (adapter `{}`{})",
        super::results::HARNESS,
        report.implementation,
        report.version,
        shell_words::join(&report.command),
        match report.restarts {
            0 => String::new(),
            n => format!(", restarted {n} time(s)"),
        }
    );
    let v = &report.vectors;
    let _ = writeln!(
        out,
        "vectors: {} (spec {}, suites {}), {} files, MANIFEST sha256 {}\n{}",
        v.source,
        threads_vectors::format::SPEC_VERSION,
        threads_vectors::format::SUITES_VERSION,
        v.verified.files,
        v.verified.manifest_sha256,
        v.verified.key_line()
    );
    table(&mut out, report);
    skips_and_notes(&mut out, report);
    failures(&mut out, report);
    let c = report.counts();
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped",
        c.passed, c.failed, c.skipped
    );
    out
}

fn table(out: &mut String, report: &RunReport) {
    let width = report
        .groups
        .iter()
        .map(|g| g.kind.label().len() + 1 + g.name.len())
        .chain([5])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>7}  {:>7}  {:>7}",
        "", "passed", "failed", "skipped"
    );
    for group in &report.groups {
        let c = group.counts();
        let name = format!("{} {}", group.kind.label(), group.name);
        let _ = writeln!(
            out,
            "{name:<width$}  {:>7}  {:>7}  {:>7}",
            c.passed, c.failed, c.skipped
        );
    }
    let c = report.counts();
    let _ = writeln!(
        out,
        "{:<width$}  {:>7}  {:>7}  {:>7}",
        "total", c.passed, c.failed, c.skipped
    );
}

fn skips_and_notes(out: &mut String, report: &RunReport) {
    for group in &report.groups {
        let label = group.kind.label();
        if let Some(reason) = &group.skipped {
            let _ = writeln!(out, "\nSKIPPED {label} {}: {reason}", group.name);
        }
        for note in &group.notes {
            let _ = writeln!(out, "\nNOTE {label} {}: {note}", group.name);
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nNOTE {note}");
    }
}

fn failures(out: &mut String, report: &RunReport) {
    for group in &report.groups {
        for case in &group.cases {
            if let Status::Failed(_) = case.status {
                failure(out, group, case);
            }
        }
    }
}

fn failure(out: &mut String, group: &GroupResult, case: &CaseResult) {
    let Status::Failed(f) = &case.status else {
        return;
    };
    let id = match group.kind {
        super::results::GroupKind::Suite => format!("tcId {}", case.id),
        super::results::GroupKind::Scenario => format!("check {}", case.id),
    };
    let note = f
        .note
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\nFAIL{note} {} {} {id} [{}] flags [{}]",
        group.kind.label(),
        group.name,
        case.spec_section,
        case.reported_flags().join(", ")
    );
    let _ = writeln!(out, "  comment:  {}", case.comment);
    let _ = writeln!(out, "  expected: {}", shorten_hex(&f.expected, MAX_HEX));
    let _ = writeln!(out, "  actual:   {}", shorten_hex(&f.actual, MAX_HEX));
    if !f.stderr.is_empty() {
        let _ = writeln!(out, "  adapter stderr (last {} lines):", f.stderr.len());
        for line in &f.stderr {
            let _ = writeln!(out, "    | {line}");
        }
    }
}

/// Shortens every run of more than `max` hex digits to its first `max` digits, `…` and the
/// run's full length.
pub fn shorten_hex(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() > max {
            let _ = write!(out, "{}…({} hex digits)", &run[..max], run.len());
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_hexdigit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

// The whole report's format is snapshotted in tests/reports.rs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hex_is_shortened_and_short_text_kept() {
        let long = "ab".repeat(100);
        let text = format!("valid: {{\"bytes\":\"{long}\",\"seq\":12}}");
        let short = shorten_hex(&text, 120);
        assert!(
            short.contains(&format!("{}…(200 hex digits)", &long[..120])),
            "{short}"
        );
        assert!(short.ends_with("\",\"seq\":12}"));
        assert_eq!(
            shorten_hex("TID_SHORT_RANDOM deadbeef", 120),
            "TID_SHORT_RANDOM deadbeef"
        );
    }
}
