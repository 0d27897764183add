//! The verdict lines against made-up reports.

use super::super::test_rows::{report, report_of, row};

#[test]
fn verdicts_follow_the_figures_and_say_what_was_not_measured() {
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
            "poolside-exclusive",
            50,
            30_000.0,
            Some(3.0),
            Some(6.0),
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
            "raw-pipelined",
            50,
            70_000.0,
            Some(2.0),
            Some(5.0),
        ),
        (
            "oversubscribed",
            "select",
            "poolside",
            1000,
            90_000.0,
            Some(20.0),
            Some(1500.0),
        ),
        (
            "oversubscribed",
            "select",
            "deadpool",
            1000,
            40_000.0,
            Some(30.0),
            Some(50.0),
        ),
        (
            "stress",
            "select",
            "poolside",
            100,
            50_000.0,
            Some(10.0),
            Some(20.0),
        ),
        (
            "stress",
            "select",
            "poolside",
            200,
            50_000.0,
            Some(150.0),
            Some(200.0),
        ),
    ]);
    let verdicts = report.verdicts();
    for expected in [
        "PASS poolside vs pgbench -M prepared at 50 tasks: 1.71x",
        "FAIL poolside vs deadpool at 50 tasks: 1.50x",
        "FAIL poolside-exclusive vs deadpool at 50 tasks: 0.75x",
        "FAIL oversubscribed 1000 tasks",
        "not measured: Redis GET",
        "poolside knee 100 tasks, broke at 200",
        "not measured: soak",
        "select at 50 tasks: raw-pipelined 70000 ops/s, 2.00x pgbench-prepared, 1.75x deadpool; poolside 0.86x of it",
        "not measured: raw-multiplexed",
    ] {
        assert!(
            verdicts.contains(expected),
            "{expected:?} missing from:\n{verdicts}"
        );
    }
    let table = report.table();
    assert!(table.contains("1.71x"), "{table}");
    let json = serde_json::to_value(&report).expect("serialises");
    for field in [
        "scenario",
        "workload",
        "system",
        "concurrency",
        "pool_size",
        "ops_per_sec",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "acquire_p99_ms",
        "success_rate",
        "errors",
        "timeouts",
    ] {
        assert!(
            json["results"][0].get(field).is_some(),
            "JSON lacks {field}"
        );
    }
    assert!(json["machine"]["cores"].as_u64().is_some_and(|c| c >= 1));
    assert_eq!(json["machine"]["client_threads"].as_u64(), Some(1));
}

#[test]
fn the_batched_read_goals_compare_rates_and_client_cpu() {
    let mut results: Vec<_> = [
        ("poolside-read", 50, 180_000.0),
        ("poolside", 50, 60_000.0),
        ("pgbench-prepared", 50, 50_000.0),
        ("pgbench-pipeline", 50, 250_000.0),
        ("poolside-read", 16, 90_000.0),
        ("pgbench-prepared", 16, 50_000.0),
        ("poolside-read-per-core", 50, 200_000.0),
    ]
    .into_iter()
    .map(|(system, tasks, ops)| row("steady", "select", system, tasks, ops, None, None))
    .collect();
    for r in &mut results {
        r.client_cpu_us_per_op = match (r.key.system, r.key.concurrency) {
            ("poolside-read", 50) => Some(4.0),
            ("poolside", 50) => Some(11.0),
            _ => None,
        };
    }
    let verdicts = report_of(results).verdicts();
    for expected in [
        "PASS poolside-read vs pgbench -M prepared at 50 tasks: 3.60x",
        "FAIL poolside-read vs pgbench -M prepared at 16 tasks: 1.80x",
        "PASS poolside-read vs pgbench-pipeline at 50 tasks: 0.72x",
        "PASS poolside-read client CPU per operation vs poolside's at 50 tasks: 4.0 vs 11.0 µs",
        "PASS poolside-read-per-core vs pgbench -M prepared at 50 tasks: 4.00x",
        "not measured: poolside-read-per-core vs pgbench -M prepared at 16 tasks",
        "not measured: sale: poolside vs deadpool",
    ] {
        assert!(
            verdicts.contains(expected),
            "{expected:?} missing from:\n{verdicts}"
        );
    }
}

#[test]
fn the_cluster_goal_prints_for_both_layouts() {
    let verdicts = report_of(
        [
            ("poolside-cluster", 120_000.0),
            ("poolside-cluster-per-core", 250_000.0),
            ("redis-benchmark-cluster", 100_000.0),
        ]
        .into_iter()
        .map(|(system, ops)| row("steady", "redis-get", system, 50, ops, None, None))
        .collect(),
    )
    .verdicts();
    for expected in [
        "FAIL Redis Cluster GET: poolside-cluster vs redis-benchmark --cluster at 50 tasks: 1.20x",
        "PASS Redis Cluster GET: poolside-cluster-per-core vs redis-benchmark --cluster at 50 tasks: 2.50x",
    ] {
        assert!(
            verdicts.contains(expected),
            "{expected:?} missing from:\n{verdicts}"
        );
    }
}

#[test]
fn the_pgbouncer_goal_is_against_the_fastest_peer() {
    let row = |system, ops| ("pgbouncer", "select", system, 50, ops, Some(2.0), Some(5.0));
    let report = report(&[
        row("poolside-pgbouncer", 40_000.0),
        row("poolside-pgbouncer-4rt", 10_000.0),
        row("deadpool-pgbouncer", 20_000.0),
        row("sqlx-pgbouncer", 9_000.0),
        row("pgbench-extended", 32_000.0),
    ]);
    let verdicts = report.verdicts();
    for expected in [
        "FAIL poolside-pgbouncer vs the best peer at 50 tasks: 1.25x (40000 vs pgbench-extended 32000 ops/s; goal 1.3x)",
        "PASS poolside-pgbouncer vs its four-round-trip path at 50 tasks: 4.00x",
    ] {
        assert!(
            verdicts.contains(expected),
            "{expected:?} missing from:\n{verdicts}"
        );
    }
}
