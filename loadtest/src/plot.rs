//! The chart (`--plot`): throughput and p99 latency against concurrency for each
//! system in `steady / select`, as SVG (plotters).

use std::path::Path;

use anyhow::{Result, bail};
use plotters::prelude::*;

use super::report::Report;

/// One system's points: (tasks, ops/s, p99 ms).
#[derive(Debug)]
struct Series {
    system: &'static str,
    points: Vec<(f64, f64, Option<f64>)>,
}

fn series(report: &Report) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for group in report
        .groups()
        .into_iter()
        .filter(|g| g.scenario == "steady" && g.workload == "select" && g.phase.is_none())
    {
        for system in report.systems(&group) {
            let Some(row) = report.median(&group, system) else {
                continue;
            };
            let point = (group.concurrency as f64, row.ops_per_sec, row.p99_ms);
            match all.iter_mut().find(|s| s.system == system) {
                Some(s) => s.points.push(point),
                None => all.push(Series {
                    system,
                    points: vec![point],
                }),
            }
        }
    }
    all
}

/// Draws a line with points per series, `value` picking each point's y, and the
/// legend.
fn lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
    value: impl Fn(&(f64, f64, Option<f64>)) -> Option<f64>,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (index, s) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|p| Some((p.0, value(p)?)))
            .collect();
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.system)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}

/// Draws the chart into `path`.
pub(crate) fn draw(report: &Report, path: &Path) -> Result<()> {
    let series = series(report);
    if series.is_empty() {
        bail!("nothing to draw: steady / select did not run");
    }
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::MAX, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let x_range = (x_min * 0.8)..(x_max * 1.25);
    let max_ops = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let p99s = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.2));
    let (p99_min, p99_max) = p99s.fold((f64::MAX, 0.0_f64), |(lo, hi), p| (lo.min(p), hi.max(p)));

    let root = SVGBackend::new(path, (1300, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(650);

    let mut throughput = ChartBuilder::on(&left)
        .caption("steady / select: throughput", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.clone().log_scale(), 0.0..max_ops * 1.1)?;
    throughput
        .configure_mesh()
        .x_desc("concurrent tasks")
        .y_desc("ops/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    lines(&mut throughput, &series, |p| Some(p.1))?;

    if p99_max > 0.0 {
        let mut latency = ChartBuilder::on(&right)
            .caption("steady / select: p99 latency", ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                x_range.log_scale(),
                ((p99_min * 0.8).max(0.01)..p99_max * 1.25).log_scale(),
            )?;
        latency
            .configure_mesh()
            .x_desc("concurrent tasks")
            .y_desc("p99 ms (log)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            .draw()?;
        // pgbench reports no percentiles: it has no line here.
        lines(&mut latency, &series, |p| p.2)?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_rows::report;

    #[test]
    fn draws_every_system_of_steady_select() {
        let report = report(&[
            (
                "steady",
                "select",
                "poolside",
                50,
                60_000.0,
                Some(2.0),
                Some(5.0),
            ),
            (
                "steady",
                "select",
                "deadpool",
                50,
                40_000.0,
                Some(3.0),
                Some(6.0),
            ),
            (
                "steady",
                "select",
                "pgbench-prepared",
                50,
                35_000.0,
                None,
                None,
            ),
            (
                "steady",
                "select",
                "poolside",
                1000,
                90_000.0,
                Some(20.0),
                Some(50.0),
            ),
            (
                "steady",
                "select",
                "deadpool",
                1000,
                40_000.0,
                Some(30.0),
                Some(60.0),
            ),
        ]);
        let dir = std::env::temp_dir().join(format!("poolside-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("chart.svg");
        draw(&report, &path).expect("draws");
        let svg = std::fs::read_to_string(&path).expect("written");
        for system in ["poolside", "deadpool", "pgbench-prepared"] {
            assert!(svg.contains(system), "legend names {system}");
        }
        assert!(svg.contains("<polyline"), "lines drawn");
        let _ = std::fs::remove_dir_all(&dir);

        let empty = Report {
            results: vec![],
            ..report
        };
        assert!(
            draw(&empty, &path).is_err(),
            "nothing to draw is an error, not an empty chart"
        );
    }
}
