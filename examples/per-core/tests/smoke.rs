//! Runs the example against the real server: two runtimes, a `Poolside` each, share
//! one port, answer settings read on the batched read path, say 404 for a setting that
//! does not exist, export both cores' pools summed as one, answer the facade's probes,
//! and stop cleanly on SIGTERM, at once on a second signal during the shutdown
//! delay; without a database it fails with a clear message.

use std::time::{Duration, Instant};

use poolside_tests::http::ServiceProcess;

#[test]
fn two_runtimes_share_the_port_answer_reads_and_stop_on_sigterm() {
    let mut service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-per-core"),
        &[
            ("DATABASE_URL", poolside_tests::required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "test".to_owned()),
            ("PER_CORE_RUNTIMES", "2".to_owned()),
        ],
        &["REDIS_URL"],
    );
    // Each request opens a connection of its own, which the kernel hands to either
    // runtime; both have opened their pools before answering.
    for _ in 0..40 {
        let answer = service
            .answer("GET", "/settings/max_connections", None)
            .expect("an answer");
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            answer.body.trim().parse::<u32>().is_ok_and(|n| n > 0),
            "{:?}",
            answer.body
        );
    }
    // Whichever core answers has sent its reads on the batched path.
    let stats = service.answer("GET", "/stats", None).expect("an answer");
    assert_eq!(stats.status, 200, "{}", stats.body);
    let sent = stats
        .body
        .lines()
        .find_map(|line| line.strip_prefix("read_statements "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(sent.is_some_and(|n| n > 0), "{}", stats.body);
    // Both cores' pools are configured alike: the exported size is twice one core's.
    let core_max = line_value(&stats.body, "max_size ").expect("a max_size line");
    let metrics = service.answer("GET", "/metrics", None).expect("an answer");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert_eq!(
        line_value(
            &metrics.body,
            "poolside_connections_max{pool=\"postgres\"} "
        ),
        Some(2 * core_max),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("poolside_connections_acquire_seconds_count{pool=\"postgres\"}"),
        "{}",
        metrics.body
    );
    // The facade's probes, each core's for its own pool.
    for probe in ["/health/live", "/health/ready"] {
        let answer = service.answer("GET", probe, None).expect("an answer");
        assert_eq!(answer.status, 200, "{probe}: {}", answer.body);
    }
    let missing = service
        .answer("GET", "/settings/no_such_setting", None)
        .expect("an answer");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.body.contains("no_such_setting"), "{}", missing.body);
    // A name PostgreSQL refuses is a bad request, not an outage.
    let refused = service
        .answer("GET", "/settings/a%00b", None)
        .expect("an answer");
    assert_eq!(refused.status, 400, "{}", refused.body);
    let exit = service.terminate();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_sigint_after_sigterm_cuts_every_cores_shutdown_delay_short() {
    const DELAY: Duration = Duration::from_secs(60);
    let mut service = ServiceProcess::start(
        env!("CARGO_BIN_EXE_poolside-example-per-core"),
        &[
            ("DATABASE_URL", poolside_tests::required_env("DATABASE_URL")),
            ("POOLSIDE_PROFILE", "test".to_owned()),
            ("PER_CORE_RUNTIMES", "2".to_owned()),
            (
                "POOLSIDE_HEALTH__SHUTDOWN_DELAY",
                format!("{}s", DELAY.as_secs()),
            ),
        ],
        &["REDIS_URL"],
    );
    service.send_sigterm();
    let first = Instant::now();
    // Out of rotation on both cores: each answers some of ten new connections.
    loop {
        let ready = (0..10)
            .filter(|_| service.call("GET", "/health/ready", None).0 == 200)
            .count();
        if ready == 0 {
            break;
        }
        assert!(first.elapsed() < Duration::from_secs(5), "still ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(service.call("GET", "/health/live", None).0, 200);
    let out_of_rotation = first.elapsed();
    let (exit, took) = service.signal_and_wait("INT");
    assert!(exit.success(), "exit after SIGINT: {exit}");
    println!(
        "out of rotation {out_of_rotation:?} after SIGTERM; exit 0 {took:?} after SIGINT \
         (shutdown delay {DELAY:?})"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// The number after `prefix` on the line that starts with it.
fn line_value(text: &str, prefix: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn without_a_database_it_says_why_and_exits_1() {
    poolside_tests::no_database::assert_exits_1_naming_the_server(
        env!("CARGO_BIN_EXE_poolside-example-per-core"),
        &[("POOLSIDE_HTTP_ADDR", "127.0.0.1:0")],
    );
}
