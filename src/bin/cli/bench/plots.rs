//! The figures of `tikhonov bench` (SVG through plotters, as `src/bin/cli/plot.rs`):
//! suboptimality against time and against passes for every problem, time against n and d and
//! iterations against κ with the fitted laws. Every figure keeps its legend in a panel to the
//! right of the axes, so no legend covers a curve however many backends there are.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use tikhonov::Error;

use super::laws::Law;
use super::runs::{Row, distinct};
use crate::plot::{PALETTE, plot_error};

/// The whole figure, and the width of the axes within it (the rest is the legend panel).
const SIZE: (u32, u32) = (960, 520);
const AXES_WIDTH: u32 = 740;

/// A figure written, for the report.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The file name in the plots folder.
    pub file: String,
    /// Its title (also the report's alt text).
    pub title: String,
    /// The problem it belongs to (`dataset_name`), or none for the scaling figures.
    pub problem: Option<String>,
}

/// More colours than `plot.rs`'s eight: up to twelve backends in one figure stay apart.
const EXTRA: [RGBColor; 4] = [
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(255, 187, 120),
];

fn colour(i: usize) -> RGBColor {
    let i = i % (PALETTE.len() + EXTRA.len());
    if i < PALETTE.len() {
        PALETTE[i]
    } else {
        EXTRA[i - PALETTE.len()]
    }
}

/// Dash and gap lengths in pixels of another tool's curves (`--compare`).
const DASH: (u32, u32) = (7, 4);

/// A marker's style: filled for this crate's backends, a ring for another tool's.
fn marker(c: RGBColor, hollow: bool) -> ShapeStyle {
    if hollow {
        c.stroke_width(2)
    } else {
        c.filled()
    }
}

/// One backend's points in a figure: a line (iterative) or markers (direct, one point per run).
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    markers: bool,
    /// A fitted line to draw across the x range: ln y = slope·ln x + offset.
    line: Option<(f64, f64)>,
    /// Another tool's (`--compare`): a dashed line, or hollow markers.
    dashed: bool,
}

/// A file name from a dataset name: letters, digits, `-`, `_`, `.` kept, the rest `_`.
pub(super) fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every figure of a bench, written to `dir`; `compare` (another tool's rows, `--compare`) is
/// drawn dashed in the suboptimality figures of the problems it shares with `rows`.
pub fn draw_all(
    dir: &Path,
    rows: &[Row],
    compare: &[Row],
    laws: &[Law],
) -> Result<Vec<Figure>, Error> {
    let mut figures = Vec::new();
    for dataset in distinct(rows.iter().map(|r| r.dataset.as_str())) {
        let (mine, theirs) = (
            first_repeat_of(rows, dataset),
            first_repeat_of(compare, dataset),
        );
        for (axis, x_label) in [
            ("time", "time (s, log scale)"),
            ("passes", "passes over X (log scale)"),
        ] {
            let mut series = curves(&mine, axis, false);
            series.extend(curves(&theirs, axis, true));
            if series.is_empty() {
                continue;
            }
            let file = format!("{}_{axis}.svg", slug(dataset));
            let title = format!("{dataset}: suboptimality against {axis}");
            draw(
                &dir.join(&file),
                &title,
                x_label,
                "J − J* (log scale)",
                &series,
                true,
            )?;
            figures.push(Figure {
                file,
                title,
                problem: Some(dataset.to_owned()),
            });
        }
    }
    for (group, law, predictor) in figure_keys(laws) {
        let chosen: Vec<&Law> = laws
            .iter()
            .filter(|l| l.group == group && l.law == law && l.predictors.contains(&predictor))
            .collect();
        let series: Vec<Series> = chosen.iter().map(|l| law_series(l, predictor)).collect();
        let (x_label, y_label, what) = match predictor {
            "n" => ("n (log scale)", "time (s, log scale)", "time against n"),
            "d" => ("d (log scale)", "time (s, log scale)", "time against d"),
            _ => (
                "κ(Xc) (log scale)",
                "iterations to tol (log scale)",
                "iterations against κ",
            ),
        };
        let other = match (law, predictor) {
            ("time", "n") if chosen[0].predictors.len() > 1 => {
                format!(", adjusted to d = {}", chosen[0].at.1)
            }
            ("time", "d") if chosen[0].predictors.len() > 1 => {
                format!(", adjusted to n = {}", chosen[0].at.0)
            }
            _ => String::new(),
        };
        let file = format!("scaling_{}_{law}_{predictor}.svg", slug(&group));
        let title = format!("{group}: {what}{other}, fitted lines");
        draw(&dir.join(&file), &title, x_label, y_label, &series, false)?;
        figures.push(Figure {
            file,
            title,
            problem: None,
        });
    }
    Ok(figures)
}

/// The rows of `dataset`'s first repeat: the curves drawn.
fn first_repeat_of<'r>(rows: &'r [Row], dataset: &str) -> Vec<&'r Row> {
    rows.iter()
        .filter(|r| r.dataset == dataset && r.rep == 0)
        .collect()
}

