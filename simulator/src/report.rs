//! The per-run report: `trace.txt` (a summary, then every trace line) and `report.html`, an
//! inline SVG sequence diagram with one lane per peer, an arrow per message (dropped ones red and
//! dashed, ending in a cross), shaded cuts and offline or crashed intervals, and a marker where
//! each peer converged. Long runs draw every dropped message and a sample of the others, and say
//! so.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use crate::plan::{Fault, Millis, NodeIx, Plan};
use crate::sim::{Arrow, Outcome, Verdict};

/// Most arrows drawn.
pub const MAX_ARROWS: usize = 2_000;

const LANE_GAP: f64 = 170.0;
const LEFT: f64 = 110.0;
const TOP: f64 = 70.0;

/// What the report says about the run besides its outcome.
pub struct Header<'a> {
    /// The scenario.
    pub scenario: &'a str,
    /// The seed.
    pub seed: u64,
    /// The command that replays the run.
    pub command: &'a str,
    /// The plan played.
    pub plan: &'a Plan,
}

/// Writes `trace.txt` and `report.html` into `dir` (created if needed).
pub fn write(dir: &Path, header: &Header, outcome: &Outcome) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let summary = summary(header, outcome);
    let mut text = summary.clone();
    text.push('\n');
    for line in outcome.lines.iter().flatten() {
        text.push_str(line);
        text.push('\n');
    }
    fs::write(dir.join("trace.txt"), text)?;
    fs::write(dir.join("report.html"), html(header, outcome, &summary))
}

