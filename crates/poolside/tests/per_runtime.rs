//! One `Poolside` per single-threaded runtime in one process (one per core), each with
//! its share of the configuration (`Config::per_runtime`): their figures in
//! `/metrics` read as one pool's, one that shuts down leaves the sum, and when the last
//! one shuts down the pool reads as closed. A test binary
//! of its own, so that no other test's `Poolside` adds to the sums.

use std::num::NonZeroU32;
use std::time::Duration;

use poolside::Poolside;
use poolside::config::Config;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The value of the exported sample `series` (name and labels), if exported.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn poolsides_on_two_runtimes_report_as_one_pool() {
    let config = Config::load()
        .expect("a valid configuration")
        .config
        .per_runtime(NonZeroU32::new(2).expect("two"));
    let share = config.postgres.max_size;
    let runtimes = [runtime(), runtime()];
    let dbs: Vec<Poolside> = runtimes
        .iter()
        .map(|runtime| {
            runtime
                .block_on(Poolside::builder().config(config.clone()).build())
                .expect("PostgreSQL answers")
        })
        .collect();
    for (runtime, db) in runtimes.iter().zip(&dbs) {
        let row = runtime
            .block_on(
                db.op("per_runtime_add")
                    .query_one("SELECT $1::int4 + 1", &[&1_i32]),
            )
            .expect("runs");
        assert_eq!(row.get::<_, i32>(0), 2);
    }

    let metrics = dbs[1]
        .metrics_text()
        .expect("poolside's recorder is installed");
    let max = r#"poolside_connections_max{pool="postgres"}"#;
    assert_eq!(
        sample(&metrics, max),
        Some(f64::from(2 * share)),
        "{metrics}"
    );
    assert!(
        sample(&metrics, r#"poolside_connections_idle{pool="postgres"}"#)
            .is_some_and(|idle| idle >= f64::from(2 * config.postgres.min_idle.min(share)) - 2.0),
        "both pools' warmed connections: {metrics}"
    );
    assert!(
        metrics.contains(r#"operation="per_runtime_add",outcome="ok""#),
        "{metrics}"
    );

    // The first shuts down: the figures are the second's alone.
    runtimes[0].block_on(dbs[0].shutdown(Duration::from_secs(5)));
    let metrics = dbs[1]
        .metrics_text()
        .expect("poolside's recorder is installed");
    assert_eq!(sample(&metrics, max), Some(f64::from(share)), "{metrics}");
    // The last one shuts down: the pool reads as closed, not frozen at its last
    // figures (a utilization alert on them would never resolve).
    runtimes[1].block_on(dbs[1].shutdown(Duration::from_secs(5)));
    let metrics = dbs[1]
        .metrics_text()
        .expect("poolside's recorder is installed");
    for gauge in ["max", "idle", "active", "min"] {
        let series = format!(r#"poolside_connections_{gauge}{{pool="postgres"}}"#);
        assert_eq!(sample(&metrics, &series), Some(0.0), "{series}: {metrics}");
    }
}