/// The suboptimality curves of one problem's rows against `axis` (`time` or `passes`), a
/// series per backend in the order of the rows: a line for an iterative backend, markers for a
/// direct one (not drawn against passes), dashed for another tool's. A backend with no point
/// to draw (no passes in another tool's table) is left out, legend included.
fn curves(rows: &[&Row], axis: &str, dashed: bool) -> Vec<Series> {
    distinct(rows.iter().map(|r| (r.solver.as_str(), r.direct)))
        .into_iter()
        .filter(|&(_, direct)| axis == "time" || !direct)
        .map(|(solver, direct)| Series {
            name: solver.to_owned(),
            points: rows
                .iter()
                .filter(|r| r.solver == solver)
                .map(|r| {
                    (
                        if axis == "time" { r.time } else { r.passes },
                        r.suboptimality,
                    )
                })
                .collect(),
            markers: direct,
            line: None,
            dashed,
        })
        .filter(|s| s.points.iter().any(|p| p.0 > 0.0 && p.0.is_finite()))
        .collect()
}

/// (group, law, predictor) of every scaling figure, in the order of the laws.
fn figure_keys(laws: &[Law]) -> Vec<(String, &'static str, &'static str)> {
    let mut keys = Vec::new();
    for l in laws {
        for &p in &l.predictors {
            let key = (l.group.clone(), l.law, p);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The points of `law` against `predictor` and its fitted line. With two predictors (n and d)
/// each point's y is moved to the other predictor's median with the fitted exponent (a partial
/// residual plot), so the points scatter about the drawn line exactly as they do about the fit.
fn law_series(law: &Law, predictor: &str) -> Series {
    let j = law
        .predictors
        .iter()
        .position(|p| *p == predictor)
        .unwrap_or(0);
    let at = |p: &str| if p == "n" { law.at.0 } else { law.at.1 };
    let mut offset = law.fit.intercept;
    for (k, p) in law.predictors.iter().enumerate() {
        if k != j {
            offset += law.fit.coef[k] * at(p).ln();
        }
    }
    let points = law
        .points
        .iter()
        .map(|(x, y)| {
            let mut y = *y;
            for (k, p) in law.predictors.iter().enumerate() {
                if k != j {
                    y *= (at(p) / x[k]).powf(law.fit.coef[k]);
                }
            }
            (x[j], y)
        })
        .collect();
    let theory = law.theory[j].map_or(String::new(), |t| format!(", theory {t}"));
    Series {
        name: format!(
            "{} {:.2} ± {:.2}{theory}",
            law.solver, law.fit.coef[j], law.fit.half_width[j]
        ),
        points,
        markers: true,
        line: Some((law.fit.coef[j], offset)),
        dashed: false,
    }
}

/// A tick label of a log10 axis: the value 10^v, as 0.01 … 1000 or 1e-7 at whole decades, else
/// with two significant digits (13, 0.025, 5.0e-4).
fn tick(v: &f64) -> String {
    let value = 10f64.powf(*v);
    if (v - v.round()).abs() < 1e-9 {
        let k = v.round() as i32;
        if (-2..=3).contains(&k) {
            format!("{}", 10f64.powi(k))
        } else {
            format!("1e{k}")
        }
    } else if (0.01..1e4).contains(&value) {
        // Two significant digits in plain notation: 13, 1.6, 0.025.
        let decimals = (1 - value.log10().floor() as i32).max(0) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{value:.1e}")
    }
}

/// The log10 range of the positive finite `values`, padded on both sides by 5 % of its span
/// (at least 0.1 decade; ±0.3 decade for a single value), so that no plotted point lies on the
/// frame. A factor of 1.2 each side, as `plot.rs`'s `log_range` pads, is 0.08 decade: on a
/// suboptimality axis of twenty decades the curves' first points then sat on the top edge and
/// their starts looked cut off.
fn log10_range(values: &[f64]) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .iter()
        .filter(|v| **v > 0.0 && v.is_finite())
        .map(|v| v.log10())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return -3.0..0.0;
    }
    let pad = if hi - lo > 0.0 {
        (0.05 * (hi - lo)).max(0.1)
    } else {
        0.3
    };
    lo - pad..hi + pad
}

/// A log–log figure of `series`, the legend in its own panel. Both axes are drawn in log10
/// coordinates on linear axes (so the ticks fall on whole decades however many decades there
/// are) and labelled with the values. Non-positive y values (an exact zero suboptimality) are
/// drawn at the bottom of the axis when `floor_zeros`.
fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    floor_zeros: bool,
) -> Result<(), Error> {
    let err = |e| plot_error(path, e);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (axes, legend) = root.split_horizontally(AXES_WIDTH);
    // The ranges cover exactly the points drawn: those with a positive finite x and a finite y.
    let drawn = |p: &&(f64, f64)| p.0 > 0.0 && p.0.is_finite() && p.1.is_finite();
    let (xs, ys): (Vec<f64>, Vec<f64>) = series
        .iter()
        .flat_map(|s| s.points.iter().filter(drawn).copied())
        .unzip();
    let x_range = log10_range(&xs);
    let mut y_range = log10_range(&ys);
    if floor_zeros && ys.iter().any(|y| *y <= 0.0) {
        y_range.start -= 0.5;
    }
    let mut chart = ChartBuilder::on(&axes)
        .caption(title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range.clone(), y_range.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_labels(label_count(&x_range))
        .y_labels(label_count(&y_range))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let bottom = y_range.start + 0.02 * (y_range.end - y_range.start);
    let to_plot = |(x, y): (f64, f64)| (x.log10(), if y > 0.0 { y.log10() } else { bottom });
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        let points: Vec<(f64, f64)> = s.points.iter().filter(drawn).map(|&p| to_plot(p)).collect();
        match (s.markers, s.dashed) {
            (true, _) => {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|&p| Circle::new(p, 4, marker(c, s.dashed))),
                    )
                    .map_err(err)?;
            }
            (false, false) => {
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                    .map_err(err)?;
            }
            (false, true) => {
                chart
                    .draw_series(DashedLineSeries::new(
                        points.iter().copied(),
                        DASH.0,
                        DASH.1,
                        c.stroke_width(2),
                    ))
                    .map_err(err)?;
            }
        }
        if let Some((slope, offset)) = s.line {
            // ln y = slope·ln x + offset is log10 y = slope·log10 x + offset/ln 10.
            let q = offset / std::f64::consts::LN_10;
            if let Some(line) = clip(slope, q, &x_range, &y_range) {
                chart
                    .draw_series(LineSeries::new(line, c.stroke_width(1)))
                    .map_err(err)?;
            }
        }
    }
    draw_legend(&legend, series).map_err(err)?;
    root.present().map_err(err)
}

