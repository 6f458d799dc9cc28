//! Plots of a memory timeline (plotters): memory over time, FUNC brackets, the peak, the
//! command as title; SVG or PNG by the file's extension.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::mprof::{Sample, Timeline};
use crate::census::guard;
use crate::sys::atomic;
use crate::{Error, Result};

const SIZE: (u32, u32) = (1200, 700);
const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans as plotters' sans-serif font (text layout needs real
/// font metrics, for SVG too; no system font is used, so PNGs render anywhere).
fn fonts() {
    static ONCE: Once = Once::new();
    // A fork-safe section (`sys::fork`): a child of `fork()` never finds the registration
    // half done by a thread of its parent.
    crate::census::guard::internal(|| {
        crate::sys::fork::section(|| {
            ONCE.call_once(|| {
                let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
                let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
            })
        })
    });
}

/// Colors of FUNC brackets, in turn.
const FUNC_COLORS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
];

fn draw_err(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Draw {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

impl Timeline {
    /// Draws the timeline to `path`, as SVG or PNG by its extension (`.svg`, `.png`), in the
    /// manner of `mprof plot`: memory over time (seconds from the first sample), each
    /// profiled call as a pair of brackets `[ ]` at its entry and return, a dashed line at
    /// the peak, the recorded command as the title; RSS (when the file has both the exact
    /// heap and RSS) and child processes as further lines. The file is written atomically.
    ///
    /// ```
    /// # #[global_allocator]
    /// # static CENSUS: heapy::Census = heapy::Census::new();
    /// let dir = tempfile::tempdir().unwrap();
    /// let dat = dir.path().join("run.dat");
    /// std::fs::write(&dat, "CMDLINE demo\nMEM 1.0 100.0\nMEM 8.0 100.5\nMEM 2.0 101.0\n\
    ///                       FUNC demo::load 1.0 100.1 8.0 100.6 0\n").unwrap();
    /// let t = heapy::mprof::Timeline::load(&dat).unwrap();
    /// t.plot(dir.path().join("plot.svg")).unwrap();
    /// t.plot(dir.path().join("plot.png")).unwrap();
    /// let svg = std::fs::read_to_string(dir.path().join("plot.svg")).unwrap();
    /// assert!(svg.contains("demo::load") && svg.contains("time (in seconds)"));
    /// assert!(t.plot(dir.path().join("plot.gif")).is_err());
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        guard::internal(|| {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if self.mem().is_empty() {
                return Err(Error::CannotPlot {
                    path: path.to_path_buf(),
                    reason: "nothing to plot: the timeline has no MEM samples",
                });
            }
            if self.axes().is_none() {
                return Err(Error::CannotPlot {
                    path: path.to_path_buf(),
                    reason: "the times or MiB figures are too far apart to plot",
                });
            }
            fonts();
            match ext.as_deref() {
                Some("svg") => {
                    let mut svg = String::new();
                    {
                        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                        self.draw(&root).map_err(|e| draw_err(path, e))?;
                        root.present().map_err(|e| draw_err(path, e))?;
                    }
                    atomic::write(path, svg.as_bytes())
                }
                Some("png") => {
                    // plotters encodes the PNG itself when it presents the picture: draw into
                    // a temporary .png beside the target, then move it into place.
                    atomic::write_with(path, "png", |tmp| {
                        let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
                        self.draw(&root).map_err(|e| draw_err(path, e))?;
                        root.present().map_err(|e| draw_err(path, e))
                    })
                }
                _ => Err(Error::UnsupportedPlotFormat {
                    path: path.to_path_buf(),
                }),
            }
        })
    }

    /// The first time, the time span and the highest MiB figure of everything drawn, or
    /// `None` when the axes would not be finite (plotters loops forever on an infinite
    /// range: finite figures such as -1e308 and 1e308 still span an infinite one).
    fn axes(&self) -> Option<(f64, f64, f64)> {
        let all_times = self
            .mem()
            .iter()
            .chain(self.rss())
            .chain(self.children().iter().flat_map(|(_, v)| v.iter()))
            .map(|s| s.time)
            .chain(self.funcs().iter().flat_map(|f| [f.start.time, f.end.time]));
        let t0 = all_times.clone().fold(f64::INFINITY, f64::min);
        let t1 = all_times.fold(f64::NEG_INFINITY, f64::max);
        let span = (t1 - t0).max(1e-3);
        let top = self
            .mem()
            .iter()
            .chain(self.rss())
            .chain(self.children().iter().flat_map(|(_, v)| v.iter()))
            .map(|s| s.mib)
            .chain(self.funcs().iter().flat_map(|f| [f.start.mib, f.end.mib]))
            .fold(0.0f64, f64::max)
            .max(1e-3);
        // The drawing pads both axes a little; the padded ends must be finite too.
        (t0.is_finite() && (span * 1.02).is_finite() && (top * 1.12).is_finite())
            .then_some((t0, span, top))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let mem = self.mem();
        // `plot` checked that the axes are finite.
        let (t0, span, top) = self.axes().unwrap_or((0.0, 1.0, 1.0));
        let title = self.cmdline().unwrap_or("memory over time");
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..span * 1.02, 0.0..top * 1.12)?;
        chart
            .configure_mesh()
            .x_desc("time (in seconds)")
            .y_desc("memory used (in MiB)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;

        let rel = |s: &Sample| (s.time - t0, s.mib);
        let heap_and_rss = !self.rss().is_empty();
        let mem_label = if heap_and_rss {
            "heap (exact)"
        } else {
            "memory"
        };
        let blue = RGBColor(31, 119, 180);
        chart
            .draw_series(LineSeries::new(mem.iter().map(rel), blue.stroke_width(2)))?
            .label(mem_label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], blue.stroke_width(2)));
        if heap_and_rss {
            let gray = RGBColor(127, 127, 127);
            chart
                .draw_series(LineSeries::new(
                    self.rss().iter().map(rel),
                    gray.stroke_width(1),
                ))?
                .label("RSS")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], gray));
        }
        for (i, (id, samples)) in self.children().iter().enumerate() {
            let c = Palette99::pick(i + 3).to_rgba();
            chart
                .draw_series(LineSeries::new(samples.iter().map(rel), c.stroke_width(1)))?
                .label(format!("child {id}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c));
        }

        // FUNC brackets: `[` at entry, `]` at return, one color per function name.
        let (bw, bh) = (span * 0.008, top * 0.04);
        let mut names: Vec<&str> = Vec::new();
        for f in self.funcs() {
            let (k, first) = match names.iter().position(|n| *n == f.name) {
                Some(k) => (k, false),
                None => {
                    names.push(&f.name);
                    (names.len() - 1, true)
                }
            };
            let c = FUNC_COLORS[k % FUNC_COLORS.len()];
            let (xa, ya) = rel(&f.start);
            let (xb, yb) = rel(&f.end);
            let open = [
                (xa + bw, ya - bh),
                (xa, ya - bh),
                (xa, ya + bh),
                (xa + bw, ya + bh),
            ];
            let close = [
                (xb - bw, yb - bh),
                (xb, yb - bh),
                (xb, yb + bh),
                (xb - bw, yb + bh),
            ];
            let series = chart.draw_series([
                PathElement::new(open, c.stroke_width(2)),
                PathElement::new(close, c.stroke_width(2)),
            ])?;
            if first {
                series.label(f.name.clone()).legend(move |(x, y)| {
                    PathElement::new(
                        [(x + 6, y - 5), (x, y - 5), (x, y + 5), (x + 6, y + 5)],
                        c.stroke_width(2),
                    )
                });
            }
        }

        if let Some(peak) = self.peak() {
            let red = RGBColor(200, 30, 30);
            let (px, py) = rel(&peak);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, py), (span * 1.02, py)],
                    8,
                    5,
                    red.stroke_width(1),
                ))?
                .label(format!("peak {:.2} MiB at {:.2} s", peak.mib, px))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], red));
            chart.draw_series([Circle::new((px, py), 4, red.filled())])?;
        }

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        Ok(())
    }
}
