//! The PostgreSQL systems under test, each running pgbench's `-S` select by key: poolside
//! on both paths, and the pools a user would pick instead.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::runner::{Operation, Outcome};

/// pgbench's `-S` statement.
pub(crate) const SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

/// A system under test, by its name in the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum System {
    /// `PgPool::query_one`: the pipelined path.
    Poolside,
    /// `PgPool::get` then `query_one`: one checkout per operation.
    PoolsideExclusive,
    /// bb8 and tokio-postgres, `query_one(&str)` (prepares on every call).
    RawBb8,
    /// deadpool-postgres with `prepare_cached`.
    Deadpool,
    /// sqlx's `PgPool`.
    Sqlx,
}

impl System {
    /// Every system, in report order.
    pub(crate) const ALL: [System; 5] = [
        System::Poolside,
        System::PoolsideExclusive,
        System::Deadpool,
        System::Sqlx,
        System::RawBb8,
    ];

    /// The name in the results.
    pub(crate) fn name(self) -> &'static str {
        match self {
            System::Poolside => "poolside",
            System::PoolsideExclusive => "poolside-exclusive",
            System::RawBb8 => "raw-bb8",
            System::Deadpool => "deadpool",
            System::Sqlx => "sqlx",
        }
    }
}

/// A pool of `system` with `pool_size` connections, all open, and its operation.
pub(crate) struct Prepared {
    pub(crate) operation: Operation,
    /// Closes the pool.
    pub(crate) close:
        Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>,
}

fn aid(rows: i32) -> i32 {
    fastrand::i32(1..=rows)
}

/// Times `checkout` (the wait for a connection), then runs `work` on the connection.
async fn checkout_then<C, E, W>(
    checkout: impl Future<Output = Result<C, E>>,
    work: impl FnOnce(C) -> W,
) -> Outcome
where
    W: Future<Output = bool>,
{
    let started = Instant::now();
    match checkout.await {
        Ok(conn) => {
            let acquire = Some(started.elapsed());
            Outcome {
                ok: work(conn).await,
                acquire,
            }
        }
        Err(_) => Outcome {
            ok: false,
            acquire: Some(started.elapsed()),
        },
    }
}

/// Closes nothing (the pool closes when its last handle drops).
fn nothing_to_close() -> Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send> {
    Box::new(|| Box::pin(async {}))
}

/// Opens a pool of `system` on `url` and returns the operation that runs the select.
pub(crate) async fn prepare(
    system: System,
    url: &str,
    pool_size: u32,
    rows: i32,
) -> Result<Prepared> {
    let size = pool_size.to_string();
    match system {
        System::Poolside | System::PoolsideExclusive => {
            let env: poolside_config::EnvSnapshot = [
                ("DATABASE_URL", url),
                ("POOLSIDE_POSTGRES__MAX_SIZE", size.as_str()),
                ("POOLSIDE_POSTGRES__MIN_IDLE", size.as_str()),
                ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "30s"),
            ]
            .into_iter()
            .collect();
            let config = poolside_config::ConfigLoader::from_env(env)
                .load()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .config
                .postgres;
            let pool = poolside_core::PgPool::connect(&config).await?;
            let closing = pool.clone();
            let operation: Operation = if system == System::Poolside {
                Arc::new(move || {
                    let pool = pool.clone();
                    Box::pin(async move {
                        let ok = pool.query_one(SELECT, &[&aid(rows)]).await.is_ok();
                        Outcome { ok, acquire: None }
                    })
                })
            } else {
                Arc::new(move || {
                    let pool = pool.clone();
                    Box::pin(async move {
                        checkout_then(pool.get(), |mut conn| async move {
                            conn.query_one(SELECT, &[&aid(rows)]).await.is_ok()
                        })
                        .await
                    })
                })
            };
            Ok(Prepared {
                operation,
                close: Box::new(move || {
                    Box::pin(async move {
                        closing.close(Duration::from_secs(5)).await;
                    })
                }),
            })
        }
        System::RawBb8 => {
            let config = tokio_postgres::Config::from_str(url).context("the database URL")?;
            let manager =
                bb8_postgres::PostgresConnectionManager::new(config, tokio_postgres::NoTls);
            let pool = bb8::Pool::builder()
                .max_size(pool_size)
                .min_idle(Some(pool_size))
                .connection_timeout(Duration::from_secs(30))
                .build(manager)
                .await?;
            let operation: Operation = Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move {
                    checkout_then(pool.get_owned(), |conn| async move {
                        conn.query_one(SELECT, &[&aid(rows)]).await.is_ok()
                    })
                    .await
                })
            });
            Ok(Prepared {
                operation,
                close: nothing_to_close(),
            })
        }
        System::Deadpool => {
            let config = tokio_postgres::Config::from_str(url).context("the database URL")?;
            let manager = deadpool_postgres::Manager::from_config(
                config,
                tokio_postgres::NoTls,
                deadpool_postgres::ManagerConfig {
                    recycling_method: deadpool_postgres::RecyclingMethod::Fast,
                },
            );
            let pool = deadpool_postgres::Pool::builder(manager)
                .max_size(pool_size as usize)
                .build()?;
            let closing = pool.clone();
            let operation: Operation = Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move {
                    checkout_then(pool.get(), |conn| async move {
                        match conn.prepare_cached(SELECT).await {
                            Ok(statement) => {
                                conn.query_one(&statement, &[&aid(rows)]).await.is_ok()
                            }
                            Err(_) => false,
                        }
                    })
                    .await
                })
            });
            Ok(Prepared {
                operation,
                close: Box::new(move || Box::pin(async move { closing.close() })),
            })
        }
        System::Sqlx => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(pool_size)
                .min_connections(pool_size)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            let closing = pool.clone();
            let operation: Operation = Arc::new(move || {
                let pool = pool.clone();
                Box::pin(async move {
                    let result: Result<(i32,), _> = sqlx::query_as(SELECT)
                        .bind(aid(rows))
                        .fetch_one(&pool)
                        .await;
                    Outcome {
                        ok: result.is_ok(),
                        acquire: None,
                    }
                })
            });
            Ok(Prepared {
                operation,
                close: Box::new(move || Box::pin(async move { closing.close().await })),
            })
        }
    }
}
