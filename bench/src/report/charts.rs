//! The benchmarks' figures, as SVG: each invocation's time over the burst, connections over
//! time, Managed Instances' throughput, the cold invocation, and the memory sweep.

use std::path::Path;

use plotters::prelude::*;

use crate::experiments::burst::BurstReport;
use crate::Result;

const NAIVE: RGBColor = RGBColor(214, 39, 40);
const GLOBAL: RGBColor = RGBColor(31, 119, 180);

/// One variant's invocations in order of start: (index, ms, cold).
pub(crate) struct InvocationSeries {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64, bool)>,
}

/// One variant's values over time: (seconds, value), and an event to mark (seconds, name).
pub(crate) struct TimeSeries {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) marker: Option<(f64, String)>,
    /// A dot at each point too (sparse series, such as one value per metric period).
    pub(crate) dots: bool,
}

pub fn durations(path: &Path, burst: &BurstReport) -> Result<()> {
    let series =
        [(&burst.naive, "naive"), (&burst.global, "global")].map(|(v, name)| InvocationSeries {
            label: format!("{name}: {}", v.function),
            points: v.points(),
        });
    invocation_times(
        path,
        &format!(
            "Handler time per invocation: {} invocations at concurrency {}",
            burst.invocations, burst.concurrency
        ),
        "handler time (ms, log scale)",
        burst.invocations as f64,
        &series,
    )
}

