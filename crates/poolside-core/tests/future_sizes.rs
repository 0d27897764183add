//! The futures of the hot paths stay about the size of the driver's own: every spawned
//! task that awaits one allocates and moves that many bytes. A rare path (a lease, a
//! prepare, a checkout that has to wait) folded into one would make every call carry
//! its state; those are boxed. No server is needed: the pools are built, not connected.

use std::future::Future;
use std::mem::size_of_val;

use poolside_config::{Profile, RedisConfig, SecretUrl};
use poolside_core::tokio_postgres::{Client, Statement};
use poolside_core::{PgPool, RedisPool};
use redis::aio::MultiplexedConnection;

/// Room for what poolside keeps beside the driver's future: the shared connection's
/// handle, the statement, the timer. A checkout's state alone is over a kilobyte
/// (before these were boxed, `query_one` took 3528 bytes against the driver's 1072,
/// and `command` 1472 against 40).
const ROOM: usize = 512;

/// The size of the future `f` returns, without calling it.
fn future_size<'a, A: 'a, B: 'a, Fut: Future>(_: impl Fn(&'a A, &'a B) -> Fut) -> usize {
    size_of::<Fut>()
}

/// The same for a function taking its first argument by `&mut`.
fn future_size_mut<'a, A: 'a, B: 'a, Fut: Future>(_: impl Fn(&'a mut A, &'a B) -> Fut) -> usize {
    size_of::<Fut>()
}

#[tokio::test]
async fn a_pipelined_statement_is_about_the_size_of_the_drivers_query() {
    let mut config = poolside_config::PostgresConfig::defaults(Profile::Production);
    config.url = SecretUrl::new("postgres://app@127.0.0.1:1/app".to_owned());
    let pool = PgPool::connect_lazy(&config).expect("builds without connecting");

    let driver = future_size(|client: &Client, statement: &Statement| client.query(statement, &[]));
    for (call, size) in [
        ("query_one", size_of_val(&pool.query_one("SELECT 1", &[]))),
        ("query", size_of_val(&pool.query("SELECT 1", &[]))),
        ("execute", size_of_val(&pool.execute("SELECT 1", &[]))),
    ] {
        assert!(
            size <= driver + ROOM,
            "PgPool::{call}'s future is {size} bytes, the driver's query {driver}"
        );
    }
}

#[tokio::test]
async fn a_redis_command_is_about_the_size_of_the_drivers() {
    let config = RedisConfig {
        url: SecretUrl::new("redis://127.0.0.1:1".to_owned()),
        ..RedisConfig::defaults(Profile::Production)
    };
    let pool = RedisPool::connect_lazy(&config).expect("builds without connecting");
    let cmd = redis::cmd("GET");

    let driver = future_size_mut(|conn: &mut MultiplexedConnection, cmd: &redis::Cmd| {
        cmd.query_async::<redis::Value>(conn)
    });
    let size = size_of_val(&pool.command::<redis::Value>(&cmd));
    assert!(
        size <= driver + ROOM,
        "RedisPool::command's future is {size} bytes, the driver's {driver}"
    );
}
