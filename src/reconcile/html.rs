//! The self-contained HTML report: one file, inline CSS and an inline SVG
//! chart of drift over the ledger's runs, no scripts, fonts or images from
//! anywhere. Rendered with minijinja; every value is HTML-escaped.

use std::io::Write;

use minijinja::{Environment, context};
use rust_decimal::Decimal;
use serde::Serialize;

use super::diff::DiffReport;
use super::ledger::{DriftOptions, RunRecord, analyze};
use crate::error::{Error, Result};

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Reconciliation: {{ left }} vs {{ right }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.only_left{color:#9a5b00}.only_right{color:#0b5fa5}.mismatch{color:#b00020}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
.card b{display:block;font-size:1.4em}
svg text{font:11px system-ui,sans-serif;fill:#555}
</style></head><body>
<h1>Reconciliation: {{ left }} vs {{ right }}</h1>
<p>Key: {{ key | join(", ") }}</p>
<div class="cards">
{% for c in cards %}<div class="card"><b>{{ c.1 }}</b>{{ c.0 }}</div>
{% endfor %}</div>
{% if chart %}
<h2>Drift over {{ chart.runs }} runs</h2>
<svg width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img" aria-label="drift rate per run">
<line x1="40" y1="{{ chart.base }}" x2="{{ chart.width - 10 }}" y2="{{ chart.base }}" stroke="#999"/>
<line x1="40" y1="10" x2="40" y2="{{ chart.base }}" stroke="#999"/>
<text x="4" y="14">{{ chart.max_label }}</text><text x="4" y="{{ chart.base }}">0 %</text>
<polyline fill="none" stroke="#b00020" stroke-width="2" points="{{ chart.points }}"/>
{% for p in chart.dots %}<circle cx="{{ p.0 }}" cy="{{ p.1 }}" r="3" fill="#b00020"><title>run {{ loop.index }}: {{ p.2 }}</title></circle>
{% endfor %}</svg>
<p>Trend: <b>{{ trend }}</b>.
{% if persistent %}{{ persistent | length }} keys differ in every one of the last {{ persistent_runs }} runs (first: {{ persistent[:10] | join(", ") }}).{% endif %}</p>
{% if bias %}<table><tr><th>dimension</th><th>field</th><th class="n">mean delta</th><th class="n">t</th><th class="n">keys</th></tr>
{% for b in bias %}<tr><td>{{ b.dimension }}</td><td>{{ b.field }}</td><td class="n">{{ b.mean }}</td><td class="n">{{ b.t }}</td><td class="n">{{ b.samples }}</td></tr>
{% endfor %}</table>{% endif %}
{% endif %}
{% if by_field %}<h2>Mismatches by field</h2>
<table><tr><th>field</th><th class="n">keys</th></tr>
{% for f in by_field %}<tr><td>{{ f.0 }}</td><td class="n">{{ f.1 }}</td></tr>
{% endfor %}</table>{% endif %}
{% if by_dimension %}<h2>By dimension</h2>
<table><tr><th>value</th><th class="n">matched</th><th class="n">only left</th><th class="n">only right</th><th class="n">mismatched</th></tr>
{% for d in by_dimension %}<tr><td>{{ d.0 }}</td><td class="n">{{ d.1.matched }}</td><td class="n">{{ d.1.only_left }}</td><td class="n">{{ d.1.only_right }}</td><td class="n">{{ d.1.mismatched }}</td></tr>
{% endfor %}</table>{% endif %}
{% if differences %}<h2>Differences{% if shown < total %} (first {{ shown }} of {{ total }}){% endif %}</h2>
<table><tr>{% for k in key %}<th>{{ k }}</th>{% endfor %}<th>kind</th><th>field</th><th>left</th><th>right</th><th class="n">delta</th></tr>
{% for d in differences %}{% for f in d.rows %}<tr>{% for k in d.key %}<td>{{ k }}</td>{% endfor %}<td class="{{ d.kind }}">{{ d.kind }}</td><td>{{ f.0 }}</td><td>{{ f.1 }}</td><td>{{ f.2 }}</td><td class="n">{{ f.3 }}</td></tr>
{% endfor %}{% endfor %}</table>{% endif %}
{% if problems %}<h2>Problems ({{ problems | length }})</h2><ul>
{% for p in problems %}<li>{{ p }}</li>
{% endfor %}</ul>{% endif %}
</body></html>
"##;

#[derive(Serialize)]
struct Chart {
    runs: usize,
    width: u64,
    height: u64,
    base: u64,
    points: String,
    dots: Vec<(u64, u64, String)>,
    max_label: String,
}

#[derive(Serialize)]
struct Row {
    key: Vec<String>,
    kind: &'static str,
    rows: Vec<(String, String, String, String)>,
}

/// The chart of drift rates: x by run, y from 0 to the largest rate.
fn chart(rates: &[Decimal]) -> Option<Chart> {
    if rates.is_empty() {
        return None;
    }
    let (width, height, base, left, top) = (640u64, 220u64, 200u64, 50u64, 14u64);
    let max = rates
        .iter()
        .copied()
        .max()
        .unwrap_or_default()
        .max(Decimal::new(1, 4));
    let span = Decimal::from(width - left - 20);
    let step = if rates.len() > 1 {
        span / Decimal::from(rates.len() - 1)
    } else {
        Decimal::ZERO
    };
    let dots: Vec<(u64, u64, String)> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let x = Decimal::from(left) + step * Decimal::from(i);
            let y = Decimal::from(base) - Decimal::from(base - top) * *r / max;
            let pct = (*r * Decimal::ONE_HUNDRED).round_dp(3);
            (to_u64(x), to_u64(y), format!("{pct} %"))
        })
        .collect();
    let points = dots
        .iter()
        .map(|(x, y, _)| format!("{x},{y}"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Chart {
        runs: rates.len(),
        width,
        height,
        base,
        points,
        dots,
        max_label: format!("{} %", (max * Decimal::ONE_HUNDRED).round_dp(2)),
    })
}

fn to_u64(d: Decimal) -> u64 {
    u64::try_from(d.round()).unwrap_or(0)
}

impl DiffReport {
    /// The self-contained HTML report. `runs` is the ledger's history of this
    /// pair (oldest first, this run last if recorded); with runs it charts
    /// the drift rate and lists persistent drift, bias and the trend.
    pub fn html(&self, runs: &[RunRecord], limit: usize) -> Result<String> {
        let s = &self.summary;
        let differences: Vec<Row> = self
            .differences
            .iter()
            .take(limit)
            .map(|d| Row {
                key: d.key.clone(),
                kind: d.kind.name(),
                rows: if d.fields.is_empty() {
                    vec![Default::default()]
                } else {
                    d.fields
                        .iter()
                        .map(|f| {
                            let delta = f.delta.map(|x| x.to_string()).unwrap_or_default();
                            (f.field.clone(), f.left.clone(), f.right.clone(), delta)
                        })
                        .collect()
                },
            })
            .collect();
        let options = DriftOptions::default();
        let drift = analyze(runs, &options);
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let template = env.template_from_str(TEMPLATE).map_err(render_error)?;
        template
            .render(context! {
                left => self.left,
                right => self.right,
                key => self.key_columns,
                cards => s.counts(),
                chart => chart(&drift.rates),
                trend => format!("{:?}", drift.trend).to_lowercase(),
                persistent => drift.persistent.iter().map(|p| p.key.to_string()).collect::<Vec<_>>(),
                persistent_runs => options.persistent_runs,
                bias => drift.bias.iter().map(|b| context! {
                    dimension => b.dimension, field => b.field, mean => b.mean.to_string(),
                    t => b.t.to_string(), samples => b.samples,
                }).collect::<Vec<_>>(),
                by_field => s.fields_by_count(),
                by_dimension => s.by_dimension.iter().collect::<Vec<_>>(),
                differences => differences,
                shown => differences.len(),
                total => self.differences.len(),
                problems => self.problems.iter().take(limit).map(|p| p.to_string()).collect::<Vec<_>>(),
            })
            .map_err(render_error)
    }

    /// Writes [`DiffReport::html`] (at most 1,000 differences listed).
    pub fn write_html(&self, mut out: impl Write, runs: &[RunRecord]) -> Result<()> {
        let html = self.html(runs, 1000)?;
        out.write_all(html.as_bytes()).map_err(|e| {
            Error::unavailable(format!("cannot write the HTML report: {e}")).with_source(e)
        })
    }
}

fn render_error(e: minijinja::Error) -> Error {
    Error::new(
        crate::error::ErrorKind::Unexpected,
        format!("HTML report template: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{DiffOptions, DiffSpec, RunRecord, Table, diff_tables};
    use chrono::{TimeZone, Utc};

    #[test]
    fn html_is_self_contained_and_escaped() {
        let spec = DiffSpec::new(["sku"]).with_dimension("loc");
        let l = Table::from_csv(
            "l.csv",
            "sku,loc,qty\n<script>x</script>,A,1\nB,A,2\nC,B,1\n".into(),
            &spec,
        )
        .unwrap();
        let r = Table::from_csv(
            "r.csv",
            "sku,loc,qty\n<script>x</script>,A,2\nB,A,2\nD,B,1\nE\n".into(),
            &spec,
        )
        .unwrap();
        let report = diff_tables(&l, &r, &spec, &DiffOptions::default()).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let runs = vec![RunRecord::from_report(&report, at); 4];
        let html = report.html(&runs, 100).unwrap();
        for banned in [
            "http://", "https://", "<script", "src=", "<link", "@import", "url(",
        ] {
            assert!(!html.contains(banned), "{banned} in\n{html}");
        }
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<svg") && html.contains("<polyline"),
            "{html}"
        );
        assert!(
            html.contains("r.csv:5:2: expected 3 fields, found 1"),
            "{html}"
        );
        assert!(html.contains("Trend: <b>steady</b>"), "{html}");
        let no_runs = report.html(&[], 100).unwrap();
        assert!(!no_runs.contains("<svg"));
    }
}
