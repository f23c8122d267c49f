//! The run as one self-contained web page (`--html DIR` writes `DIR/index.html`): per suite and
//! scenario, per requirement tag, every skip with its reason, and every failure expanded with its
//! inputs, the difference between expected and actual, the link to its spec section and the
//! command that reruns it [HP-85]. Several implementations get a side-by-side matrix first.
//!
//! The page loads nothing: its style is inline and it has no script, image or font, so it can be
//! archived as a CI artifact and opened anywhere. Its only links are to the specification.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::links::spec_url;
use super::matrix;
use super::results::{CaseResult, Counts, GroupKind, GroupResult, RunReport, Status, Verdict};
use super::summary::{MAX_HEX, shorten_hex};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}\
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
h3{font-size:1.05em}table{border-collapse:collapse;margin:.5em 0}\
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{background:#e6f4e6}.fail{background:#fbe3e3}.skip{background:#f3f3f3}\
.banner{padding:.5em 1em;border-radius:4px;font-weight:bold}\
pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:20em;white-space:pre-wrap;\
word-break:break-all}details{margin:.5em 0;border:1px solid #e0b4b4;border-radius:4px;\
padding:.3em .8em}summary{cursor:pointer;font-weight:bold}dt{font-weight:bold}dd{margin:0 0 .4em 1em}";