/// The text summary: verdict, hash, statistics, convergence, schedule, replay command.
pub fn summary(header: &Header, outcome: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario  {} (seed {})", header.scenario, header.seed);
    let _ = writeln!(s, "nodes     {}", outcome.implementation);
    let _ = writeln!(s, "verdict   {}", outcome.verdict.word());
    match &outcome.verdict {
        Verdict::Fail(failure) => {
            let _ = writeln!(s, "          {failure}");
        }
        Verdict::Skip(why) => {
            let _ = writeln!(s, "          {why}");
        }
        Verdict::Pass => {}
    }
    let _ = writeln!(s, "trace     sha256:{}", outcome.trace_hash);
    let _ = writeln!(s, "{}", outcome.stats);
    let bound = header.plan.bound_ms;
    let _ = writeln!(
        s,
        "bound     {} ms after {} ms",
        bound, outcome.stats.quiet_at
    );
    for (name, at) in &outcome.converged {
        let at = at.map_or("-".to_string(), |t| format!("{t} ms"));
        let _ = writeln!(s, "  {name:<12} converged at {at}");
    }
    let _ = writeln!(s, "schedule\n{}", header.plan);
    let _ = writeln!(s, "replay    {}", header.command);
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(header: &Header, outcome: &Outcome, summary: &str) -> String {
    let svg = svg(header.plan, outcome);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>threads-sim {} seed {}</title>\n\
         <style>body{{font-family:sans-serif;margin:1em}} pre{{background:#f6f6f6;padding:.5em}}\
         svg text{{font-size:11px;font-family:monospace}}</style></head><body>\n\
         <h1>{} — seed {} — {}</h1>\n<pre>{}</pre>\n\
         <p>Legend: <span style=\"color:#1f5fbf\">records</span>, <span style=\"color:#2a8a2a\">pull</span>, \
         <span style=\"color:#888\">heads</span>, <span style=\"color:#c00\">dropped (×)</span>; \
         red bands: cut links; grey: offline; pink: crashed; green dot: converged.</p>\n{}\n</body></html>\n",
        escape(header.scenario),
        header.seed,
        escape(header.scenario),
        header.seed,
        outcome.verdict.word(),
        escape(summary),
        svg
    )
}

/// The arrows drawn: all of them, or every dropped one and an even sample of the rest.
fn sample(arrows: &[Arrow]) -> (Vec<&Arrow>, String) {
    if arrows.len() <= MAX_ARROWS {
        return (
            arrows.iter().collect(),
            format!("all {} messages", arrows.len()),
        );
    }
    let dropped: Vec<&Arrow> = arrows
        .iter()
        .filter(|a| a.dropped.is_some())
        .take(MAX_ARROWS / 2)
        .collect();
    let rest = MAX_ARROWS - dropped.len();
    let others = arrows.len() - dropped.len();
    let stride = others.div_ceil(rest).max(1);
    let mut shown: Vec<&Arrow> = arrows
        .iter()
        .filter(|a| a.dropped.is_none())
        .step_by(stride)
        .chain(dropped.iter().copied())
        .collect();
    shown.sort_by_key(|a| a.sent);
    let note = format!(
        "{} of {} messages: {} dropped ones and every {stride}th delivered one",
        shown.len(),
        arrows.len(),
        dropped.len()
    );
    (shown, note)
}

/// Time to pixels, piecewise linear: between two consecutive moments when something happens,
/// the gap is drawn in proportion to its length, but never shorter than [`MIN_GAP`], so that a
/// burst of messages a few milliseconds apart stays readable beside seconds of quiet.
struct Scale {
    /// (time, y) at every moment something is drawn, in time order.
    points: Vec<(Millis, f64)>,
}

/// Fewest pixels between two moments that are drawn (fewer when there are very many, so that
/// the diagram stays under about 10,000 pixels).
const MIN_GAP: f64 = 5.0;

/// Pixels for the whole run's length, before the minimum gaps are added.
const LINEAR_HEIGHT: f64 = 600.0;

impl Scale {
    fn new(mut moments: Vec<Millis>, end: Millis) -> Scale {
        moments.push(0);
        moments.push(end);
        moments.sort_unstable();
        moments.dedup();
        let per_ms = LINEAR_HEIGHT / end.max(1) as f64;
        let min_gap = (10_000.0 / moments.len() as f64).clamp(1.0, MIN_GAP);
        let mut points = Vec::with_capacity(moments.len());
        let mut y = TOP;
        let mut last = 0;
        for t in moments {
            y += ((t - last) as f64 * per_ms).max(if t == 0 { 0.0 } else { min_gap });
            points.push((t, y));
            last = t;
        }
        Scale { points }
    }

    fn y(&self, t: Millis) -> f64 {
        let i = self.points.partition_point(|(pt, _)| *pt < t);
        match (
            i.checked_sub(1).and_then(|i| self.points.get(i)),
            self.points.get(i),
        ) {
            (_, Some((pt, y))) if *pt == t => *y,
            (Some((t0, y0)), Some((t1, y1))) => {
                y0 + (y1 - y0) * (t - t0) as f64 / (t1 - t0).max(1) as f64
            }
            (_, Some((_, y))) | (Some((_, y)), None) => *y,
            (None, None) => TOP,
        }
    }

    fn bottom(&self) -> f64 {
        self.points.last().map_or(TOP, |(_, y)| *y)
    }
}

/// Every moment the diagram marks: messages, fault edges, convergence.
fn moments(plan: &Plan, outcome: &Outcome, arrows: &[&Arrow]) -> Vec<Millis> {
    let mut moments: Vec<Millis> = arrows.iter().flat_map(|a| [a.sent, a.until]).collect();
    for fault in &plan.faults {
        match fault {
            Fault::Cut { .. } | Fault::Flap { .. } => moments.extend(
                fault
                    .cut_windows()
                    .into_iter()
                    .flat_map(|(from, until)| [from, until]),
            ),
            Fault::Offline { from, until, .. } => {
                moments.extend([Some(*from), *until].into_iter().flatten())
            }
            Fault::Crash { at, restart, .. } => {
                moments.extend([Some(*at), *restart].into_iter().flatten())
            }
            Fault::CrashInBatch { from, until, .. } => moments.extend([*from, *until]),
        }
    }
    moments.extend(outcome.converged.iter().filter_map(|(_, at)| *at));
    moments.retain(|t| *t <= outcome.stats.end);
    moments
}

fn lane(ix: NodeIx) -> f64 {
    LEFT + ix as f64 * LANE_GAP
}

fn svg(plan: &Plan, outcome: &Outcome) -> String {
    let (arrows, note) = sample(&outcome.arrows);
    let end = outcome.stats.end.max(1);
    let scale = Scale::new(moments(plan, outcome, &arrows), end);
    let height = scale.bottom();
    let width = LEFT + plan.nodes.len() as f64 * LANE_GAP;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{:.0}\">",
        height + 40.0
    );
    s.push_str("<defs><marker id=\"a\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"context-stroke\"/></marker></defs>\n");
    let _ = writeln!(s, "<text x=\"4\" y=\"14\">{}</text>", escape(&note));
    time_grid(&mut s, &scale, end, width);
    bands(&mut s, plan, &scale, end);
    lanes(&mut s, plan, &scale, end);
    for arrow in arrows {
        draw_arrow(&mut s, arrow, &scale);
    }
    for (ix, (name, at)) in outcome.converged.iter().enumerate() {
        if let Some(at) = at {
            let (x, y) = (lane(ix), scale.y(*at));
            let _ = writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"#2a2\"><title>{} converged at {at} ms</title></circle>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#2a2\">converged</text>",
                escape(name),
                x + 8.0,
                y + 4.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn time_grid(s: &mut String, scale: &Scale, end: Millis, width: f64) {
    let steps = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000,
    ];
    let step = steps
        .into_iter()
        .find(|st| end / st <= 200)
        .unwrap_or(1_000_000);
    let mut t = 0;
    let mut labelled = f64::MIN;
    while t <= end {
        let y = scale.y(t);
        // Where quiet time is compressed, grid lines crowd: label only those with room.
        if y - labelled < 14.0 {
            t += step;
            continue;
        }
        labelled = y;
        let _ = writeln!(
            s,
            "<line x1=\"0\" x2=\"{width:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"4\" y=\"{:.1}\" fill=\"#999\">{:.1} s</text>",
            y - 2.0,
            t as f64 / 1000.0
        );
        t += step;
    }
}

fn lanes(s: &mut String, plan: &Plan, scale: &Scale, end: Millis) {
    for (ix, node) in plan.nodes.iter().enumerate() {
        let x = lane(ix);
        let broken = node
            .broken
            .map_or(String::new(), |b| format!(" ({})", b.name()));
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}{}</text>\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
            TOP - 12.0,
            escape(&node.name),
            escape(&broken),
            scale.y(end)
        );
    }
}

/// Shaded intervals: cut links across the lanes they join, offline and crashed peers on their
/// lane.
fn bands(s: &mut String, plan: &Plan, scale: &Scale, end: Millis) {
    for fault in &plan.faults {
        match fault {
            Fault::Cut { label, links, .. } | Fault::Flap { label, links, .. } => {
                for (from, until) in fault.cut_windows() {
                    cut_band(s, scale, label, links, from, until);
                }
            }
            Fault::Offline {
                node, from, until, ..
            } => {
                lane_band(
                    s,
                    scale,
                    *node,
                    *from,
                    until.unwrap_or(end),
                    "#bbb",
                    "offline",
                );
            }
            Fault::Crash { node, at, restart } => {
                lane_band(
                    s,
                    scale,
                    *node,
                    *at,
                    restart.unwrap_or(end),
                    "#f9b",
                    "crashed",
                );
            }
            // When it crashes depends on the run; the trace shows it.
            Fault::CrashInBatch { .. } => {}
        }
    }
}

fn cut_band(
    s: &mut String,
    scale: &Scale,
    label: &str,
    links: &[(NodeIx, NodeIx)],
    from: Millis,
    until: Millis,
) {
    let lanes = links.iter().flat_map(|(a, b)| [*a, *b]);
    let (lo, hi) = lanes.fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    if lo > hi {
        return;
    }
    let (x, w) = (lane(lo) - 40.0, lane(hi) - lane(lo) + 80.0);
    let (y, h) = (scale.y(from), (scale.y(until) - scale.y(from)).max(1.0));
    let _ = writeln!(
        s,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#f33\" opacity=\"0.12\">\
         <title>cut {} from {from} to {until} ms</title></rect>\
         <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c33\">cut {}</text>",
        escape(label),
        x + 2.0,
        y + 11.0,
        escape(label)
    );
}

fn lane_band(
    s: &mut String,
    scale: &Scale,
    node: NodeIx,
    from: Millis,
    until: Millis,
    color: &str,
    what: &str,
) {
    let x = lane(node) - 12.0;
    let (y, h) = (scale.y(from), (scale.y(until) - scale.y(from)).max(1.0));
    let _ = writeln!(
        s,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"24\" height=\"{h:.1}\" fill=\"{color}\" opacity=\"0.7\">\
         <title>{what} from {from} to {until} ms</title></rect>"
    );
}

fn draw_arrow(s: &mut String, arrow: &Arrow, scale: &Scale) {
    let (x1, y1) = (lane(arrow.from), scale.y(arrow.sent));
    let (mut x2, mut y2) = (lane(arrow.to), scale.y(arrow.until.max(arrow.sent)));
    let color = match arrow.label.split(' ').next() {
        Some("records") => "#1f5fbf",
        Some("pull") => "#2a8a2a",
        Some("heads") => "#888",
        _ => "#333",
    };
    let title = format!(
        "{} {} ms → {} ms{}",
        arrow.label,
        arrow.sent,
        arrow.until,
        arrow
            .dropped
            .map_or(String::new(), |d| format!(", dropped: {d}"))
    );
    if arrow.dropped.is_some() {
        // A dropped message stops halfway, where a cross marks it.
        x2 = (x1 + x2) / 2.0;
        y2 = (y1 + y2) / 2.0 + 2.0;
        let _ = writeln!(
            s,
            "<g><title>{}</title><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{x2:.1}\" y=\"{:.1}\" fill=\"#c00\" text-anchor=\"middle\">×</text></g>",
            escape(&title),
            y2 + 4.0
        );
        return;
    }
    let _ = writeln!(
        s,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{color}\" marker-end=\"url(#a)\"><title>{}</title></line>",
        escape(&title)
    );
}
