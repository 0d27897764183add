//! Runs the example against the real services: it answers 42, prints a passing
//! health summary and the status screen, and exits 0.

use std::process::Command;

#[test]
fn the_example_runs_and_exits_cleanly() {
    let output = Command::new(env!("CARGO_BIN_EXE_poolside-example-minimal"))
        .env("DATABASE_URL", poolside_tests::required_env("DATABASE_URL"))
        .env("POOLSIDE_PROFILE", "test")
        .env_remove("REDIS_URL")
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}{stderr}",
        output.status
    );
    assert!(stdout.contains("answer: 42"), "{stdout}");
    assert!(stdout.contains("health: Pass (HTTP 200)"), "{stdout}");
    assert!(stdout.contains("postgres"), "{stdout}");
    assert!(stdout.contains("shut down (0 connections"), "{stdout}");
}

#[test]
fn without_a_database_it_says_why_and_exits_1() {
    poolside_tests::no_database::assert_exits_1_naming_the_server(
        env!("CARGO_BIN_EXE_poolside-example-minimal"),
        &[],
    );
}
