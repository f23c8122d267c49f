//! Several implementations in one run (`--impl` repeated): their results side by side, one row
//! per suite and scenario and one column per implementation, as interop dashboards show them.

use std::fmt::Write;

use serde_json::{Value, json};

use super::results::{Counts, REPORT_SCHEMA_VERSION, RunReport, Verdict};

/// One row of the matrix: a suite or scenario (`suite tid`), and its counts in each run, `None`
/// where that run did not select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `suite NAME` or `scenario NAME`.
    pub label: String,
    /// The counts per implementation, in column order.
    pub cells: Vec<Option<Counts>>,
}

/// The column headings: each implementation's name and version, numbered when two are alike.
pub fn columns(reports: &[RunReport]) -> Vec<String> {
    let plain: Vec<String> = reports
        .iter()
        .map(|r| format!("{} {}", r.implementation, r.version))
        .collect();
    plain
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if plain.iter().filter(|n| *n == name).count() > 1 {
                format!("{name} #{}", i + 1)
            } else {
                name.clone()
            }
        })
        .collect()
}

/// The rows, groups in the order they first appear, then the total.
pub fn rows(reports: &[RunReport]) -> Vec<Row> {
    let mut labels: Vec<String> = Vec::new();
    for report in reports {
        for group in &report.groups {
            let label = format!("{} {}", group.kind.label(), group.name);
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
    }
    let mut rows: Vec<Row> = labels
        .into_iter()
        .map(|label| {
            let cells = reports
                .iter()
                .map(|r| {
                    r.groups
                        .iter()
                        .find(|g| format!("{} {}", g.kind.label(), g.name) == label)
                        .map(|g| g.counts())
                })
                .collect();
            Row { label, cells }
        })
        .collect();
    rows.push(Row {
        label: "total".into(),
        cells: reports.iter().map(|r| Some(r.counts())).collect(),
    });
    rows
}

/// A cell as text: `passed/failed/skipped`, or `-` where the run did not select the group.
pub fn cell(counts: Option<Counts>) -> String {
    match counts {
        Some(c) => format!("{}/{}/{}", c.passed, c.failed, c.skipped),
        None => "-".into(),
    }
}

/// The matrix as a text table, with each run's exit status.
pub fn render_text(reports: &[RunReport]) -> String {
    let columns = columns(reports);
    let rows = rows(reports);
    let first = rows
        .iter()
        .map(|r| r.label.chars().count())
        .chain(["exit status".len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| cell(r.cells[i]).len())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("\nside by side (passed/failed/skipped)\n");
    let _ = write!(out, "{:<first$}", "");
    for (column, width) in columns.iter().zip(&widths) {
        let _ = write!(out, "  {column:>width$}");
    }
    out.push('\n');
    for row in &rows {
        let _ = write!(out, "{:<first$}", row.label);
        for (value, width) in row.cells.iter().zip(&widths) {
            let _ = write!(out, "  {:>width$}", cell(*value));
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<first$}", "exit status");
    for (report, width) in reports.iter().zip(&widths) {
        let _ = write!(out, "  {:>width$}", report.verdict().exit_status());
    }
    out.push('\n');
    out
}

/// The exit status of a run of several implementations: 1 if any failed a case, else 3 if any
/// did not run, else 0 [HP-84].
pub fn verdict(reports: &[RunReport]) -> Verdict {
    Verdict::worst(reports.iter().map(RunReport::verdict))
}

/// The JSON report of a run of several implementations (`--json` with `--impl` repeated): each
/// implementation's whole report, in `--impl` order.
pub fn to_json(reports: &[RunReport]) -> Value {
    json!({
        "schemaVersion": REPORT_SCHEMA_VERSION,
        "kind": "matrix",
        "exitStatus": verdict(reports).exit_status(),
        "implementations": reports.iter().map(RunReport::to_json).collect::<Vec<_>>(),
    })
}
