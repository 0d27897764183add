//! Products: list, get (both cached in Redis), and create with its inventory row in
//! one transaction. A cache that is down only costs a database read.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use poolside::{FromRow, Poolside};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The list's cache key.
pub(crate) const LIST_KEY: &str = "pos:products";
/// How long a cached product or list lives.
const LIST_TTL: Duration = Duration::from_secs(30);
const PRODUCT_TTL: Duration = Duration::from_secs(60);

/// The cache key of product `id`.
pub(crate) fn product_key(id: i64) -> String {
    format!("pos:product:{id}")
}

/// A product with its stock: a row of [`LIST_SQL`] or [`GET_SQL`], read by column name.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow)]
pub(crate) struct Product {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) price_cents: i64,
    pub(crate) stock: i64,
}

/// Products with their stock, the first 1000 by id.
const LIST_SQL: &str = "SELECT p.id, p.name, p.price_cents, i.quantity AS stock \
     FROM pos.products p JOIN pos.inventory i ON i.product_id = p.id ORDER BY p.id LIMIT 1000";
/// One product with its stock.
const GET_SQL: &str = "SELECT p.id, p.name, p.price_cents, i.quantity AS stock \
     FROM pos.products p JOIN pos.inventory i ON i.product_id = p.id WHERE p.id = $1";

/// `GET /products`.
pub(crate) async fn list(State(db): State<Poolside>) -> Result<Json<Vec<Product>>, ApiError> {
    if let Ok(Some(products)) = db.cache().get::<Vec<Product>>(LIST_KEY).await {
        return Ok(Json(products));
    }
    let products: Vec<Product> = db
        .op("list_products")
        .idempotent()
        .read_only()
        .query_as(LIST_SQL, &[])
        .await?;
    cache_quietly(&db, LIST_KEY, &products, LIST_TTL).await;
    Ok(Json(products))
}

/// `GET /products/{id}`.
pub(crate) async fn get(
    State(db): State<Poolside>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Product>, ApiError> {
    let Path(id) = id?;
    let key = product_key(id);
    if let Ok(Some(product)) = db.cache().get::<Product>(&key).await {
        return Ok(Json(product));
    }
    let product: Product = db
        .op("get_product")
        .idempotent()
        .read_only()
        .query_opt_as(GET_SQL, &[&id])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no product {id}")))?;
    cache_quietly(&db, &key, &product, PRODUCT_TTL).await;
    Ok(Json(product))
}

/// The body of `POST /products`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProduct {
    name: String,
    price_cents: i64,
    #[serde(default)]
    stock: i64,
}

/// `POST /products`: the product and its inventory row, in one transaction.
pub(crate) async fn create(
    State(db): State<Poolside>,
    body: Result<Json<NewProduct>, JsonRejection>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let Json(new) = body?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    if new.price_cents < 0 {
        return Err(ApiError::invalid("price_cents must not be negative"));
    }
    if new.stock < 0 {
        return Err(ApiError::invalid("stock must not be negative"));
    }
    let (price, stock) = (new.price_cents, new.stock);
    let id = db
        .transaction("create_product", async |tx| {
            let row = tx
                .query_one(
                    "INSERT INTO pos.products (name, price_cents) VALUES ($1, $2) RETURNING id",
                    &[&name, &price],
                )
                .await?;
            let id: i64 = row.get(0);
            tx.execute(
                "INSERT INTO pos.inventory (product_id, quantity) VALUES ($1, $2)",
                &[&id, &stock],
            )
            .await?;
            Ok(id)
        })
        .await?;
    forget(&db, &[LIST_KEY]).await;
    Ok((
        StatusCode::CREATED,
        Json(Product {
            id,
            name,
            price_cents: price,
            stock,
        }),
    ))
}

/// Caches `value`; a cache that is down is logged, not an error.
async fn cache_quietly<T: Serialize + ?Sized>(db: &Poolside, key: &str, value: &T, ttl: Duration) {
    if let Err(e) = db.cache().set(key, value, Some(ttl)).await {
        tracing::debug!(error = %e, key, "not cached");
    }
}

/// Drops cached entries after a change; a cache that is down is logged, not an error
/// (its entries expire on their own).
pub(crate) async fn forget(db: &Poolside, keys: &[&str]) {
    if let Err(e) = db.cache().del(keys).await {
        tracing::warn!(error = %e, "cache entries not invalidated; they expire on their own");
    }
}
