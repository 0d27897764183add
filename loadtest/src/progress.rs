//! Progress for people: a bar per scenario on a terminal (indicatif), plain lines
//! otherwise, so that logs of CI runs stay readable.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress of one scenario.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `steps` runs, headed `title`.
    pub(crate) fn start(title: &str, steps: u64) -> Self {
        let bar = ProgressBar::new(steps);
        if let Ok(style) =
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(title.to_owned());
        bar.enable_steady_tick(Duration::from_millis(250));
        if bar.is_hidden() {
            println!("== {title}");
        }
        Self { bar }
    }

    /// Says what runs now.
    pub(crate) fn running(&self, what: &str) {
        self.bar.set_message(what.to_owned());
    }

    /// Prints a line above the bar (or just the line, without a terminal).
    pub(crate) fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            println!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// One run done.
    pub(crate) fn step(&self) {
        self.bar.inc(1);
    }

    /// The scenario is done; the bar goes away.
    pub(crate) fn finish(self) {
        self.bar.finish_and_clear();
    }
}
