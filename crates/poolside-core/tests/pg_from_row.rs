//! `#[derive(FromRow)]` and the tuple impls against the real PostgreSQL: the same
//! values from a driver row (pipelined path, transactions) and a batched read row,
//! and a missing column or a NULL into a plain field as an error naming the column.

use poolside_core::{ErrorKind, FromRow, PgPool, Row, TransactionOptions};
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};

#[derive(Debug, PartialEq, FromRow)]
#[from_row(crate = "poolside_core")]
struct Product {
    id: i64,
    #[from_row(rename = "product_name")]
    name: String,
    price_cents: Option<i64>,
    #[from_row(flatten)]
    stock: Stock,
}

#[derive(Debug, PartialEq, FromRow)]
#[from_row(crate = "poolside_core")]
struct Stock {
    quantity: i32,
}

/// A tuple struct reads by position.
#[derive(Debug, PartialEq, FromRow)]
#[from_row(crate = "poolside_core")]
struct Pair(i64, String);

const PRODUCT: &str = "SELECT 7::int8 AS id, 'tea'::text AS product_name, \
     NULL::int8 AS price_cents, 3::int4 AS quantity";

fn tea() -> Product {
    Product {
        id: 7,
        name: "tea".to_owned(),
        price_cents: None,
        stock: Stock { quantity: 3 },
    }
}

async fn pool() -> PgPool {
    pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        PATIENT_CHECKOUT,
    ])
    .await
}

#[tokio::test]
async fn a_derived_struct_reads_the_same_from_every_path() {
    let pool = pool().await;
    let pipelined = pool.query_one(PRODUCT, &[]).await.expect("pipelined");
    let batched = pool
        .read_query_one(PRODUCT, &[])
        .await
        .expect("batched read");
    assert_eq!(Product::from_row(&pipelined).expect("pipelined row"), tea());
    assert_eq!(Product::from_row(&batched).expect("batched row"), tea());
    assert!(
        pool.stats().read_statements > 0,
        "the batched row came from the read path"
    );

    let in_transaction: (Product, Vec<Pair>, Option<Pair>) = pool
        .transaction(TransactionOptions::default(), async |tx| {
            let product = tx.query_one_as(PRODUCT, &[]).await?;
            let pairs = tx
                .query_as("SELECT n::int8, 'n' || n FROM generate_series(1, 2) n", &[])
                .await?;
            let none = tx
                .query_opt_as("SELECT 1::int8, 'x' WHERE false", &[])
                .await?;
            Ok((product, pairs, none))
        })
        .await
        .expect("commits");
    assert_eq!(in_transaction.0, tea());
    assert_eq!(
        in_transaction.1,
        vec![Pair(1, "n1".to_owned()), Pair(2, "n2".to_owned())]
    );
    assert_eq!(in_transaction.2, None);
}

#[tokio::test]
async fn tuples_read_the_first_columns_in_order() {
    let pool = pool().await;
    let row = pool
        .read_query_one("SELECT 1::int2, 'two'::text, true, NULL::float8", &[])
        .await
        .expect("reads");
    let (a, b, c, d) = <(i16, String, bool, Option<f64>)>::from_row(&row).expect("fits");
    assert_eq!((a, b.as_str(), c, d), (1, "two", true, None));
    let same = Row::from_row(&row).expect("a row is its own FromRow");
    assert_eq!(same.get::<_, i16>(0), 1);
}

#[tokio::test]
async fn a_row_that_does_not_fit_is_an_error_naming_the_column() {
    let pool = pool().await;
    for row in [
        pool.query_one("SELECT 7::int8 AS id", &[])
            .await
            .expect("pipelined"),
        pool.read_query_one("SELECT 7::int8 AS id", &[])
            .await
            .expect("batched"),
    ] {
        let missing = Product::from_row(&row).expect_err("no product_name column");
        assert_eq!(missing.kind(), ErrorKind::Query, "{missing}");
        assert!(missing.to_string().contains("product_name"), "{missing}");
    }
    let null = pool
        .query_one(
            "SELECT 7::int8 AS id, NULL::text AS product_name, NULL::int8 AS price_cents, 3 AS quantity",
            &[],
        )
        .await
        .expect("reads");
    let error = Product::from_row(&null).expect_err("NULL into a String");
    assert_eq!(error.kind(), ErrorKind::Query, "{error}");
    assert!(error.to_string().contains("product_name"), "{error}");
}
