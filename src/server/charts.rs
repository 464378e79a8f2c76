//! Line charts for the console, written as inline SVG on the server: a sparkline for a card,
//! a line chart with its range and first/last labels for a wider panel. Pages need no script
//! and no chart library; a chart is a string placed in the HTML.
//!
//! Every chart says its numbers in words (`role="img"`, an `aria-label` and a `<title>`), so a
//! screen reader hears what a sighted reader sees. Points are evenly spaced in the order given
//! (a series of snapshots, not a time axis); a point without a value is a gap in the line.
//! Lines are drawn in `currentColor`, so a chart takes the colour of the text around it;
//! `console.css` styles the `chart-*` classes.
//!
//! Architecture Invariant: pure functions from numbers and labels to text, no I/O; every text
//! that reaches the SVG is escaped.

use super::console::esc;

/// One point of a series: what it is called (a time, a snapshot) and its value; `None` when
/// there is no value there (the line breaks).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: Option<f64>,
}

impl Point {
    pub fn new(label: impl Into<String>, value: impl Into<Option<f64>>) -> Self {
        Self {
            label: label.into(),
            value: value.into().filter(|value| value.is_finite()),
        }
    }
}

/// How a chart is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// What the chart shows, in words (`Batches in the queue`): its accessible name.
    pub title: String,
    /// Written after each value in the words (`items`, `USD`); empty for none.
    pub unit: String,
    /// What the points are, in the plural (`points`, `snapshots`), for the words.
    pub noun: String,
    pub width: u32,
    pub height: u32,
    /// Draw the range (lowest and highest value) and the first and last labels.
    pub axes: bool,
}

/// The margins around the plot, in SVG units.
struct Frame {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl LineChart {
    /// A small chart without axes, for a card (160 × 40).
    pub fn sparkline(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            unit: unit.into(),
            noun: "points".into(),
            width: 160,
            height: 40,
            axes: false,
        }
    }

