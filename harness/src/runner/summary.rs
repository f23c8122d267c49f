//! The human-readable report: a table per suite and scenario, then every failure.

use std::fmt::Write;

use serde_json::Value;

use super::results::{CaseResult, GroupKind, GroupResult, RunReport, Status, Verdict};

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
    not_run(&mut out, &report.verdict());
    out
}

/// Prints [`not_run`]'s lines on standard output.
pub fn print_not_run(verdict: &Verdict) {
    let mut out = String::new();
    not_run(&mut out, verdict);
    print!("{out}");
}

/// Why a run that failed no case still ends with status 3 [HP-84].
pub fn not_run(out: &mut String, verdict: &Verdict) {
    if let Verdict::NotRun(why) = verdict {
        for reason in why {
            let _ = writeln!(out, "NOT RUN (exit status 3): {reason}");
        }
    }
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
        skipped(out, group);
        for note in &group.notes {
            let _ = writeln!(out, "\nNOTE {label} {}: {note}", group.name);
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "\nNOTE {note}");
    }
}

/// A group's skipped cases [HP-83]: one line when one reason covers them, else the reason of
/// each run of cases.
fn skipped(out: &mut String, group: &GroupResult) {
    let skips = group.skips();
    let count: usize = skips.iter().map(|(_, ids)| ids.len()).sum();
    let total = group.cases.len();
    let unit = match group.kind {
        GroupKind::Suite => "cases",
        GroupKind::Scenario => "checks",
        GroupKind::Liveness => "runs",
    };
    let which = if count == total {
        format!("all {total} {unit}")
    } else {
        format!("{count} of {total} {unit}")
    };
    let label = format!("SKIPPED {} {} ({which})", group.kind.label(), group.name);
    match &skips[..] {
        [] => {}
        [(reason, _)] if count == total || group.kind != GroupKind::Suite => {
            let _ = writeln!(out, "\n{label}: {reason}");
        }
        _ => {
            let _ = writeln!(out, "\n{label}:");
            for (reason, ids) in &skips {
                let which = match group.kind {
                    GroupKind::Suite => format!("tcId {}", ranges(ids)),
                    _ => ids.join(", "),
                };
                let _ = writeln!(out, "  {which}: {reason}");
            }
        }
    }
}

fn failures(out: &mut String, report: &RunReport) {
    for group in &report.groups {
        for case in &group.cases {
            if let Status::Failed(_) = case.status {
                failure(out, report, group, case);
            }
        }
    }
}

fn failure(out: &mut String, report: &RunReport, group: &GroupResult, case: &CaseResult) {
    let Status::Failed(f) = &case.status else {
        return;
    };
    let id = group.case_label(case);
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
    let _ = writeln!(
        out,
        "  spec:     {} {}",
        case.spec_section,
        super::links::spec_url(&case.spec_section)
    );
    let _ = writeln!(out, "  case:     {} {id}", group.source());
    if let Some(inputs) = &f.inputs {
        let _ = writeln!(out, "  inputs:   {}", compact(inputs));
    }
    let _ = writeln!(out, "  expected: {}", shorten_hex(&f.expected, MAX_HEX));
    let _ = writeln!(out, "  actual:   {}", shorten_hex(&f.actual, MAX_HEX));
    if !f.diff.is_empty() {
        let _ = writeln!(out, "  diff (expected → actual):");
        for line in &f.diff {
            let _ = writeln!(out, "    {}", shorten_hex(line, MAX_HEX));
        }
    }
    let _ = writeln!(out, "  rerun:    {}", report.rerun_command(group, case));
    if !f.stderr.is_empty() {
        let _ = writeln!(out, "  adapter stderr (last {} lines):", f.stderr.len());
        for line in &f.stderr {
            let _ = writeln!(out, "    | {line}");
        }
    }
}

/// The text report's inputs are cut to this many characters; the JSON report has them whole.
pub const MAX_INPUTS: usize = 1000;

/// A case's inputs on one line: long hex shortened, the whole cut to [`MAX_INPUTS`] characters.
pub fn compact(inputs: &Value) -> String {
    let text = shorten_hex(&inputs.to_string(), MAX_HEX);
    match text.char_indices().nth(MAX_INPUTS) {
        Some((cut, _)) => format!(
            "{}… (cut; the whole inputs are in the --json report and the suite file)",
            &text[..cut]
        ),
        None => text,
    }
}

/// Numeric ids as ranges (`1-12, 15, 20-21`); other ids as they are.
pub fn ranges(ids: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    let flush = |run: &mut Option<(u64, u64)>, parts: &mut Vec<String>| {
        if let Some((first, last)) = run.take() {
            parts.push(if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            });
        }
    };
    for id in ids {
        match (id.parse::<u64>(), run) {
            (Ok(n), Some((first, last))) if n == last + 1 => run = Some((first, n)),
            (Ok(n), _) => {
                flush(&mut run, &mut parts);
                run = Some((n, n));
            }
            (Err(_), _) => {
                flush(&mut run, &mut parts);
                parts.push(id.clone());
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.join(", ")
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
    fn ids_read_as_ranges() {
        let ids: Vec<String> = ["1", "2", "3", "5", "7", "8", "x"]
            .map(String::from)
            .to_vec();
        assert_eq!(ranges(&ids), "1-3, 5, 7-8, x");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn inputs_are_compact() {
        let inputs =
            serde_json::json!({"text": "ab".repeat(100), "list": vec!["cd".repeat(600); 12]});
        let shown = compact(&inputs);
        assert!(shown.contains("…(1200 hex digits)"), "{shown}");
        assert!(shown.ends_with("suite file)"), "{shown}");
        assert!(shown.chars().count() < MAX_INPUTS + 100);
    }

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
