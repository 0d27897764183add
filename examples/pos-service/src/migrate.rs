//! The schema, created on start by the service's own migration (idempotent, and
//! serialized between instances by an advisory lock), on `DATABASE_URL_DIRECT` when
//! set: PgBouncer's transaction mode is no place for DDL.

use poolside::core::tokio_postgres::{self, NoTls};

/// Every statement of the schema, in order.
const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS pos;
CREATE TABLE IF NOT EXISTS pos.products (
    id bigserial PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pos.inventory (
    product_id bigint PRIMARY KEY REFERENCES pos.products (id),
    quantity bigint NOT NULL CHECK (quantity >= 0)
);
CREATE TABLE IF NOT EXISTS pos.sales (
    id bigserial PRIMARY KEY,
    total_cents bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS pos.sale_items (
    sale_id bigint NOT NULL REFERENCES pos.sales (id),
    product_id bigint NOT NULL REFERENCES pos.products (id),
    quantity bigint NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL,
    PRIMARY KEY (sale_id, product_id)
);
CREATE INDEX IF NOT EXISTS sales_created_at ON pos.sales (created_at);
";

/// A key for `pg_advisory_xact_lock`, so that instances starting together migrate
/// one after the other.
const LOCK_KEY: i64 = 0x0070_6f73_5f6d_6967; // "pos_mig" in ASCII

/// Applies the schema over its own connection to `url`.
///
/// # Errors
///
/// When the server cannot be reached or refuses a statement.
pub async fn run(url: &str) -> Result<(), tokio_postgres::Error> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    transaction.batch_execute(SCHEMA).await?;
    transaction.commit().await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}
