//! Kaplan–Meier plots as SVG: the released step curves with their confidence bands.
//!
//! Written by hand (a few dozen lines of SVG) rather than with a plotting crate:
//! `plotters` would add a font stack and minutes of compile time on the 2-core
//! build machines for one chart type.

use crate::result::KmResult;
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The curves of `result` as a standalone SVG document.
pub fn km_svg(result: &KmResult, title: &str) -> String {
    let max_t = result
        .curves
        .iter()
        .flat_map(|c| c.steps.iter().map(|s| s.time))
        .fold(1.0_f64, f64::max);
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * t / max_t;
    let y = |s: f64| TOP + (H - TOP - BOTTOM) * (1.0 - s.clamp(0.0, 1.0));
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    // axes and ticks
    let (x0, y0, x1, y1) = (x(0.0), y(0.0), x(max_t), y(1.0));
    let _ = writeln!(
        svg,
        r#"<path d="M{x0:.1},{y1:.1} L{x0:.1},{y0:.1} L{x1:.1},{y0:.1}" stroke="black" fill="none"/>"#
    );
    for i in 0..=5 {
        let s = f64::from(i) / 5.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{s:.1}</text>"#,
            x0 - 6.0,
            y(s) + 4.0
        );
        let t = max_t * f64::from(i) / 5.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"#,
            x(t),
            y0 + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">days since index diagnosis (released every {} days)</text>"#,
        (x0 + x1) / 2.0,
        H - 10.0,
        result.interval_days
    );
    for (i, curve) in result.curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let steps = &curve.steps;
        let path = |value: &dyn Fn(&crate::result::KmStep) -> f64| {
            let mut d = String::new();
            for (j, s) in steps.iter().enumerate() {
                if j == 0 {
                    let _ = write!(d, "M{:.1},{:.1}", x(s.time), y(value(s)));
                } else {
                    let _ = write!(
                        d,
                        " L{:.1},{:.1} L{:.1},{:.1}",
                        x(s.time),
                        y(value(&steps[j - 1])),
                        x(s.time),
                        y(value(s))
                    );
                }
            }
            d
        };
        let _ = writeln!(
            svg,
            r#"<path d="{}" stroke="{colour}" stroke-dasharray="4 3" stroke-width="1" fill="none"/>"#,
            path(&|s| s.ci_lower)
        );
        let _ = writeln!(
            svg,
            r#"<path d="{}" stroke="{colour}" stroke-dasharray="4 3" stroke-width="1" fill="none"/>"#,
            path(&|s| s.ci_upper)
        );
        let _ = writeln!(
            svg,
            r#"<path d="{}" stroke="{colour}" stroke-width="2" fill="none"/>"#,
            path(&|s| s.survival)
        );
        let median = match (curve.median, &curve.median_status) {
            (Some(m), _) => format!("{m:.0} d"),
            (None, Some(status @ crate::result::MedianStatus::Withheld { .. })) => {
                status.to_string()
            }
            (None, _) => "not reached".to_string(),
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" fill="{colour}" text-anchor="end">{} (median {})</text>"#,
            x1,
            TOP + 16.0 * (i as f64 + 1.0),
            escape(&curve.label),
            median
        );
    }
    svg.push_str("</svg>\n");
    svg
}
