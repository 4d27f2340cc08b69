//! The suite's table: one row per comparison, printed as Markdown and written into docs/performance.md between
//! the markers `<!-- NAME:begin -->` and `<!-- NAME:end -->` (`bench-suite` for the comparisons, `bench-soak` for
//! the soak).

use std::path::Path;

use crate::wrk::Figures;

/// One comparison: a (walletd) against b (its reference).
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// a's median figure and b's, in `unit`.
    pub a: f64,
    pub b: f64,
    pub unit: &'static str,
    /// Median of the per-round ratios a/b.
    pub ratio: f64,
    /// The goal on the ratio, if any.
    pub target: Option<f64>,
    /// Latency (p50/p99 of a and b, or an overhead) in words.
    pub latency: String,
    /// One-minute load averages seen during the comparison, "min-max".
    pub load: String,
    /// Errors (socket errors, timeouts, non-2xx answers) over all rounds of both sides.
    pub errors: u64,
    pub rounds: usize,
    pub concurrency: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// "min-max" of load averages.
pub fn load_range(loads: &[f64]) -> String {
    let min = loads.iter().copied().fold(f64::INFINITY, f64::min);
    let max = loads.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if min.is_finite() {
        format!("{min:.1}-{max:.1}")
    } else {
        "?".into()
    }
}

impl Row {
    /// A row from interleaved wrk rounds.
    pub fn from_rounds(
        name: &str,
        target: Option<f64>,
        a: &[Figures],
        b: &[Figures],
        loads: &[f64],
        concurrency: usize,
    ) -> Row {
        let pick = |v: &[Figures], f: fn(&Figures) -> f64| median(v.iter().map(f).collect());
        let ratios = a.iter().zip(b).map(|(x, y)| x.rps / y.rps).collect();
        Row {
            name: name.to_string(),
            a: pick(a, |f| f.rps),
            b: pick(b, |f| f.rps),
            unit: "req/s",
            ratio: median(ratios),
            target,
            latency: format!(
                "p50 {:.2}/{:.2} ms, p99 {:.2}/{:.2} ms",
                pick(a, |f| f.p50_ms),
                pick(b, |f| f.p50_ms),
                pick(a, |f| f.p99_ms),
                pick(b, |f| f.p99_ms)
            ),
            load: load_range(loads),
            errors: a.iter().chain(b).map(|f| f.errors).sum(),
            rounds: a.len(),
            concurrency,
        }
    }

    /// "met", "NOT met" or "-" (no goal).
    pub fn verdict(&self) -> &'static str {
        match self.target {
            None => "-",
            Some(t) if self.ratio >= t => "met",
            Some(_) => "NOT met",
        }
    }
}

/// The Markdown table of `rows` with a header line naming the run.
pub fn table(rows: &[Row], header: &str) -> String {
    let mut out = format!("{header}\n\n");
    out.push_str(
        "| comparison (a vs b) | c | rounds | a | b | ratio a/b | goal | latency a/b | load (1 min) | errors |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let goal = r
            .target
            .map(|t| format!(">= {t:.2}x: {}", r.verdict()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} {} | {:.1} {} | **{:.2}x** | {} | {} | {} | {} |\n",
            r.name, r.concurrency, r.rounds, r.a, r.unit, r.b, r.unit, r.ratio, goal, r.latency, r.load, r.errors
        ));
    }
    out
}

/// Replaces the section `name` of the Markdown file at `path` with `body` (appends the section when its markers
/// are missing).
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (begin, end) = (format!("<!-- {name}:begin -->"), format!("<!-- {name}:end -->"));
    let section = format!("{begin}\n{body}\n{end}");
    let new = match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{section}{}", &text[..b], &text[e + end.len()..]),
        _ => format!("{}\n{section}\n", text.trim_end()),
    };
    std::fs::write(path, new).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_between_the_markers_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("perf.md");
        let (b, e) = ("<!-- s:begin -->", "<!-- s:end -->");
        std::fs::write(&p, format!("# T\n\nbefore\n{b}\nold\n{e}\nafter\n")).unwrap();
        write_section(&p, "s", "new table").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("# T\n\nbefore\n{b}\nnew table\n{e}\nafter\n")
        );
        std::fs::write(&p, "# T\n").unwrap();
        write_section(&p, "s", "x").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("# T\n{b}\nx\n{e}\n"));
    }

    #[test]
    fn the_ratio_is_the_median_of_per_round_ratios() {
        let f = |rps| Figures {
            rps,
            ..Figures::default()
        };
        let r = Row::from_rounds(
            "x",
            Some(0.8),
            &[f(80.0), f(10.0), f(90.0)],
            &[f(100.0), f(100.0), f(100.0)],
            &[1.0, 3.0],
            4,
        );
        assert!((r.ratio - 0.8).abs() < 1e-9);
        assert_eq!(r.verdict(), "met");
        assert_eq!(r.load, "1.0-3.0");
    }
}
