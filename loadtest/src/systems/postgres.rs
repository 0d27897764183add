//! The PostgreSQL systems: poolside, deadpool-postgres, sqlx and raw bb8, each running
//! the `select` or the `sale` workload, and tokio-postgres alone pipelining `select`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use poolside_core::{PgConnection, PgError, TransactionOptions};

use super::{
    CONNECTION_TIMEOUT, PoolCounts, Prepared, System, Target, checkout_then, deadpool_prepared,
    nothing_to_close,
};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::Workload;
use crate::workload::sale::{self, INSERT_ITEMS, INSERT_SALE, TAKE_STOCK, TOTAL_CENTS};
use crate::workload::select::{self, SELECT};

fn unsupported(system: &str, workload: Workload) -> anyhow::Error {
    anyhow::anyhow!("{system} does not run the {} workload", workload.name())
}

/// The batched read path's connections in the load test: as many as the pipelined
/// path shares by default.
pub(super) const READ_CONNECTIONS: &str = "2";

/// poolside's `PgPool`: `query_one` (the default path, [`System::Poolside`]), a
/// checkout per operation, or `read_query_one` (the batched read path); sales run in
/// `PgPool::transaction`, the statements after the first pipelined.
pub(super) async fn poolside(
    system: System,
    workload: Workload,
    target: &Target,
) -> Result<Prepared> {
    let config = match system {
        System::PoolsideRead => poolside_config_with(
            target,
            &[("POOLSIDE_POSTGRES__READ_CONNECTIONS", READ_CONNECTIONS)],
        )?,
        _ => poolside_config(target)?,
    }
    .postgres;
    let pool = poolside_core::PgPool::connect(&config).await?;
    let accounts = target.data.accounts;
    let operation: Operation = match (workload, system) {
        (Workload::Select, System::PoolsideRead) => {
            per_call(pool.clone(), move |pool| read_select(pool, accounts))
        }
        (Workload::Select, System::Poolside) => per_call(pool.clone(), move |pool| async move {
            Outcome::of(
                pool.query_one(SELECT, &[&select::account(accounts)])
                    .await
                    .map(drop),
            )
        }),
        (Workload::Select, System::PoolsideExclusive) => {
            per_call(pool.clone(), move |pool| async move {
                checkout_then(pool.get(), |mut conn| async move {
                    conn.query_one(SELECT, &[&select::account(accounts)])
                        .await
                        .map(drop)
                })
                .await
            })
        }
        (Workload::Sale, System::Poolside) => per_call(pool.clone(), move |pool| async move {
            let sold = pool
                .transaction(TransactionOptions::default(), async |tx| {
                    poolside_sale(tx).await
                })
                .await;
            Outcome::of(sold)
        }),
        _ => return Err(unsupported(system.name(), workload)),
    };
    Ok(poolside_prepared(pool, operation, true))
}

/// The configuration of poolside's pools in the load test: the target's URL and pool
/// size, every connection open from the start, and room for every task to wait.
pub(super) fn poolside_config(target: &Target) -> Result<poolside_config::Config> {
    poolside_config_with(target, &[])
}

/// The select of a random one of `accounts` on `pool`'s batched read path.
pub(super) async fn read_select(pool: poolside_core::PgPool, accounts: i32) -> Outcome {
    Outcome::of(
        pool.read_query_one(SELECT, &[&select::account(accounts)])
            .await
            .map(drop),
    )
}

/// [`poolside_config()`], then `extra` variables.
pub(super) fn poolside_config_with(
    target: &Target,
    extra: &[(&str, &str)],
) -> Result<poolside_config::Config> {
    let url = target.poolside_database_url()?;
    let size = target.pool_size.to_string();
    let waiting = target.max_tasks.to_string();
    let env: poolside_config::EnvSnapshot = [
        ("DATABASE_URL", url.as_str()),
        ("POOLSIDE_POSTGRES__MAX_SIZE", size.as_str()),
        ("POOLSIDE_POSTGRES__MIN_IDLE", size.as_str()),
        ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "30s"),
        ("POOLSIDE_POSTGRES__MAX_WAITING", waiting.as_str()),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect();
    Ok(poolside_config::ConfigLoader::from_env(env)
        .load()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .config)
}

