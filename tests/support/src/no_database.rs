//! A program started against a database that is not there: it must exit 1, name the
//! server it tried, and keep the password out of what it prints.

use std::process::Command;

/// The URL given: a port nothing listens on, with a password that must not be shown.
pub const ABSENT_DATABASE_URL: &str = "postgres://app:pw@127.0.0.1:1/app";

/// Runs `program` with `DATABASE_URL` set to [`ABSENT_DATABASE_URL`], the test profile,
/// `env` set and `REDIS_URL` unset, and checks that it exits 1 saying which server it
/// could not reach, without the password.
///
/// # Panics
///
/// When the program does not run, or does otherwise.
pub fn assert_exits_1_naming_the_server(program: &str, env: &[(&str, &str)]) {
    let output = Command::new(program)
        .env("DATABASE_URL", ABSENT_DATABASE_URL)
        .env("POOLSIDE_PROFILE", "test")
        .envs(env.iter().copied())
        .env_remove("REDIS_URL")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("pw@"), "{stderr}");
}