/// How many ticks to ask for: one per decade when the axis spans at least two (plotters then
/// steps by whole decades), else a few.
fn label_count(range: &std::ops::Range<f64>) -> usize {
    let decades = (range.end - range.start).abs();
    if decades >= 2.0 {
        (decades.ceil() as usize + 1).min(8)
    } else {
        5
    }
}

/// The part of the line y = m·x + q inside the box x_range × y_range, as its two ends.
fn clip(
    m: f64,
    q: f64,
    x_range: &std::ops::Range<f64>,
    y_range: &std::ops::Range<f64>,
) -> Option<[(f64, f64); 2]> {
    let (mut lo, mut hi) = (x_range.start, x_range.end);
    if m != 0.0 {
        let (a, b) = ((y_range.start - q) / m, (y_range.end - q) / m);
        lo = lo.max(a.min(b));
        hi = hi.min(a.max(b));
    } else if !(y_range.start..=y_range.end).contains(&q) {
        return None;
    }
    (lo < hi).then_some([(lo, m * lo + q), (hi, m * hi + q)])
}

/// The legend panel: one entry per series, a line or a dot in its colour and its name.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let style = ("sans-serif", 13).into_font();
    for (i, s) in series.iter().enumerate() {
        let y = 48 + 22 * i as i32;
        let c = colour(i);
        let ends = vec![(4, y), (24, y)];
        match (s.markers, s.dashed) {
            (true, _) => area.draw(&Circle::new((14, y), 4, marker(c, s.dashed)))?,
            (false, false) => area.draw(&PathElement::new(ends, c.stroke_width(2)))?,
            (false, true) => area.draw(&DashedPathElement::new(
                ends,
                DASH.0,
                DASH.1,
                c.stroke_width(2),
            ))?,
        }
        area.draw(&Text::new(s.name.clone(), (32, y - 7), style.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ranges_keep_every_point_off_the_frame() {
        // Twenty decades (a suboptimality curve): the ends are about a decade (5 % of the
        // span) inside the frame, not the 0.08 decade of a factor 1.2.
        let (hi, lo) = (0.092f64.log10(), 3e-21f64.log10());
        let pad = 0.05 * (hi - lo);
        assert!(pad > 0.9);
        let r = log10_range(&[0.092, 1e-5, 3e-21, 0.0, f64::NAN]);
        assert!((r.end - (hi + pad)).abs() < 1e-12, "{r:?}");
        assert!((r.start - (lo - pad)).abs() < 1e-12, "{r:?}");
        // A narrow range gets at least 0.1 decade, a single value ±0.3.
        let r = log10_range(&[1.0, 1.1]);
        assert!((r.start + 0.1).abs() < 1e-12 && (r.end - 1.1f64.log10() - 0.1).abs() < 1e-12);
        assert_eq!(log10_range(&[10.0]), 0.7..1.3);
        assert_eq!(log10_range(&[0.0, -1.0]), -3.0..0.0);
    }
}