/// `operation` on `pool`, with the pool's counts and its close. `transaction_retries`
/// says whether the pool's count of transactions run again is all the retrying
/// there is (a retry layer above the pool retries where the pool does not see it).
pub(super) fn poolside_prepared(
    pool: poolside_core::PgPool,
    operation: Operation,
    transaction_retries: bool,
) -> Prepared {
    let counted = pool.clone();
    Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || poolside_counts(&counted, transaction_retries)),
        close: Box::new(move || {
            Box::pin(async move {
                pool.close(Duration::from_secs(5)).await;
            })
        }),
    }
}

/// What a `PgPool` reports of itself: connections opened and open, and, with
/// `transaction_retries`, its transactions run again.
pub(super) fn poolside_counts(
    pool: &poolside_core::PgPool,
    transaction_retries: bool,
) -> PoolCounts {
    let stats = pool.stats();
    PoolCounts {
        created: Some(stats.created),
        open: Some(u64::from(stats.total)),
        retries: transaction_retries.then_some(stats.transaction_retries),
        replica_reads: None,
    }
}

/// The sale on poolside: the statements after the first, whose answers it does not
/// need, are pipelined and go out with COMMIT (two round trips; deadpool's takes six).
async fn poolside_sale(tx: &mut PgConnection) -> Result<(), PgError> {
    let (first, second) = sale::products();
    let id: i64 = tx.query_one(INSERT_SALE, &[&TOTAL_CENTS]).await?.get(0);
    tx.execute_pipelined(INSERT_ITEMS, &[&id, &first, &second])
        .await?;
    tx.execute_pipelined(TAKE_STOCK, &[&first]).await?;
    tx.execute_pipelined(TAKE_STOCK, &[&second]).await?;
    Ok(())
}

pub(super) fn driver_config(target: &Target) -> Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(target.database_url()?).context("the database URL")
}

/// A deadpool-postgres pool of `target`'s size, its fast recycling method, every
/// connection open.
pub(super) async fn deadpool_pool(target: &Target) -> Result<deadpool_postgres::Pool> {
    let manager = deadpool_postgres::Manager::from_config(
        driver_config(target)?,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(target.pool_size as usize)
        .wait_timeout(Some(CONNECTION_TIMEOUT))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?;
    // deadpool opens connections on demand: open them all before measuring.
    let mut warm = Vec::new();
    for _ in 0..target.pool_size {
        warm.push(pool.get().await.map_err(|e| {
            anyhow::anyhow!(
                "connecting deadpool-postgres: {}",
                poolside_config::redact_text(&e.to_string())
            )
        })?);
    }
    drop(warm);
    Ok(pool)
}

/// deadpool-postgres with `prepare_cached`.
pub(super) async fn deadpool(workload: Workload, target: &Target) -> Result<Prepared> {
    let pool = deadpool_pool(target).await?;
    let accounts = target.data.accounts;
    let operation: Operation = match workload {
        Workload::Select => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get(), |conn| async move {
                let statement = conn.prepare_cached(SELECT).await?;
                conn.query_one(&statement, &[&select::account(accounts)])
                    .await
                    .map(drop)
            })
            .await
        }),
        Workload::Sale => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get(), |mut conn| async move {
                let (first, second) = sale::products();
                let tx = conn.transaction().await?;
                let insert_sale = tx.prepare_cached(INSERT_SALE).await?;
                let insert_items = tx.prepare_cached(INSERT_ITEMS).await?;
                let take_stock = tx.prepare_cached(TAKE_STOCK).await?;
                let id: i64 = tx.query_one(&insert_sale, &[&TOTAL_CENTS]).await?.get(0);
                tx.execute(&insert_items, &[&id, &first, &second]).await?;
                tx.execute(&take_stock, &[&first]).await?;
                tx.execute(&take_stock, &[&second]).await?;
                tx.commit().await
            })
            .await
        }),
        _ => return Err(unsupported("deadpool", workload)),
    };
    Ok(deadpool_prepared(pool, operation))
}

