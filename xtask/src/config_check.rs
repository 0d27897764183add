//! `cargo xtask config check`: the effective configuration, redacted, with each value's
//! source, then warnings and errors. Exit 0 when valid, 2 when not.

use std::process::ExitCode;

use poolside_config::ConfigLoader;

/// Loads the configuration from this process's environment and prints the report.
pub(crate) fn run() -> ExitCode {
    let report = ConfigLoader::from_process_env().check();
    println!(
        "poolside configuration (layers, lowest first: profile defaults, poolside.toml or $POOLSIDE_CONFIG, POOLSIDE_* env, legacy env, code)"
    );
    println!("{report}");
    if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
