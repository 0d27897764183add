//! Sales: create one (lock the items' stock rows in id order, refuse to oversell,
//! decrement, record the sale and its items, all in one transaction, re-run on a
//! serialization failure or deadlock), and read one back. With read replicas
//! (`postgres.replicas`), a new sale carries `read_after`, the primary's WAL position
//! after its commit; `GET /sales/{id}?after=...` reads on a replica only once that
//! replica has replayed it, so a receipt read right after its sale never misses it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use poolside::{FromRow, Lsn, Poolside};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::products::{LIST_KEY, forget, product_key};

/// Most lines one sale may have.
const MAX_LINES: usize = 100;
/// Most units of one product in one sale.
const MAX_QUANTITY: i64 = 1_000_000;

/// One line of a sale, as asked.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Line {
    product_id: i64,
    quantity: i64,
}

/// The body of `POST /sales`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSale {
    items: Vec<Line>,
}

/// One line of a recorded sale.
#[derive(Debug, Clone, Serialize, FromRow)]
pub(crate) struct SaleItem {
    product_id: i64,
    quantity: i64,
    price_cents: i64,
}

/// A recorded sale.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sale {
    id: i64,
    total_cents: i64,
    created_at: String,
    items: Vec<SaleItem>,
    /// With read replicas: the token a read of this sale carries (`?after=`) to see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_after: Option<String>,
}

/// The query of `GET /sales/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadAfter {
    /// The `read_after` of the sale's creation.
    after: Option<String>,
}

/// Why a sale was refused without changing anything.
enum Refused {
    UnknownProduct(i64),
    OutOfStock {
        product: i64,
        available: i64,
        wanted: i64,
    },
    /// The total does not fit in a 64-bit count of cents.
    TotalTooLarge,
}

/// What `items` cost in all, or `None` when it does not fit in an `i64` (prices are
/// only bounded below, so a large price times a large quantity can pass it).
fn total_cents(items: &[SaleItem]) -> Option<i64> {
    items.iter().try_fold(0i64, |total, item| {
        total.checked_add(item.quantity.checked_mul(item.price_cents)?)
    })
}

/// Checks the lines and returns them by product id (the order rows are locked in, so
/// that concurrent sales never deadlock).
fn validate(sale: &NewSale) -> Result<BTreeMap<i64, i64>, ApiError> {
    if sale.items.is_empty() || sale.items.len() > MAX_LINES {
        return Err(ApiError::invalid(format!(
            "a sale has 1 to {MAX_LINES} items"
        )));
    }
    let mut lines = BTreeMap::new();
    for line in &sale.items {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(ApiError::invalid(format!(
                "quantity of product {} must be 1 to {MAX_QUANTITY}, not {}",
                line.product_id, line.quantity
            )));
        }
        if lines.insert(line.product_id, line.quantity).is_some() {
            return Err(ApiError::invalid(format!(
                "product {} appears twice: give one line per product",
                line.product_id
            )));
        }
    }
    Ok(lines)
}