/// sqlx's `PgPool`, which caches prepared statements per connection.
pub(super) async fn sqlx(workload: Workload, target: &Target) -> Result<Prepared> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(target.pool_size)
        .min_connections(target.pool_size)
        .acquire_timeout(CONNECTION_TIMEOUT)
        .connect(target.database_url()?)
        .await
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&e.to_string())))?;
    let accounts = target.data.accounts;
    let operation: Operation = match workload {
        Workload::Select => per_call(pool.clone(), move |pool| async move {
            let result: Result<(i32,), _> = sqlx::query_as(SELECT)
                .bind(select::account(accounts))
                .fetch_one(&pool)
                .await;
            Outcome::of(result.map(drop))
        }),
        Workload::Sale => per_call(pool.clone(), move |pool| async move {
            Outcome::of(sqlx_sale(&pool, true).await)
        }),
        _ => return Err(unsupported("sqlx", workload)),
    };
    let counted = pool.clone();
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || PoolCounts {
            open: Some(u64::from(counted.size())),
            ..PoolCounts::default()
        }),
        close: Box::new(move || Box::pin(async move { pool.close().await })),
    })
}

/// The sale on sqlx; `persistent` false sends unnamed statements (through PgBouncer).
pub(super) async fn sqlx_sale(pool: &sqlx::PgPool, persistent: bool) -> Result<(), sqlx::Error> {
    let (first, second) = sale::products();
    let mut tx = pool.begin().await?;
    let (id,): (i64,) = sqlx::query_as(INSERT_SALE)
        .bind(TOTAL_CENTS)
        .persistent(persistent)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(INSERT_ITEMS)
        .bind(id)
        .bind(first)
        .bind(second)
        .persistent(persistent)
        .execute(&mut *tx)
        .await?;
    for product in [first, second] {
        sqlx::query(TAKE_STOCK)
            .bind(product)
            .persistent(persistent)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// bb8 and tokio-postgres as most code uses them: `query_one(&str)`, which prepares
/// the statement on every call.
pub(super) async fn raw_bb8(workload: Workload, target: &Target) -> Result<Prepared> {
    let manager =
        bb8_postgres::PostgresConnectionManager::new(driver_config(target)?, tokio_postgres::NoTls);
    let pool = bb8::Pool::builder()
        .max_size(target.pool_size)
        .min_idle(Some(target.pool_size))
        .connection_timeout(CONNECTION_TIMEOUT)
        .build(manager)
        .await?;
    let accounts = target.data.accounts;
    let operation: Operation = match workload {
        Workload::Select => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get_owned(), |conn| async move {
                conn.query_one(SELECT, &[&select::account(accounts)])
                    .await
                    .map(drop)
            })
            .await
        }),
        Workload::Sale => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get_owned(), |mut conn| async move {
                let (first, second) = sale::products();
                let tx = conn.transaction().await?;
                let id: i64 = tx.query_one(INSERT_SALE, &[&TOTAL_CENTS]).await?.get(0);
                tx.execute(INSERT_ITEMS, &[&id, &first, &second]).await?;
                tx.execute(TAKE_STOCK, &[&first]).await?;
                tx.execute(TAKE_STOCK, &[&second]).await?;
                tx.commit().await
            })
            .await
        }),
        _ => return Err(unsupported("raw-bb8", workload)),
    };
    let counted = pool.clone();
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || {
            let state = counted.state();
            PoolCounts {
                created: Some(state.statistics.connections_created),
                open: Some(u64::from(state.connections)),
                retries: None,
                replica_reads: None,
            }
        }),
        close: nothing_to_close(),
    })
}

/// tokio-postgres alone, no pool: as many connections as poolside's pipelined path
/// shares, the statement prepared once on each, every task's query pipelined on one of
/// them in turn. The ceiling of the driver poolside's default path runs on.
pub(super) async fn raw_pipelined(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(unsupported("raw-pipelined", workload));
    }
    // poolside's rule: the pipeline never takes the whole pool.
    let connections = poolside_config(target)?
        .postgres
        .shared_pipeline_connections()
        .max(1);
    let config = driver_config(target)?;
    let mut clients = Vec::new();
    for _ in 0..connections {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let statement = client.prepare(SELECT).await?;
        clients.push((client, statement));
    }
    let clients = Arc::new(clients);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accounts = target.data.accounts;
    let operation: Operation = per_call(
        (Arc::clone(&clients), next),
        move |(clients, next)| async move {
            let turn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (client, statement) = &clients[turn % clients.len()];
            Outcome::of(
                client
                    .query_one(statement, &[&select::account(accounts)])
                    .await
                    .map(drop),
            )
        },
    );
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || PoolCounts {
            open: Some(clients.len() as u64),
            ..PoolCounts::default()
        }),
        close: nothing_to_close(),
    })
}