/// The page for one run, or for several implementations with their matrix first.
pub fn render(reports: &[RunReport]) -> String {
    let mut out = String::new();
    let title = match reports {
        [one] => format!(
            "{} — {} {}",
            super::results::HARNESS,
            one.implementation,
            one.version
        ),
        _ => format!(
            "{} — {} implementations",
            super::results::HARNESS,
            reports.len()
        ),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    if reports.len() > 1 {
        matrix_table(&mut out, reports);
    }
    for (i, report) in reports.iter().enumerate() {
        run(&mut out, report, i, reports.len() > 1);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn matrix_table(out: &mut String, reports: &[RunReport]) {
    out.push_str("<h2>Side by side</h2>\n<table>\n<tr><th></th>");
    for (i, column) in matrix::columns(reports).iter().enumerate() {
        let _ = write!(out, "<th><a href=\"#run-{i}\">{}</a></th>", escape(column));
    }
    out.push_str("</tr>\n");
    for row in matrix::rows(reports) {
        let _ = write!(out, "<tr><th>{}</th>", escape(&row.label));
        for counts in row.cells {
            let _ = write!(
                out,
                "<td class=\"n {}\">{}</td>",
                class(counts),
                matrix::cell(counts)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("<tr><th>exit status</th>");
    for report in reports {
        let verdict = report.verdict();
        let _ = write!(
            out,
            "<td class=\"n {}\">{}</td>",
            verdict_class(&verdict),
            verdict.exit_status()
        );
    }
    out.push_str("</tr>\n</table>\n<p>Cells: passed/failed/skipped.</p>\n");
}

fn class(counts: Option<Counts>) -> &'static str {
    match counts {
        Some(c) if c.failed > 0 => "fail",
        Some(c) if c.passed > 0 => "pass",
        _ => "skip",
    }
}

fn verdict_class(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "pass",
        Verdict::Failed => "fail",
        Verdict::NotRun(_) => "skip",
    }
}

fn run(out: &mut String, report: &RunReport, index: usize, several: bool) {
    if several {
        let _ = writeln!(
            out,
            "<h2 id=\"run-{index}\">{} {}</h2>",
            escape(&report.implementation),
            escape(&report.version)
        );
    }
    let v = &report.vectors;
    let _ = writeln!(
        out,
        "<dl>\n<dt>adapter</dt><dd><code>{}</code></dd>\n<dt>implementation</dt><dd>{} {}</dd>\n\
         <dt>vectors</dt><dd>{} ({} files), MANIFEST sha256 <code>{}</code>, {}</dd>\n\
         <dt>restarts</dt><dd>{}</dd>\n</dl>",
        escape(&shell_words::join(&report.command)),
        escape(&report.implementation),
        escape(&report.version),
        escape(&v.source),
        v.verified.files,
        escape(&v.verified.manifest_sha256),
        escape(&v.verified.key_line()),
        report.restarts
    );
    banner(out, report);
    groups_table(out, report);
    tags_table(out, report);
    skips(out, report);
    notes(out, report);
    failures(out, report);
}

fn banner(out: &mut String, report: &RunReport) {
    let c = report.counts();
    let verdict = report.verdict();
    let _ = writeln!(
        out,
        "<p class=\"banner {}\">exit status {}: {} passed, {} failed, {} skipped</p>",
        verdict_class(&verdict),
        verdict.exit_status(),
        c.passed,
        c.failed,
        c.skipped
    );
    if let Verdict::NotRun(why) = &verdict {
        out.push_str("<ul>\n");
        for reason in why {
            let _ = writeln!(out, "<li>not run: {}</li>", escape(reason));
        }
        out.push_str("</ul>\n");
    }
}

fn counts_cells(out: &mut String, c: Counts) {
    let _ = write!(
        out,
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        c.passed, c.failed, c.skipped
    );
}

fn groups_table(out: &mut String, report: &RunReport) {
    out.push_str(
        "<h3>Suites and scenarios</h3>\n<table>\n\
         <tr><th>suite or scenario</th><th>passed</th><th>failed</th><th>skipped</th></tr>\n",
    );
    for group in &report.groups {
        let c = group.counts();
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{} {}</td>",
            class(Some(c)),
            group.kind.label(),
            escape(&group.name)
        );
        counts_cells(out, c);
        out.push_str("</tr>\n");
    }
    out.push_str("<tr><th>total</th>");
    counts_cells(out, report.counts());
    out.push_str("</tr>\n</table>\n");
}

fn tags_table(out: &mut String, report: &RunReport) {
    let mut tags: BTreeMap<(String, u64), Counts> = BTreeMap::new();
    for case in report.groups.iter().flat_map(|g| &g.cases) {
        let (area, number) = case
            .spec_section
            .split_once('-')
            .unwrap_or((&case.spec_section, ""));
        let key = (area.to_string(), number.parse().unwrap_or(0));
        let counts = tags.entry(key).or_default();
        match case.status {
            Status::Passed => counts.passed += 1,
            Status::Failed(_) => counts.failed += 1,
            Status::Skipped(_) => counts.skipped += 1,
        }
    }
    out.push_str(
        "<h3>Requirements</h3>\n<table>\n\
         <tr><th>tag</th><th>passed</th><th>failed</th><th>skipped</th></tr>\n",
    );
    for ((area, number), c) in tags {
        let tag = format!("{area}-{number}");
        let _ = write!(
            out,
            "<tr class=\"{}\"><td><a href=\"{}\">{}</a></td>",
            class(Some(c)),
            escape(&spec_url(&tag)),
            escape(&tag)
        );
        counts_cells(out, c);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn skips(out: &mut String, report: &RunReport) {
    if report.counts().skipped == 0 {
        return;
    }
    out.push_str("<h3>Skipped</h3>\n<ul>\n");
    for group in &report.groups {
        let reasons = group.skips();
        for (reason, ids) in reasons {
            let which = match group.kind {
                GroupKind::Suite => format!("tcId {}", super::summary::ranges(&ids)),
                GroupKind::Scenario => format!("{} check(s)", ids.len()),
                GroupKind::Liveness => format!("{} run(s)", ids.len()),
            };
            let _ = writeln!(
                out,
                "<li>{} {} ({}): {}</li>",
                group.kind.label(),
                escape(&group.name),
                escape(&which),
                escape(reason.as_str())
            );
        }
    }
    out.push_str("</ul>\n");
}

fn notes(out: &mut String, report: &RunReport) {
    let mut all: Vec<String> = Vec::new();
    for group in &report.groups {
        for note in &group.notes {
            all.push(format!("{} {}: {note}", group.kind.label(), group.name));
        }
    }
    all.extend(report.notes.iter().cloned());
    if all.is_empty() {
        return;
    }
    out.push_str("<h3>Notes</h3>\n<ul>\n");
    for note in all {
        let _ = writeln!(out, "<li>{}</li>", escape(&note));
    }
    out.push_str("</ul>\n");
}

fn failures(out: &mut String, report: &RunReport) {
    let failed: Vec<(&GroupResult, &CaseResult)> = report
        .groups
        .iter()
        .flat_map(|g| g.cases.iter().map(move |c| (g, c)))
        .filter(|(_, c)| matches!(c.status, Status::Failed(_)))
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h3>Failures ({})</h3>", failed.len());
    for (group, case) in failed {
        failure(out, report, group, case);
    }
}

fn failure(out: &mut String, report: &RunReport, group: &GroupResult, case: &CaseResult) {
    let Status::Failed(f) = &case.status else {
        return;
    };
    let flags = case.reported_flags();
    let _ = writeln!(
        out,
        "<details open>\n<summary>{} {} {} [{}]{}</summary>\n<dl>",
        group.kind.label(),
        escape(&group.name),
        escape(&group.case_label(case)),
        escape(&case.spec_section),
        if flags.is_empty() {
            String::new()
        } else {
            format!(" flags {}", escape(&flags.join(", ")))
        }
    );
    let mut item = |term: &str, body: String| {
        let _ = writeln!(out, "<dt>{term}</dt><dd>{body}</dd>");
    };
    item("comment", escape(&case.comment));
    item(
        "spec",
        format!(
            "<a href=\"{}\">{}</a>",
            escape(&spec_url(&case.spec_section)),
            escape(&case.spec_section)
        ),
    );
    item(
        "case",
        format!(
            "{} {}",
            escape(&group.source()),
            escape(&group.case_label(case))
        ),
    );
    if let Some(inputs) = &f.inputs {
        let pretty = serde_json::to_string_pretty(inputs).unwrap_or_default();
        item("inputs", pre(&pretty));
    }
    item("expected", pre(&shorten_hex(&f.expected, MAX_HEX)));
    item("actual", pre(&shorten_hex(&f.actual, MAX_HEX)));
    if !f.diff.is_empty() {
        item(
            "diff (expected → actual)",
            pre(&shorten_hex(&f.diff.join("\n"), MAX_HEX)),
        );
    }
    item("rerun", pre(&report.rerun_command(group, case)));
    if !f.stderr.is_empty() {
        item("adapter stderr", pre(&f.stderr.join("\n")));
    }
    out.push_str("</dl>\n</details>\n");
}

fn pre(text: &str) -> String {
    format!("<pre>{}</pre>", escape(text))
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

// The whole page is snapshotted, and checked for balance and self-containment, in
// tests/reports.rs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{1}b\nc"), "a\u{FFFD}b\nc");
    }
}
