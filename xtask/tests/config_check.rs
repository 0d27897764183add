//! `cargo xtask config check`, run as the real binary with a clean environment.

use std::process::{Command, Output};

const SECRET: &str = "Unique-Pa55word-7f3a";

fn config_check(vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["config", "check"])
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("xtask runs")
}

fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn min_above_max_exits_2_naming_both_variables_and_never_the_password() {
    let url = format!("postgres://app:{SECRET}@db.internal:5432/app");
    let output = config_check(&[
        ("DATABASE_URL", &url),
        ("DATABASE_POOL_MIN", "30"),
        ("DATABASE_POOL_MAX", "20"),
    ]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("DATABASE_POOL_MIN") && text.contains("DATABASE_POOL_MAX"),
        "{text}"
    );
    assert!(
        text.contains("postgres://app:****@db.internal:5432/app"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "the password was printed:\n{text}");
}

#[test]
fn a_valid_configuration_exits_0_with_every_source() {
    let url = format!("postgres://app:{SECRET}@db.internal:5432/app?pool_timeout=15");
    let output = config_check(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_PROFILE", "production"),
        ("POOLSIDE_RETRY__ATTEMPTS", "4"),
    ]);
    let text = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for expected in [
        "profile: production",
        "(env POOLSIDE_RETRY__ATTEMPTS)",
        "(URL parameter pool_timeout of postgres.url (env DATABASE_URL))",
        "(default of the production profile)",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    assert!(!text.contains(SECRET), "the password was printed:\n{text}");
}