/// `POST /sales`.
pub(crate) async fn create(
    State(db): State<Poolside>,
    body: Result<Json<NewSale>, JsonRejection>,
) -> Result<(StatusCode, Json<Sale>), ApiError> {
    let Json(sale) = body?;
    let lines = validate(&sale)?;
    let ids: Vec<i64> = lines.keys().copied().collect();
    let outcome = db
        .transaction("create_sale", async |tx| {
            let stock: Vec<(i64, i64, i64)> = tx
                .query_as(
                    "SELECT p.id, p.price_cents, i.quantity FROM pos.products p \
                     JOIN pos.inventory i ON i.product_id = p.id \
                     WHERE p.id = ANY($1) ORDER BY p.id FOR UPDATE OF i",
                    &[&ids],
                )
                .await?;
            let found: BTreeMap<i64, (i64, i64)> = stock
                .into_iter()
                .map(|(id, price, quantity)| (id, (price, quantity)))
                .collect();
            let mut items = Vec::with_capacity(lines.len());
            for (&product, &wanted) in &lines {
                let Some(&(price, available)) = found.get(&product) else {
                    return Ok(Err(Refused::UnknownProduct(product)));
                };
                if available < wanted {
                    return Ok(Err(Refused::OutOfStock {
                        product,
                        available,
                        wanted,
                    }));
                }
                items.push(SaleItem {
                    product_id: product,
                    quantity: wanted,
                    price_cents: price,
                });
            }
            let Some(total) = total_cents(&items) else {
                return Ok(Err(Refused::TotalTooLarge));
            };
            let (id, created_at): (i64, String) = tx
                .query_one_as(
                    "INSERT INTO pos.sales (total_cents) VALUES ($1) \
                     RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                    &[&total],
                )
                .await?;
            // Pipelined: their answers come with COMMIT's, in the same round trip.
            for item in &items {
                tx.execute_pipelined(
                    "UPDATE pos.inventory SET quantity = quantity - $2 WHERE product_id = $1",
                    &[&item.product_id, &item.quantity],
                )
                .await?;
                tx.execute_pipelined(
                    "INSERT INTO pos.sale_items (sale_id, product_id, quantity, price_cents) \
                     VALUES ($1, $2, $3, $4)",
                    &[&id, &item.product_id, &item.quantity, &item.price_cents],
                )
                .await?;
            }
            Ok(Ok(Sale {
                id,
                total_cents: total,
                created_at,
                items,
                read_after: None,
            }))
        })
        .await?;
    let mut sale = match outcome {
        Ok(sale) => sale,
        Err(Refused::UnknownProduct(id)) => {
            return Err(ApiError::not_found(format!("no product {id}")));
        }
        Err(Refused::OutOfStock {
            product,
            available,
            wanted,
        }) => {
            return Err(ApiError::conflict(format!(
                "not enough stock of product {product}: {available} left, {wanted} wanted"
            )));
        }
        Err(Refused::TotalTooLarge) => {
            return Err(ApiError::invalid(format!(
                "the sale's total is over {} cents, the most one sale can record: split it",
                i64::MAX
            )));
        }
    };
    let keys: Vec<String> = ids.iter().map(|&id| product_key(id)).collect();
    let mut stale: Vec<&str> = keys.iter().map(String::as_str).collect();
    stale.push(LIST_KEY);
    forget(&db, &stale).await;
    if db.replicas().is_some() {
        // The sale is committed: a failure here costs only the token, and its reads
        // then go to the primary.
        sale.read_after = db.wal_position().await.ok().map(|lsn| lsn.to_string());
    }
    Ok((StatusCode::CREATED, Json(sale)))
}

/// `GET /sales/{id}`.
pub(crate) async fn get(
    State(db): State<Poolside>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<ReadAfter>, QueryRejection>,
) -> Result<Json<Sale>, ApiError> {
    let Path(id) = id?;
    let Query(ReadAfter { after }) = query?;
    let after: Option<Lsn> = match after {
        Some(text) => Some(
            text.parse()
                .map_err(|e| ApiError::invalid(format!("after: {e}")))?,
        ),
        None => None,
    };
    let op = |name| {
        let op = db.op(name).idempotent().read_only();
        match after {
            Some(after) => op.after(after),
            None => op,
        }
    };
    let (id, total_cents, created_at): (i64, i64, String) = op("get_sale")
        .query_opt_as(
            "SELECT id, total_cents, \
             to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
             FROM pos.sales WHERE id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no sale {id}")))?;
    let items = op("get_sale_items")
        .query_as(
            "SELECT product_id, quantity, price_cents FROM pos.sale_items \
             WHERE sale_id = $1 ORDER BY product_id",
            &[&id],
        )
        .await?;
    Ok(Json(Sale {
        id,
        total_cents,
        created_at,
        items,
        read_after: None,
    }))
}
