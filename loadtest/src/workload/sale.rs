//! The `sale` workload: the point-of-sale write transaction. One sale of two products:
//! insert the sale, insert its two items, decrement both products' stock. The first
//! product comes from the lower half of the ids and the second from the upper half,
//! so concurrent sales lock rows in the same order and never deadlock.

use anyhow::{Context, Result};

/// Products in the table; the first half is sold as the first item, the second half
/// as the second.
const PRODUCTS: i32 = 1000;

/// The tables, created when missing; stock large enough never to run out.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS loadtest_products (
    id int PRIMARY KEY,
    price_cents int NOT NULL,
    stock bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS loadtest_sales (
    id bigserial PRIMARY KEY,
    total_cents bigint NOT NULL,
    sold_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS loadtest_sale_items (
    sale_id bigint NOT NULL REFERENCES loadtest_sales (id),
    product_id int NOT NULL REFERENCES loadtest_products (id),
    quantity int NOT NULL,
    price_cents int NOT NULL
);
TRUNCATE loadtest_sale_items, loadtest_sales;
INSERT INTO loadtest_products (id, price_cents, stock)
    SELECT id, 500, 1000000000000 FROM generate_series(1, 1000) AS id
    ON CONFLICT (id) DO UPDATE SET stock = EXCLUDED.stock;
";

/// Inserts the sale; `$1` the total, returns its id.
pub(crate) const INSERT_SALE: &str =
    "INSERT INTO loadtest_sales (total_cents) VALUES ($1) RETURNING id";
/// Inserts both items; `$1` the sale, `$2` and `$3` the products.
pub(crate) const INSERT_ITEMS: &str = "INSERT INTO loadtest_sale_items (sale_id, product_id, quantity, price_cents) \
     VALUES ($1, $2, 1, 500), ($1, $3, 1, 500)";
/// Takes one off the stock of product `$1`.
pub(crate) const TAKE_STOCK: &str = "UPDATE loadtest_products SET stock = stock - 1 WHERE id = $1";
/// The sale's total, in cents.
pub(crate) const TOTAL_CENTS: i64 = 1000;

/// The same transaction as a pgbench script.
pub(crate) const PGBENCH_SCRIPT: &str = "\
\\set first random(1, 500)
\\set second random(501, 1000)
BEGIN;
INSERT INTO loadtest_sales (total_cents) VALUES (1000) RETURNING id \\gset
INSERT INTO loadtest_sale_items (sale_id, product_id, quantity, price_cents) VALUES (:id, :first, 1, 500), (:id, :second, 1, 500);
UPDATE loadtest_products SET stock = stock - 1 WHERE id = :first;
UPDATE loadtest_products SET stock = stock - 1 WHERE id = :second;
END;
";

/// The two products of one sale, first from the lower half of the ids.
pub(crate) fn products() -> (i32, i32) {
    (
        fastrand::i32(1..=PRODUCTS / 2),
        fastrand::i32(PRODUCTS / 2 + 1..=PRODUCTS),
    )
}

/// Creates the tables when missing, empties the sales and refills the stock.
pub(crate) async fn prepare(client: &tokio_postgres::Client) -> Result<()> {
    client
        .batch_execute(SCHEMA)
        .await
        .context("creating the sale workload's tables")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_come_from_separate_halves() {
        for _ in 0..1000 {
            let (first, second) = products();
            assert!((1..=500).contains(&first) && (501..=1000).contains(&second));
        }
        assert!(
            SCHEMA.contains("generate_series(1, 1000)"),
            "PRODUCTS and the schema agree"
        );
        assert!(
            PGBENCH_SCRIPT.contains("random(1, 500)")
                && PGBENCH_SCRIPT.contains("random(501, 1000)")
        );
    }
}
