//! The `select` workload: pgbench's `-S`, one account by key, on pgbench's tables.

use anyhow::{Context, Result};

use crate::pgbench;

/// pgbench's `-S` statement.
pub(crate) const SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

/// A random account key among `accounts`.
pub(crate) fn account(accounts: i32) -> i32 {
    fastrand::i32(1..=accounts)
}

/// Makes sure pgbench's tables exist (`pgbench -i` when missing); returns the
/// number of accounts.
pub(crate) async fn prepare(client: &tokio_postgres::Client, url: &str) -> Result<i32> {
    match count(client).await {
        Ok(rows) if rows > 0 => Ok(rows),
        _ => {
            println!("== pgbench tables missing: pgbench -i -s 1");
            pgbench::initialise(url)?;
            count(client)
                .await
                .context("counting pgbench_accounts after pgbench -i")
        }
    }
}

async fn count(client: &tokio_postgres::Client) -> Result<i32, tokio_postgres::Error> {
    client
        .query_one("SELECT count(*)::int4 FROM pgbench_accounts", &[])
        .await
        .map(|row| row.get(0))
}
