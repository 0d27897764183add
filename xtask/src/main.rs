//! `cargo xtask`: poolside's one entry for dev chores.
//!
//! ```text
//! cargo xtask services up|down|status|env   throwaway PostgreSQL, Redis and PgBouncer
//! cargo xtask services restart|failover|failback   faults for the fault tests
//! cargo xtask test                          everything a merge needs, as CI runs it
//! cargo xtask config check                  the effective configuration, with sources
//! cargo xtask loadtest                      poolside against pgbench and the other pools
//! ```

mod cargo;
mod config_check;
mod kubernetes_validate;
mod loadtest;
mod paths;
mod services;
mod test;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  services up       start throwaway PostgreSQL 15 (and a streaming standby), Redis 7
                    and PgBouncer on loopback
  services up redis-sentinel|redis-cluster|everything
                    on demand: a Redis Sentinel group (primary :16380, replica
                    :16381, sentinels :16390-16392; and one over TLS, primary
                    :16450, replica :16451, sentinel :16452), a Redis Cluster (three
                    primaries and three replicas, :16400-16405, over TLS
                    :16410-16415), or all of it
  services down     stop exactly what `services up` started
  services status   say what runs, and where
  services env      print `export` lines for DATABASE_URL, DATABASE_STANDBY_URL,
                    DATABASE_SECRET_URL, DATABASE_CERT_URL, REDIS_URL,
                    REDIS_TLS_URL, REDIS_ACL_URL, REDIS_SENTINELS,
                    REDIS_MASTER_NAME, REDIS_SENTINELS_TLS,
                    REDIS_MASTER_NAME_TLS, REDIS_CLUSTER_NODES,
                    REDIS_CLUSTER_TLS_NODES, PGBOUNCER_URL, and the test
                    certificates (DATABASE_TLS_CA, DATABASE_TLS_OTHER_CA,
                    TLS_CLIENT_CERT/_KEY, TLS_OTHER_CLIENT_CERT/_KEY)
  services restart postgres [fast|immediate|kill]
                    stop PostgreSQL as `pg_ctl stop -m fast|immediate` does (or kill -9
                    its postmaster), then start it again
  services failover [--read-only]
                    stop the primary (or turn it read-only), promote the standby
  services failback the primary back in charge, the standby copied from it anew
  services failover redis
                    SENTINEL FAILOVER on the Sentinel group, waiting for the new primary
  services kill redis|redis-primary|redis-node N|pgbouncer
                    SIGKILL to Redis, to the Sentinel group's primary, to node N
                    (1-6) of the cluster, or to PgBouncer (`services up [group]`
                    starts it again)
  services reshard redis N
                    move N slots from the Redis Cluster's fullest primary to its
                    emptiest (`redis-cli --cluster reshard`); refused if that
                    would leave the fullest none
  services stop postgres|postgres-standby
                    stop the primary or the streaming standby (`services up` starts
                    it again)
  test              services up, fmt, clippy, the crates without default features,
                    docs, tests, fault and overload tests, a million configuration
                    property cases, a minute of cargo fuzz, cargo-deny,
                    services down (installs the tools it runs: Debian
                    packages as root, cargo-deny and cargo-fuzz, and
                    kubernetes-validate from PyPI)
  config check      print the effective configuration with each value's source
  loadtest          poolside against pgbench, deadpool, sqlx and raw bb8
                    (`cargo xtask loadtest --help` for its flags)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["services", "up", set @ ..] => services::Set::parse(set)
            .and_then(services::up)
            .map(|_| ExitCode::SUCCESS),
        ["services", "restart", "postgres", mode @ ..] => services::RestartMode::parse(mode)
            .and_then(services::restart_postgres)
            .map(|()| ExitCode::SUCCESS),
        ["services", "failover", "redis"] => services::failover_redis().map(|()| ExitCode::SUCCESS),
        ["services", "failover", rest @ ..] => {
            services::failover(rest == ["--read-only"]).map(|()| ExitCode::SUCCESS)
        }
        ["services", "failback"] => services::failback().map(|()| ExitCode::SUCCESS),
        ["services", "kill", "redis"] => services::kill_redis().map(|()| ExitCode::SUCCESS),
        ["services", "kill", "pgbouncer"] => services::kill_pgbouncer().map(|()| ExitCode::SUCCESS),
        ["services", "kill", "redis-primary"] => {
            services::kill_redis_primary().map(|()| ExitCode::SUCCESS)
        }
        ["services", "reshard", "redis", slots] => {
            services::reshard_redis(slots).map(|()| ExitCode::SUCCESS)
        }
        ["services", "kill", "redis-node", n] => {
            services::kill_redis_cluster_node(n).map(|()| ExitCode::SUCCESS)
        }
        ["services", "stop", key @ ("postgres" | "postgres-standby")] => {
            services::stop_keys(&[key]);
            Ok(ExitCode::SUCCESS)
        }
        ["services", "down"] => services::down().map(|()| ExitCode::SUCCESS),
        ["services", "status"] => services::status(),
        ["services", "env"] => services::print_env().map(|()| ExitCode::SUCCESS),
        ["test"] => test::run(),
        ["config", "check"] => Ok(config_check::run()),
        ["loadtest", rest @ ..] => loadtest::run(rest),
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprint!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
