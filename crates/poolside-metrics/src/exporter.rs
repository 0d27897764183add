//! [`Exporter`]: the Prometheus recorder behind the `metrics` macros, and the text it
//! renders for `/metrics`, with samplers run and registered pools summed before each
//! render so that pool gauges are fresh at every scrape.

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;

use crate::names;
use crate::pool_sources::PoolSources;

/// Latency buckets, in seconds, of every `_seconds` histogram: 0.5 ms to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type Sampler = Box<dyn Fn() + Send + Sync>;

/// Why the exporter could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the Prometheus recorder could not be installed ({reason}): the application may have \
     installed its own metrics recorder; poolside's figures go to that one, so serve its \
     output instead"
)]
pub struct ExporterError {
    reason: String,
}

impl From<BuildError> for ExporterError {
    fn from(error: BuildError) -> Self {
        Self {
            reason: error.to_string(),
        }
    }
}

/// The process's Prometheus exporter. Cloning is cheap: clones share one recorder.
///
/// # Examples
///
/// ```
/// let exporter = poolside_metrics::Exporter::global().expect("no other recorder");
/// metrics::counter!("poolside_example_total").increment(1);
/// assert!(exporter.render().contains("poolside_example_total 1"));
/// ```
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    samplers: Arc<Mutex<Vec<Sampler>>>,
    reports: Arc<Mutex<Reports>>,
}

/// The pool sources registered with [`Exporter::report`], each with its number.
#[derive(Default)]
struct Reports {
    next: u64,
    sources: Vec<(u64, PoolSources)>,
    /// What the last render wrote of them.
    written: crate::pool_sources::Written,
}

/// A registration of [`PoolSources`] with the exporter: they are reported until it is
/// dropped (when their owner shuts down or goes away).
#[must_use = "the sources are reported only while this is held"]
pub struct Reported {
    number: u64,
    reports: Arc<Mutex<Reports>>,
}

impl std::fmt::Debug for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reported")
            .field("number", &self.number)
            .finish()
    }
}

impl Drop for Reported {
    fn drop(&mut self) {
        self.reports
            .lock()
            .sources
            .retain(|(number, _)| *number != self.number);
    }
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Result<Exporter, ExporterError>> = OnceLock::new();

impl Exporter {
    /// The process's exporter, installed as the global `metrics` recorder on the first
    /// call (with every metric's help text); later calls return the same one.
    ///
    /// # Errors
    ///
    /// When another global recorder was installed first.
    pub fn global() -> Result<Self, ExporterError> {
        GLOBAL.get_or_init(Self::install).clone()
    }

    fn install() -> Result<Self, ExporterError> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
            .install_recorder()?;
        names::describe();
        crate::otel_names::describe();
        Ok(Self {
            handle,
            samplers: Arc::default(),
            reports: Arc::default(),
        })
    }

    /// Reports `sources` at every render until the returned [`Reported`] is dropped,
    /// summed with every other set registered in the process under the same labels
    /// (see [`PoolSources`]).
    pub fn report(&self, sources: PoolSources) -> Reported {
        let mut reports = self.reports.lock();
        reports.next += 1;
        let number = reports.next;
        reports.sources.push((number, sources));
        Reported {
            number,
            reports: Arc::clone(&self.reports),
        }
    }

    /// Runs `sample` before every render (to set pool gauges from fresh statistics).
    pub fn add_sampler(&self, sample: impl Fn() + Send + Sync + 'static) {
        self.samplers.lock().push(Box::new(sample));
    }

    /// Every metric in the Prometheus text format, samplers run first.
    pub fn render(&self) -> String {
        for sample in self.samplers.lock().iter() {
            sample();
        }
        // Held while recording, so that two renders close a pool in order.
        let mut reports = self.reports.lock();
        let sources: Vec<PoolSources> = reports.sources.iter().map(|(_, s)| s.clone()).collect();
        crate::pool_sources::record_sum(&sources, &mut reports.written);
        drop(reports);
        self.handle.run_upkeep();
        self.handle.render()
    }
}
