//! The `--plot FILE.svg` figures of `tikhonov path` and `tikhonov cv` (plotters, SVG backend:
//! no font or image libraries; the viewer renders the text).

use std::path::Path;

use plotters::prelude::*;
use tikhonov::Error;
use tikhonov::select::CvCurve;

const SIZE: (u32, u32) = (800, 500);
/// Colours of successive coefficient paths, cycled.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

pub fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("cannot draw the plot: {e}")),
    }
}

/// The range of positive `values` on a log axis, padded a little on both sides.
pub fn log_range(values: &[f64]) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .iter()
        .filter(|v| **v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 1e-3..1.0;
    }
    if lo == hi {
        return lo / 2.0..hi * 2.0;
    }
    lo / 1.2..hi * 1.2
}

/// A linear range covering `values`, padded by 5 %.
fn linear_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05)
        .max(hi.abs().max(lo.abs()) * 1e-9)
        .max(1e-300);
    lo - pad..hi + pad
}

/// Draws the legend and writes the file.
fn finish<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    path: &Path,
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    legend: SeriesLabelPosition,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let err = |e| plot_error(path, e);
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// The cross-validation curve: the mean error against λ (log axis), a band of ± one standard
/// error where there is one, and vertical lines at `lambda_min` and `lambda_1se`.
pub fn cv_curve(path: &Path, curve: &CvCurve, title: &str) -> Result<(), Error> {
    let err = |e| plot_error(path, e);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let se = curve
        .se
        .clone()
        .unwrap_or_else(|| vec![0.0; curve.mean.len()]);
    let y_range = linear_range(curve.mean.iter().zip(&se).flat_map(|(m, s)| [m - s, m + s]));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(log_range(&curve.lambdas).log_scale(), y_range.clone())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("λ (log scale)")
        .y_desc(match curve.method.as_str() {
            "gcv" => "GCV(λ)",
            _ => "held-out error",
        })
        .draw()
        .map_err(err)?;
    let mut points: Vec<(f64, f64, f64)> = curve
        .lambdas
        .iter()
        .zip(&curve.mean)
        .zip(&se)
        .map(|((l, m), s)| (*l, *m, *s))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    if curve.se.is_some() {
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.0, p.1 + p.2))
            .chain(points.iter().rev().map(|p| (p.0, p.1 - p.2)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, PALETTE[0].mix(0.2))))
            .map_err(err)?
            .label("± one standard error")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 4), (x + 16, y + 4)], PALETTE[0].mix(0.2).filled())
            });
    }
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (p.0, p.1)),
            PALETTE[0].stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("mean ({})", curve.method))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], PALETTE[0].stroke_width(2)));
    for (lambda, name, colour) in [
        (curve.lambda_min, "lambda_min", PALETTE[3]),
        (curve.lambda_1se, "lambda_1se", PALETTE[2]),
    ] {
        chart
            .draw_series(LineSeries::new(
                [(lambda, y_range.start), (lambda, y_range.end)],
                colour.stroke_width(1),
            ))
            .map_err(err)?
            .label(format!("{name} = {lambda:.3e}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        if curve.se.is_none() {
            break; // without standard errors lambda_1se is lambda_min
        }
    }
    // The error grows with λ, so the upper left is where the curve is not.
    finish(path, chart, &root, SeriesLabelPosition::UpperLeft)
}

/// Coefficient paths: wⱼ(λ) for every feature j against λ (log axis). `coef[k]` holds the d
/// coefficients at `lambdas[k]`; with many features only the first 40 get a legend entry.
pub fn coefficient_paths(
    path: &Path,
    lambdas: &[f64],
    coef: &[Vec<f64>],
    names: &[String],
    title: &str,
) -> Result<(), Error> {
    let err = |e| plot_error(path, e);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let y_range = linear_range(coef.iter().flatten().copied());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(log_range(lambdas).log_scale(), y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("λ (log scale)")
        .y_desc("coefficient")
        .draw()
        .map_err(err)?;
    let d = coef.first().map_or(0, Vec::len);
    let mut order: Vec<usize> = (0..lambdas.len()).collect();
    order.sort_by(|&a, &b| lambdas[a].total_cmp(&lambdas[b]));
    for j in 0..d {
        let colour = PALETTE[j % PALETTE.len()];
        let series = chart
            .draw_series(LineSeries::new(
                order.iter().map(|&k| (lambdas[k], coef[k][j])),
                colour.stroke_width(2),
            ))
            .map_err(err)?;
        if j < 40 {
            let name = names.get(j).cloned().unwrap_or_else(|| format!("w[{j}]"));
            series
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
    }
    // The paths meet at 0 for large λ, so the lower right is usually free.
    finish(path, chart, &root, SeriesLabelPosition::LowerRight)
}
