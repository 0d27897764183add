//! The PostgreSQL systems through PgBouncer's transaction mode, each in the form its
//! documentation gives for it (named statements do not survive there): poolside in
//! PgBouncer mode, poolside's four-round-trip path of before (kept here to measure
//! against), deadpool-postgres with `query_typed`, and sqlx with its statement cache
//! off and unnamed statements. pgbench `-M extended` runs beside them (see
//! `scenarios/pgbouncer.rs`).

use anyhow::{Context, Result};
use tokio_postgres::types::Type;

use super::postgres::{deadpool_pool, poolside, poolside_config, poolside_prepared, sqlx_sale};
use super::{CONNECTION_TIMEOUT, Prepared, Target, checkout_then, deadpool_prepared};
use crate::measure::{Operation, Outcome, per_call};
use crate::workload::Workload;
use crate::workload::sale::{self, INSERT_ITEMS, INSERT_SALE, TAKE_STOCK, TOTAL_CENTS};
use crate::workload::select::{self, SELECT};

/// `target` with its database URL pointing at PgBouncer (`pgbouncer=true` kept for
/// poolside, which reads it; stripped for the others, which do not know it).
fn through_pgbouncer(target: &Target, for_poolside: bool) -> Result<Target> {
    let url = target
        .pgbouncer_url
        .as_deref()
        .context("no PgBouncer to run against: pass --pgbouncer-url")?;
    let url = if for_poolside {
        url.to_owned()
    } else {
        without_pgbouncer_flag(url)
    };
    Ok(Target {
        database_url: Some(url),
        ..target.clone()
    })
}

/// `url` without its `pgbouncer=true` parameter (poolside's and Prisma's; libpq and the
/// other drivers refuse it).
pub(crate) fn without_pgbouncer_flag(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("pgbouncer="))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// poolside in PgBouncer mode, on its default path: pipelined `query_one`, sales in
/// `PgPool::transaction`.
pub(super) async fn poolside_pgbouncer(workload: Workload, target: &Target) -> Result<Prepared> {
    poolside(
        super::System::Poolside,
        workload,
        &through_pgbouncer(target, true)?,
    )
    .await
}

/// poolside's PgBouncer path before the types were learnt once per pool, as it ran: a
/// checkout, then BEGIN, a named prepare for the parameter types, the unnamed run with
/// them, COMMIT: four round trips per statement.
pub(super) async fn poolside_four_round_trips(
    workload: Workload,
    target: &Target,
) -> Result<Prepared> {
    anyhow::ensure!(
        workload == Workload::Select,
        "poolside-pgbouncer-4rt runs the select workload only"
    );
    let target = through_pgbouncer(target, true)?;
    let config = poolside_config(&target)?.postgres;
    let pool = poolside_core::PgPool::connect(&config).await?;
    let accounts = target.data.accounts;
    let operation: Operation = {
        per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get(), |mut conn| async move {
                // BEGIN and COMMIT through the connection's own calls: the pool sees the
                // block end, and hands the connection out again without a check.
                conn.batch_execute("BEGIN").await?;
                let client = conn.client();
                let types = client.prepare(SELECT).await?.params().to_vec();
                let aid = select::account(accounts);
                client
                    .query_typed(SELECT, &[(&aid, types[0].clone())])
                    .await?;
                conn.batch_execute("COMMIT").await?;
                anyhow::Ok(())
            })
            .await
        })
    };
    Ok(poolside_prepared(pool, operation, true))
}

/// deadpool-postgres through PgBouncer: statements with the types written by hand
/// (`query_typed`, one round trip), since `prepare_cached`'s named statements do not
/// survive transaction mode.
pub(super) async fn deadpool_pgbouncer(workload: Workload, target: &Target) -> Result<Prepared> {
    let target = through_pgbouncer(target, false)?;
    let pool = deadpool_pool(&target).await?;
    let accounts = target.data.accounts;
    let operation: Operation = match workload {
        Workload::Select => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get(), |conn| async move {
                let aid = select::account(accounts);
                conn.query_typed(SELECT, &[(&aid, Type::INT4)])
                    .await
                    .map(drop)
            })
            .await
        }),
        Workload::Sale => per_call(pool.clone(), move |pool| async move {
            checkout_then(pool.get(), |mut conn| async move {
                let (first, second) = sale::products();
                let tx = conn.transaction().await?;
                let id: i64 = tx
                    .query_typed(INSERT_SALE, &[(&TOTAL_CENTS, Type::INT8)])
                    .await?[0]
                    .get(0);
                tx.execute_typed(
                    INSERT_ITEMS,
                    &[
                        (&id, Type::INT8),
                        (&first, Type::INT4),
                        (&second, Type::INT4),
                    ],
                )
                .await?;
                for product in [first, second] {
                    tx.execute_typed(TAKE_STOCK, &[(&product, Type::INT4)])
                        .await?;
                }
                tx.commit().await
            })
            .await
        }),
        _ => anyhow::bail!(
            "deadpool-pgbouncer does not run the {} workload",
            workload.name()
        ),
    };
    Ok(deadpool_prepared(pool, operation))
}

/// sqlx through PgBouncer: `statement_cache_capacity(0)`, as its documentation tells
/// PgBouncer users, and `persistent(false)` on each query, without which sqlx 0.8
/// still names every statement (and the next round trip may reach another server
/// connection, which does not have it).
pub(super) async fn sqlx_pgbouncer(workload: Workload, target: &Target) -> Result<Prepared> {
    use sqlx::ConnectOptions as _;
    let target = through_pgbouncer(target, false)?;
    let url = target.database_url.as_deref().context("no URL")?;
    let options: sqlx::postgres::PgConnectOptions = url
        .parse()
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&format!("{e}"))))?;
    let options = options
        .statement_cache_capacity(0)
        .disable_statement_logging();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(target.pool_size)
        .min_connections(target.pool_size)
        .acquire_timeout(CONNECTION_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("{}", poolside_config::redact_text(&e.to_string())))?;
    let accounts = target.data.accounts;
    let operation: Operation = match workload {
        Workload::Select => per_call(pool.clone(), move |pool| async move {
            let result: Result<(i32,), _> = sqlx::query_as(SELECT)
                .bind(select::account(accounts))
                .persistent(false)
                .fetch_one(&pool)
                .await;
            Outcome::of(result.map(drop))
        }),
        Workload::Sale => per_call(pool.clone(), move |pool| async move {
            Outcome::of(sqlx_sale(&pool, false).await)
        }),
        _ => anyhow::bail!(
            "sqlx-pgbouncer does not run the {} workload",
            workload.name()
        ),
    };
    let counted = pool.clone();
    Ok(Prepared {
        operation,
        runtimes: None,
        counts: Box::new(move || super::PoolCounts {
            open: Some(u64::from(counted.size())),
            ..super::PoolCounts::default()
        }),
        close: Box::new(move || Box::pin(async move { pool.close().await })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pgbouncer_flag_is_stripped_and_nothing_else() {
        for (url, stripped) in [
            ("postgres://a@h/db?pgbouncer=true", "postgres://a@h/db"),
            (
                "postgres://a@h/db?sslmode=disable&pgbouncer=true&application_name=x",
                "postgres://a@h/db?sslmode=disable&application_name=x",
            ),
            ("postgres://a@h/db", "postgres://a@h/db"),
        ] {
            assert_eq!(without_pgbouncer_flag(url), stripped);
        }
    }
}
