//! `GET /sales/report?from=YYYY-MM-DD&to=YYYY-MM-DD`: sales and revenue per product
//! over a range of days (both included, UTC).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use poolside::{FromRow, Poolside};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The query string.
#[derive(Debug, Deserialize)]
pub(crate) struct Range {
    from: Option<String>,
    to: Option<String>,
}

/// One product's sales in the range: a row of the report's query, by column name.
#[derive(Debug, Serialize, FromRow)]
pub(crate) struct ProductSales {
    product_id: i64,
    name: String,
    quantity: i64,
    revenue_cents: i64,
}

/// The report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    from: String,
    to: String,
    sales: i64,
    total_cents: i64,
    products: Vec<ProductSales>,
}

/// `value` when it has the shape of a date (`2026-11-22`); the database checks that
/// the day exists.
fn date(name: &str, value: Option<String>) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} is missing: give ?from=YYYY-MM-DD&to=YYYY-MM-DD"
        ))
    })?;
    let shape = value.len() == 10
        && value.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(ApiError::bad_request(format!(
            "{name} must be a date such as 2026-11-22, not {value:?}"
        )));
    }
    Ok(value)
}

/// `GET /sales/report`.
pub(crate) async fn report(
    State(db): State<Poolside>,
    range: Result<Query<Range>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let Query(range) = range?;
    let (from, to) = (date("from", range.from)?, date("to", range.to)?);
    if from > to {
        return Err(ApiError::bad_request(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    // On an exclusive connection, not the pipelined path: a report scans the sales, and
    // a client that leaves mid-report gets its query cancelled on the server (a
    // pipelined one would run to its end). One read-only snapshot for both figures.
    let (totals, products) = db
        .transaction("sales_report", async |tx| {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?;
            let totals: (i64, i64) = tx
                .query_one_as(
                    "SELECT count(*), COALESCE(sum(total_cents), 0)::bigint FROM pos.sales \
                     WHERE created_at >= $1::text::date AND created_at < $2::text::date + 1",
                    &[&from, &to],
                )
                .await?;
            let products: Vec<ProductSales> = tx
                .query_as(
                    "SELECT si.product_id, p.name, sum(si.quantity)::bigint AS quantity, \
                     sum(si.quantity * si.price_cents)::bigint AS revenue_cents \
                     FROM pos.sale_items si JOIN pos.sales s ON s.id = si.sale_id \
                     JOIN pos.products p ON p.id = si.product_id \
                     WHERE s.created_at >= $1::text::date AND s.created_at < $2::text::date + 1 \
                     GROUP BY si.product_id, p.name ORDER BY si.product_id",
                    &[&from, &to],
                )
                .await?;
            Ok((totals, products))
        })
        .await?;
    Ok(Json(Report {
        from,
        to,
        sales: totals.0,
        total_cents: totals.1,
        products,
    }))
}
