//! Runs the load test itself, briefly, against the real servers: every system of the
//! select and Redis GET workloads in `steady` (the per-core layouts and the traced
//! path included) and the tools beside them must open, run operations without a
//! failure, and land in the JSON report. What they measure here, in a debug build on
//! a busy machine, means nothing; that they run does.

use std::collections::BTreeMap;
use std::process::Command;

/// Runs `steady` of `workload` briefly for `systems` against the server that
/// `url_flag` names, and returns each system's (operations, success rate) from the
/// JSON report.
fn run(
    workload: &str,
    systems: &[&str],
    url_flag: &str,
    url: &str,
) -> BTreeMap<String, (Option<u64>, f64)> {
    let json = std::env::temp_dir().join(format!(
        "poolside-loadtest-smoke-{}-{workload}.json",
        std::process::id()
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_poolside-loadtest"))
        .args(["--scenario", "steady", "--workload", workload])
        .args(["--system", &systems.join(",")])
        .args([
            "--concurrency",
            "8",
            "--duration",
            "300ms",
            "--pool-size",
            "8",
        ])
        .args([url_flag, url])
        .args(["--json", json.to_str().expect("a UTF-8 temporary path")])
        .output()
        .expect("the load test starts");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{printed}")),
    )
    .expect("the JSON report parses");
    let _ = std::fs::remove_file(&json);
    report["results"]
        .as_array()
        .expect("a results array")
        .iter()
        .map(|row| {
            (
                row["system"].as_str().expect("a system name").to_owned(),
                (
                    row["operations"].as_u64(),
                    row["success_rate"].as_f64().expect("a rate"),
                ),
            )
        })
        .collect()
}

/// Every system named ran operations, and none failed.
fn assert_ran(results: &BTreeMap<String, (Option<u64>, f64)>, systems: &[&str]) {
    for system in systems {
        let (operations, success) = results
            .get(*system)
            .unwrap_or_else(|| panic!("{system} is missing from the report: {results:?}"));
        // pgbench and redis-benchmark report a rate, not a count.
        if let Some(operations) = operations {
            assert!(*operations > 0, "{system} ran nothing: {results:?}");
        }
        assert_eq!(*success, 1.0, "{system} had failures: {results:?}");
    }
}

#[test]
fn every_select_system_runs_against_the_real_server() {
    let url = poolside_tests::required_env("DATABASE_URL");
    let systems = [
        "poolside",
        "poolside-read",
        "poolside-read-per-core",
        "poolside-facade-per-core",
        "poolside-layered",
        "poolside-metrics",
        "poolside-traced",
        "poolside-exclusive",
        "deadpool",
        "sqlx",
        "raw-bb8",
        "raw-pipelined",
        "pgbench-prepared",
    ];
    let results = run("select", &systems, "--database-url", &url);
    assert_ran(&results, &systems);
}

#[test]
fn every_redis_system_runs_against_the_real_server() {
    let url = poolside_tests::required_env("REDIS_URL");
    let systems = [
        "poolside",
        "deadpool-redis",
        "raw-multiplexed",
        "redis-benchmark",
    ];
    let results = run("redis-get", &systems, "--redis-url", &url);
    assert_ran(&results, &systems);
}
