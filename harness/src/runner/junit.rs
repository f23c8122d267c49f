//! The JUnit XML report (`--junit`): one `<testsuite>` per suite or scenario, one `<testcase>` per
//! vector and per live check, `<failure>` or `<skipped/>` inside. A test case's `classname` is the
//! spec tag it checks (`TID-4`), so CI viewers that group by class group by requirement.

use std::fmt::Write;

use super::results::{CaseResult, GroupKind, GroupResult, RunReport, Status};
use super::summary::{MAX_HEX, shorten_hex};

/// The report as a JUnit XML document.
pub fn render(report: &RunReport) -> String {
    render_all(std::slice::from_ref(report))
}

/// Several implementations' reports as one JUnit XML document: each `<testsuite>` is named
/// `<implementation> <version>: <suite>` when there is more than one.
pub fn render_all(reports: &[RunReport]) -> String {
    let mut c = super::results::Counts::default();
    for counts in reports.iter().map(RunReport::counts) {
        c.passed += counts.passed;
        c.failed += counts.failed;
        c.skipped += counts.skipped;
    }
    let name = match reports {
        [report] => format!(
            "{} {} {}",
            super::results::HARNESS,
            report.implementation,
            report.version
        ),
        _ => format!(
            "{} ({} implementations)",
            super::results::HARNESS,
            reports.len()
        ),
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        escape(&name),
        c.passed + c.failed + c.skipped,
        c.failed,
        c.skipped
    );
    let columns = super::matrix::columns(reports);
    for (report, column) in reports.iter().zip(columns) {
        let prefix = if reports.len() > 1 {
            format!("{column}: ")
        } else {
            String::new()
        };
        for group in &report.groups {
            suite(&mut out, report, &prefix, group);
        }
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(out: &mut String, report: &RunReport, prefix: &str, group: &GroupResult) {
    let c = group.counts();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        escape(&format!("{prefix}{}", group.name)),
        group.cases.len(),
        c.failed,
        c.skipped
    );
    for case in &group.cases {
        testcase(out, report, group, case);
    }
    out.push_str("  </testsuite>\n");
}

fn testcase(out: &mut String, report: &RunReport, group: &GroupResult, case: &CaseResult) {
    let name = match group.kind {
        GroupKind::Suite => format!("{} tcId {}: {}", group.name, case.id, case.comment),
        GroupKind::Scenario | GroupKind::Liveness => format!("{}: {}", case.id, case.comment),
    };
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        escape(&case.spec_section),
        escape(&name)
    );
    match &case.status {
        Status::Passed => out.push_str("/>\n"),
        Status::Skipped(reason) => {
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(reason)
            );
        }
        Status::Failed(f) => {
            let kind = f.note.as_deref().unwrap_or("MISMATCH");
            let message = format!("expected {}, got {}", f.expected, f.actual);
            let mut body = format!(
                "flags: {}\nspec: {} {}\ncase: {} {}\n",
                case.reported_flags().join(", "),
                case.spec_section,
                super::links::spec_url(&case.spec_section),
                group.source(),
                group.case_label(case)
            );
            if let Some(inputs) = &f.inputs {
                let _ = writeln!(body, "inputs: {}", super::summary::compact(inputs));
            }
            let _ = writeln!(body, "expected: {}\nactual: {}", f.expected, f.actual);
            for line in &f.diff {
                let _ = writeln!(body, "diff | {line}");
            }
            let _ = writeln!(body, "rerun: {}", report.rerun_command(group, case));
            for line in &f.stderr {
                let _ = writeln!(body, "stderr | {line}");
            }
            let _ = write!(
                out,
                ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                escape(&shorten_hex(&message, MAX_HEX)),
                escape_content(&body)
            );
        }
    }
}

/// Escapes text for an XML attribute value; characters XML 1.0 cannot hold become U+FFFD.
pub fn escape(text: &str) -> String {
    escape_with(text, true)
}

/// Escapes text for XML element content (line breaks kept as they are).
pub fn escape_content(text: &str) -> String {
    escape_with(text, false)
}

fn escape_with(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\r' | '\t' if !attribute => out.push(ch),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

// The whole report's format is snapshotted in tests/reports.rs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(escape("a<b>&\"c\"'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;");
        assert_eq!(escape("x\u{1}y\nz"), "x\u{FFFD}y&#10;z");
        assert_eq!(escape_content("x\u{1}y\n<z>"), "x\u{FFFD}y\n&lt;z&gt;");
    }
}