/// Each invocation's time, naive and global, cold invocations as triangles (log scale).
pub(crate) fn invocation_times(
    path: &Path,
    caption: &str,
    y_desc: &str,
    invocations: f64,
    series: &[InvocationSeries; 2],
) -> Result<()> {
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, ms, _)| *ms))
    };
    let max_ms = all().fold(1.0_f64, f64::max);
    let min_ms = all().fold(max_ms, f64::min).max(0.001);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..invocations.max(1.0),
            (min_ms * 0.8..max_ms * 1.25).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("invocation, in order of start")
        .x_label_formatter(&|x| format!("{}", x.round() as u64))
        .y_desc(y_desc)
        .draw()?;
    for (series, color) in series.iter().zip([NAIVE, GLOBAL]) {
        chart
            .draw_series(
                series
                    .points
                    .iter()
                    .filter(|(_, _, cold)| !cold)
                    .map(|&(x, y, _)| Circle::new((x, y), 1, color.mix(0.6).filled())),
            )?
            .label(series.label.clone())
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        // Cold invocations (first of each process) stand out.
        chart.draw_series(
            series
                .points
                .iter()
                .filter(|(_, _, cold)| *cold)
                .map(|&(x, y, _)| TriangleMarker::new((x, y), 6, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

pub fn connections(path: &Path, burst: &BurstReport) -> Result<()> {
    let series = [(&burst.naive, "naive"), (&burst.global, "global")].map(|(v, name)| {
        TimeSeries {
            label: format!("{name}: {}", v.function),
            points: v
                .samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1000.0, s.threads_connected as f64))
                .collect(),
            // SIGTERM to every container: where Lambda would reclaim them.
            marker: Some((v.sigterm_at_ms as f64 / 1000.0, format!("SIGTERM ({name})"))),
            dots: false,
        }
    });
    over_time(
        path,
        "Open database connections (sampled every 100 ms)",
        "seconds since the containers started",
        "connections",
        burst.concurrency as f64,
        &series,
    )
}

/// Values over time, naive and global, each with its marker (a vertical line).
pub(crate) fn over_time(
    path: &Path,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    y_at_least: f64,
    series: &[TimeSeries; 2],
) -> Result<()> {
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_t = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.0)
                .chain(s.marker.iter().map(|m| m.0))
        })
        .fold(1.0_f64, f64::max);
    let max_c = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(y_at_least.max(1.0), f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max_t, 0.0..max_c * 1.15)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;
    for (series, color) in series.iter().zip([NAIVE, GLOBAL]) {
        chart
            .draw_series(LineSeries::new(
                series.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(series.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        if series.dots {
            chart.draw_series(
                series
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color.filled())),
            )?;
        }
        if let Some((t, name)) = &series.marker {
            chart.draw_series(LineSeries::new(
                vec![(*t, 0.0), (*t, max_c * 1.1)],
                color.mix(0.5).stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (*t, max_c * 1.1),
                ("sans-serif", 12).into_font().color(&color),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Throughput of one Managed Instances environment: one shared connection against one per
/// concurrent invocation, per database distance (medians of the repeats).
pub fn managed_instances(
    path: &Path,
    mi: &crate::managed_instances::ManagedInstances,
) -> Result<()> {
    let root = SVGBackend::new(path, (720, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let median = |v: Vec<f64>| {
        let mut v = v;
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let bars: Vec<(usize, f64, RGBColor, String)> = mi
        .conditions
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let single = median(c.single.iter().map(|s| s.throughput_per_s).collect());
            let pool = median(c.pool.iter().map(|s| s.throughput_per_s).collect());
            [
                (2 * i, single, NAIVE, format!("{}: 1 connection", c.label)),
                (
                    2 * i + 1,
                    pool,
                    GLOBAL,
                    format!("{}: {} connections", c.label, mi.concurrency),
                ),
            ]
        })
        .collect();
    let top = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "One environment at concurrency {}: throughput (invocations/s)",
                mi.concurrency
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..bars.len() as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("invocations per second")
        .draw()?;
    for (x, value, color, label) in &bars {
        let x = *x as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x + 0.15, 0.0), (x + 0.85, *value)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (x + 0.1, value + top * 0.03),
            ("sans-serif", 12),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// The cold invocation in its parts: init, then the first invocation, stacked; the warm
/// invocation below each, for scale (p50s).
pub fn cold_start(path: &Path, rows: &[crate::experiments::cold_start::ColdRow]) -> Result<()> {
    const INIT: RGBColor = RGBColor(148, 103, 189);
    const WARM: RGBColor = RGBColor(127, 127, 127);
    let root = SVGBackend::new(path, (960, 60 + 52 * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let right = rows
        .iter()
        .map(|r| r.init.p50_ms + r.first.p50_ms)
        .fold(1.0, f64::max)
        * 1.05;
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {}", r.function, r.first_use))
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Cold invocation: init + first invocation (p50, ms); warm invocation below",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(300)
        .build_cartesian_2d(0.0..right, 0.0..rows.len() as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len() * 2 + 1)
        .y_label_formatter(&|y| {
            let i = (rows.len() as f64 - y - 0.5).round();
            match (y.fract() - 0.5).abs() < 0.01 && i >= 0.0 {
                true => labels.get(i as usize).cloned().unwrap_or_default(),
                false => String::new(),
            }
        })
        .x_desc("ms")
        .draw()?;
    for (i, r) in rows.iter().enumerate() {
        let top = rows.len() as f64 - i as f64 - 0.1;
        let (init, first) = (r.init.p50_ms, r.first.p50_ms);
        let bars = [
            (0.0, init, top - 0.4, top, INIT),
            (init, init + first, top - 0.4, top, GLOBAL),
            (0.0, r.warm.p50_ms, top - 0.75, top - 0.5, WARM),
        ];
        for (x0, x1, y0, y1, color) in bars {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x1, y1)],
                color.filled(),
            )))?;
        }
    }
    let legend = [
        (INIT, "init"),
        (GLOBAL, "first invocation"),
        (WARM, "warm invocation"),
    ];
    for (k, (color, name)) in legend.into_iter().enumerate() {
        let x = right * (0.55 + 0.15 * k as f64);
        let y = rows.len() as f64 - 0.02;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x, y - 0.12), (x + right * 0.015, y - 0.02)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            name,
            (x + right * 0.02, y - 0.01),
            ("sans-serif", 12),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// One function's memory sweep: (memory MB, warm Duration p50, Init Duration p50), in ms.
pub(crate) struct SweepSeries {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, Option<f64>, Option<f64>)>,
}

/// Warm Duration (circles) and Init Duration (triangles) against the memory size, one
/// colour per function (log scale).
pub(crate) fn memory_sweep(path: &Path, series: &[SweepSeries]) -> Result<()> {
    const COLORS: [RGBColor; 4] = [
        NAIVE,
        GLOBAL,
        RGBColor(148, 103, 189),
        RGBColor(127, 127, 127),
    ];
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let values = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|p| [p.1, p.2]).flatten())
    };
    let max_ms = values().fold(1.0_f64, f64::max);
    let min_ms = values().fold(max_ms, f64::min).max(0.001);
    let max_mb = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(256.0_f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Warm Duration (circles) and Init Duration (triangles), p50, by memory size",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..max_mb * 1.05,
            (min_ms * 0.8..max_ms * 1.25).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("memory size (MB)")
        .y_desc("ms (log scale)")
        .draw()?;
    for (s, color) in series.iter().zip(COLORS.iter().cycle().copied()) {
        let warm: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.1?))).collect();
        let init: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.2?))).collect();
        chart
            .draw_series(LineSeries::new(warm.iter().copied(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart.draw_series(warm.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        chart.draw_series(LineSeries::new(init.iter().copied(), color.mix(0.5)))?;
        chart.draw_series(
            init.iter()
                .map(|&p| TriangleMarker::new(p, 6, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
