//! README's "Use it", compiled: the snippet between the markers below must be the
//! README's first `rust` block, line for line, so that the first code a user copies
//! builds against today's API.

// The snippet shows values and fields it does not go on to use.
#![allow(unused_variables, dead_code)]

use std::error::Error;

/// The snippet's statements, in a function of the values it leaves to the reader: a
/// choice, the service's listener, and a future that resolves on SIGTERM.
#[rustfmt::skip] // Kept as README shows it.
async fn use_it<Sigterm: Future<Output = ()> + Send + 'static>(
    by_name: bool,
    listener: tokio::net::TcpListener,
    sigterm: Sigterm,
) -> Result<(), Box<dyn Error>> {
// README "Use it" begins
use poolside::{FromRow, Poolside};

#[derive(FromRow)]                                 // each field reads the column of its name
struct Product { id: i64, name: String }

let db = Poolside::from_env().await?;              // DATABASE_URL, REDIS_URL, POOLSIDE_*
let row = db.op("get_product").idempotent()
    .query_one("SELECT name FROM products WHERE id = $1", &[&7_i64]).await?;
// Typed rows. Reads only: with POOLSIDE_POSTGRES__READ_CONNECTIONS=2, reads sent at the
// same time go out together under one Sync, on read-only connections (a replica, when set).
let product: Product = db.op("get_product").read_only()
    .query_one_as("SELECT id, name FROM products WHERE id = $1", &[&7_i64]).await?;
// SQL built at run time runs through the same stack; metrics name the operation, not the text.
let column = if by_name { "name" } else { "id" };  // from a fixed set, never user text
let sorted: Vec<Product> = db.op("list_products")
    .query_as(format!("SELECT id, name FROM products ORDER BY {column}"), &[]).await?;
// A transaction is an async closure: BEGIN/COMMIT, rolled back on error, re-run on 40001.
// A statement whose answer it does not need is pipelined: it goes out with COMMIT.
let sale_id: i64 = db.transaction("create_sale", async |tx| {
    let id: i64 = tx.query_one("INSERT INTO sales DEFAULT VALUES RETURNING id", &[]).await?.get(0);
    tx.execute_pipelined("UPDATE stock SET quantity = quantity - 1 WHERE product_id = $1", &[&product.id]).await?;
    Ok(id)
}).await?;
let app = axum::Router::new().merge(db.router());  // /health/live, /health/ready, ..., /metrics
let leaving = db.clone();                          // On SIGTERM, /health/ready answers 503 but
axum::serve(listener, app)                         // the service serves on (health.shutdown_delay)
    .with_graceful_shutdown(async move { sigterm.await; leaving.leave_rotation().await })
    .await?;                                       // until load balancers stop sending to it.
db.shutdown(std::time::Duration::from_secs(10)).await;
// README "Use it" ends
Ok(())
}

/// The text of `file` from the line after `begin` up to the line `end`.
fn between(file: &'static str, begin: &str, end: &str) -> &'static str {
    let (_, after) = file
        .split_once(begin)
        .unwrap_or_else(|| panic!("{begin:?} is missing"));
    let (inside, _) = after
        .split_once(end)
        .unwrap_or_else(|| panic!("{end:?} is missing"));
    inside
}

#[test]
fn readme_shows_the_snippet_compiled_here() {
    // Named so that the compiler checks that the function, and so the snippet, builds.
    let _compiled = use_it::<std::future::Pending<()>>;
    let readme = between(include_str!("../../../README.md"), "```rust\n", "```\n");
    let here = between(
        include_str!("readme.rs"),
        "// README \"Use it\" begins\n",
        "// README \"Use it\" ends\n",
    );
    assert_eq!(
        readme, here,
        "README.md's \"Use it\" and crates/poolside/tests/readme.rs differ: change both \
         alike, so that the README shows code that compiles"
    );
}