    /// A chart with its range and first and last labels (480 × 160).
    pub fn with_axes(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            unit: unit.into(),
            noun: "points".into(),
            width: 480,
            height: 160,
            axes: true,
        }
    }

    /// The same chart, its points called `noun` (plural) in the words.
    pub fn of(mut self, noun: impl Into<String>) -> Self {
        self.noun = noun.into();
        self
    }

    fn frame(&self) -> Frame {
        if self.axes {
            Frame {
                left: 44.0,
                right: 8.0,
                top: 8.0,
                bottom: 22.0,
            }
        } else {
            // Room for the last point's dot.
            Frame {
                left: 3.0,
                right: 3.0,
                top: 3.0,
                bottom: 3.0,
            }
        }
    }

    fn amount(&self, value: f64) -> String {
        if self.unit.is_empty() {
            number(value)
        } else {
            format!("{} {}", number(value), self.unit)
        }
    }

    /// The chart in words: its title, how many points, first, latest, lowest and highest.
    pub fn describe(&self, points: &[Point]) -> String {
        let values: Vec<(usize, f64)> = points
            .iter()
            .enumerate()
            .filter_map(|(index, point)| point.value.map(|value| (index, value)))
            .collect();
        let gaps = points.len() - values.len();
        let (Some(&(first_index, first)), Some(&(last_index, latest))) =
            (values.first(), values.last())
        else {
            return format!("{}: no data", self.title);
        };
        let lowest = values
            .iter()
            .map(|(_, value)| *value)
            .fold(f64::MAX, f64::min);
        let highest = values
            .iter()
            .map(|(_, value)| *value)
            .fold(f64::MIN, f64::max);
        let first_label = &points[first_index].label;
        let last_label = &points[last_index].label;
        let mut words = if values.len() == 1 {
            format!("{}: {} at {first_label}", self.title, self.amount(latest))
        } else if lowest == highest {
            format!(
                "{}: {} at each of {} {} from {first_label} to {last_label}",
                self.title,
                self.amount(latest),
                values.len(),
                self.noun
            )
        } else {
            format!(
                "{}: {} {} from {first_label} to {last_label}; first {}, latest {}, lowest {}, highest {}",
                self.title,
                values.len(),
                self.noun,
                self.amount(first),
                self.amount(latest),
                self.amount(lowest),
                self.amount(highest)
            )
        };
        if gaps > 0 {
            words.push_str(&format!("; {gaps} of {} without a value", points.len()));
        }
        words
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self, points: &[Point]) -> String {
        let words = esc(&self.describe(points));
        let (width, height) = (f64::from(self.width), f64::from(self.height));
        let kind = if self.axes { "line-chart" } else { "sparkline" };
        let open = format!(
            "<svg class=\"chart {kind}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{words}\"><title>{words}</title>",
            w = self.width,
            h = self.height,
        );
        let values: Vec<f64> = points.iter().filter_map(|point| point.value).collect();
        if values.is_empty() {
            return format!(
                "{open}<text class=\"chart-note\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"currentColor\">no data</text></svg>",
                x = coordinate(width / 2.0),
                y = coordinate(height / 2.0),
            );
        }
        let frame = self.frame();
        let (plot_width, plot_height) = (
            width - frame.left - frame.right,
            height - frame.top - frame.bottom,
        );
        let lowest = values.iter().copied().fold(f64::MAX, f64::min);
        let highest = values.iter().copied().fold(f64::MIN, f64::max);
        let bottom = frame.top + plot_height;
        let x = |index: usize| {
            if points.len() == 1 {
                frame.left + plot_width / 2.0
            } else {
                frame.left + plot_width * index as f64 / (points.len() - 1) as f64
            }
        };
        let y = |value: f64| {
            if highest > lowest {
                frame.top + plot_height * (highest - value) / (highest - lowest)
            } else if value == 0.0 {
                // Nothing but zeros: a line along the bottom reads as "nothing".
                bottom
            } else {
                frame.top + plot_height / 2.0
            }
        };
        // Runs of consecutive points with values: each is one stretch of line.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut run: Vec<(f64, f64)> = Vec::new();
        for (index, point) in points.iter().enumerate() {
            match point.value {
                Some(value) => run.push((x(index), y(value))),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        let mut svg = open;
        if self.axes {
            let axis_x = coordinate(frame.left - 4.0);
            svg.push_str(&format!(
                "<g class=\"chart-axis\" fill=\"currentColor\" font-size=\"11\"><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"currentColor\" stroke-opacity=\"0.3\"/><line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"currentColor\" stroke-opacity=\"0.3\"/>",
                left = coordinate(frame.left),
                right = coordinate(width - frame.right),
                top = coordinate(frame.top),
                bottom = coordinate(bottom),
            ));
            if highest > lowest {
                svg.push_str(&format!(
                    "<text x=\"{axis_x}\" y=\"{y}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
                    esc(&number(highest)),
                    y = coordinate(y(highest)),
                ));
            }
            svg.push_str(&format!(
                "<text x=\"{axis_x}\" y=\"{y}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
                esc(&number(lowest)),
                y = coordinate(y(lowest)),
            ));
            let label_y = coordinate(height - 6.0);
            let first = &points[0].label;
            let last = &points[points.len() - 1].label;
            if points.len() == 1 {
                svg.push_str(&format!(
                    "<text x=\"{x}\" y=\"{label_y}\" text-anchor=\"middle\">{}</text>",
                    esc(first),
                    x = coordinate(x(0)),
                ));
            } else {
                svg.push_str(&format!(
                    "<text x=\"{x0}\" y=\"{label_y}\" text-anchor=\"start\">{}</text><text x=\"{x1}\" y=\"{label_y}\" text-anchor=\"end\">{}</text>",
                    esc(first),
                    esc(last),
                    x0 = coordinate(frame.left),
                    x1 = coordinate(width - frame.right),
                ));
            }
            svg.push_str("</g>");
        }
        for run in &runs {
            if run.len() < 2 {
                continue;
            }
            let line: String = run
                .iter()
                .enumerate()
                .map(|(index, (x, y))| {
                    format!(
                        "{}{},{}",
                        if index == 0 { 'M' } else { 'L' },
                        coordinate(*x),
                        coordinate(*y)
                    )
                })
                .collect();
            let (first_x, last_x) = (run[0].0, run[run.len() - 1].0);
            svg.push_str(&format!(
                "<path class=\"chart-area\" d=\"{line}L{last_x},{bottom}L{first_x},{bottom}Z\" fill=\"currentColor\" fill-opacity=\"0.08\" stroke=\"none\"/><path class=\"chart-line\" d=\"{line}\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>",
                last_x = coordinate(last_x),
                first_x = coordinate(first_x),
                bottom = coordinate(bottom),
            ));
        }
        // A value with no neighbour has no line: a dot shows it.
        for run in runs.iter().filter(|run| run.len() == 1) {
            svg.push_str(&format!(
                "<circle class=\"chart-point\" cx=\"{}\" cy=\"{}\" r=\"2\" fill=\"currentColor\"/>",
                coordinate(run[0].0),
                coordinate(run[0].1)
            ));
        }
        if let Some((last_x, last_y)) = runs.last().and_then(|run| run.last()) {
            svg.push_str(&format!(
                "<circle class=\"chart-last\" cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"currentColor\"/>",
                coordinate(*last_x),
                coordinate(*last_y)
            ));
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A value as people read it: whole numbers without decimals, others with at most two.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An SVG coordinate with one decimal.
fn coordinate(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[Option<f64>]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(index, value)| Point::new(format!("s{}", index + 1), *value))
            .collect()
    }

    fn spark(values: &[Option<f64>]) -> String {
        LineChart::sparkline("Batches in the queue", "items").render(&points(values))
    }

    /// The `d` of every `chart-line` path.
    fn lines(svg: &str) -> Vec<&str> {
        svg.split("<path class=\"chart-line\" d=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect()
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn a_series_is_one_line_scaled_to_its_range_with_the_latest_point_marked() {
        let svg = spark(&[Some(2.0), Some(4.0), Some(6.0)]);
        assert_eq!(lines(&svg), vec!["M3,37L80,20L157,3"]);
        assert!(svg.contains("<circle class=\"chart-last\" cx=\"157\" cy=\"3\""));
        assert!(svg.starts_with("<svg class=\"chart sparkline\""));
        assert!(svg.contains("role=\"img\""));
        let words = "Batches in the queue: 3 points from s1 to s3; first 2 items, latest 6 items, lowest 2 items, highest 6 items";
        assert!(svg.contains(&format!("aria-label=\"{words}\"")), "{svg}");
        assert!(svg.contains(&format!("<title>{words}</title>")), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn empty_series_and_series_without_values_say_no_data() {
        for values in [&[][..], &[None, None][..]] {
            let svg = spark(values);
            assert!(svg.contains("aria-label=\"Batches in the queue: no data\""));
            assert!(svg.contains(">no data</text>"));
            assert!(lines(&svg).is_empty());
            assert_eq!(count(&svg, "<circle"), 0);
        }
    }

    #[test]
    fn one_point_is_a_dot_in_the_middle() {
        let svg = spark(&[Some(5.0)]);
        assert!(lines(&svg).is_empty(), "{svg}");
        assert!(svg.contains("<circle class=\"chart-point\" cx=\"80\" cy=\"20\""));
        assert!(svg.contains("<circle class=\"chart-last\" cx=\"80\" cy=\"20\""));
        assert!(svg.contains("aria-label=\"Batches in the queue: 5 items at s1\""));
    }

    #[test]
    fn equal_values_are_a_flat_line_in_the_middle_and_zeros_along_the_bottom() {
        let svg = spark(&[Some(3.0), Some(3.0), Some(3.0)]);
        assert_eq!(lines(&svg), vec!["M3,20L80,20L157,20"]);
        assert!(svg.contains("3 items at each of 3 points from s1 to s3"));
        let svg = spark(&[Some(0.0), Some(0.0)]);
        assert_eq!(lines(&svg), vec!["M3,37L157,37"]);
        assert!(svg.contains("0 items at each of 2 points"));
        // Zero among other values is the bottom of the range like any lowest value.
        let svg = spark(&[Some(0.0), Some(10.0)]);
        assert_eq!(lines(&svg), vec!["M3,37L157,3"]);
    }

    #[test]
    fn a_missing_value_breaks_the_line_and_is_counted_in_words() {
        let svg = spark(&[
            Some(1.0),
            Some(2.0),
            None,
            Some(2.0),
            Some(3.0),
            None,
            Some(1.0),
        ]);
        assert_eq!(lines(&svg).len(), 2, "{svg}");
        assert_eq!(
            count(&svg, "chart-point"),
            1,
            "the lone last value is a dot"
        );
        assert!(svg.contains("; 2 of 7 without a value\""), "{svg}");
        let svg = spark(&[Some(f64::NAN), Some(1.0)]);
        assert!(
            svg.contains("1 of 2 without a value\""),
            "not-a-number is no value"
        );
    }

    #[test]
    fn the_points_can_be_named() {
        let chart = LineChart::sparkline("Batches in the queue", "").of("snapshots");
        let words = chart.describe(&points(&[Some(1.0), Some(2.0)]));
        assert_eq!(
            words,
            "Batches in the queue: 2 snapshots from s1 to s2; first 1, latest 2, lowest 1, highest 2"
        );
    }

    #[test]
    fn text_is_escaped() {
        let chart = LineChart::with_axes("<script>\"x\" & 'y'</script>", "<b>");
        let svg = chart.render(&[Point::new("<i>first</i>", 1.5), Point::new("a & b", -2.0)]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("<b>") && !svg.contains("<i>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"));
        assert!(svg.contains("&lt;i&gt;first&lt;/i&gt;</text>"));
        assert!(svg.contains(">a &amp; b</text>"));
        assert!(
            svg.contains("first 1.5 &lt;b&gt;, latest -2 &lt;b&gt;"),
            "{svg}"
        );
    }

    #[test]
    fn a_chart_with_axes_labels_its_range_and_its_ends() {
        let chart = LineChart::with_axes("Pending approvals", "");
        let svg = chart.render(&points(&[Some(1.0), Some(7.0), Some(4.0)]));
        assert!(svg.starts_with("<svg class=\"chart line-chart\""));
        assert!(svg.contains("viewBox=\"0 0 480 160\""));
        assert_eq!(lines(&svg), vec!["M44,138L258,8L472,73"]);
        for label in [">7</text>", ">1</text>", ">s1</text>", ">s3</text>"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        insta::assert_snapshot!("line_chart_with_axes", svg);
        // One point: a single label under it and only the one value on the axis.
        let svg = chart.render(&points(&[Some(4.0)]));
        assert_eq!(count(&svg, "<text"), 2, "{svg}");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(6.0), "6");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(0.126), "0.13");
        assert_eq!(coordinate(37.0), "37");
        assert_eq!(coordinate(20.26), "20.3");
    }
}
