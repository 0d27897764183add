//! 10,000 requests to the point-of-sale service whose clients disconnect mid-request:
//! afterwards no connection is leaked, no statement of the service is still running
//! on the server a second later, and the connections handed out next are in step
//! (sales placed normally are recorded exactly as sent).

use std::time::{Duration, Instant};

use poolside_tests::required_env;
use tokio::io::AsyncWriteExt;

use poolside_test_suite::PosService;

const REQUESTS: usize = 10_000;
const AT_ONCE: usize = 50;
const APPLICATION: &str = "poolside-cancel-test";

/// A raw HTTP/1.1 request for `path` (a POST when `body` is given).
fn request(path: &str, body: Option<&str>) -> String {
    match body {
        Some(body) => format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        ),
        None => format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_disconnect_mid_request_leave_no_trace() {
    let database_url = required_env("DATABASE_URL");
    let url = format!("{database_url}?application_name={APPLICATION}");
    let service = PosService::start(
        &[
            ("DATABASE_URL", &url),
            ("POOLSIDE_PROFILE", "test"),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "10"),
            ("POOLSIDE_POSTGRES__CONNECTION_TIMEOUT", "10s"),
        ],
        &database_url,
    )
    .await;
    let (db, addr, base) = (service.db.clone(), service.addr, service.base());
    let product: i64 = db
        .transaction("test_product", async |tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO pos.products (name, price_cents) VALUES ('Pretzel', 90) RETURNING id",
                    &[],
                )
                .await?
                .get(0);
            tx.execute(
                "INSERT INTO pos.inventory (product_id, quantity) VALUES ($1, 1000000)",
                &[&id],
            )
            .await?;
            Ok(id)
        })
        .await
        .expect("a product");
    let sale = format!(r#"{{"items": [{{"product_id": {product}, "quantity": 1}}]}}"#);
    let requests = [
        request("/sales", Some(&sale)),
        request(&format!("/products/{product}"), None),
        request("/sales/report?from=2000-01-01&to=2100-01-01", None),
    ];

    let started = Instant::now();
    let sent = {
        use futures_util::StreamExt;
        futures_util::stream::iter(0..REQUESTS)
            .map(|n| {
                let text = requests[n % requests.len()].clone();
                async move {
                    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
                        return false;
                    };
                    if stream.write_all(text.as_bytes()).await.is_err() {
                        return false;
                    }
                    // Disconnect while the service is at work: after 0 to 4 ms.
                    tokio::time::sleep(Duration::from_micros((n as u64 * 397) % 4000)).await;
                    drop(stream);
                    true
                }
            })
            .buffer_unordered(AT_ONCE)
            .filter(|sent| std::future::ready(*sent))
            .count()
            .await
    };
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (client, connection) = poolside::core::tokio_postgres::connect(
        &database_url,
        poolside::core::tokio_postgres::NoTls,
    )
    .await
    .expect("connects");
    tokio::spawn(connection);
    let running: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND state NOT IN ('idle')",
            &[&APPLICATION],
        )
        .await
        .expect("pg_stat_activity")
        .get(0);
    // What is still there, for the failure message.
    let still_running: Vec<String> = client
        .query(
            "SELECT state || ' for ' || (now() - state_change)::text || ': ' || left(query, 80) \
             FROM pg_stat_activity WHERE application_name = $1 AND state NOT IN ('idle')",
            &[&APPLICATION],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
        .collect();
    let stats = db.pool().stats();
    let committed: i64 = db
        .query_one(
            "SELECT count(*) FROM pos.sale_items WHERE product_id = $1",
            &[&product],
        )
        .await
        .expect("counts")
        .get(0);

    // In step: sales placed normally now are recorded exactly as sent.
    let mut placed = Vec::new();
    for quantity in 1..=50_i64 {
        let body =
            serde_json::json!({ "items": [{ "product_id": product, "quantity": quantity }] });
        let url = format!("{base}/sales");
        let response = tokio::task::spawn_blocking(move || {
            poolside_tests::http::send("POST", &url, Some(&body.to_string()))
                .map(|answer| (answer.status, answer.json()))
                .expect("answers")
        })
        .await
        .expect("runs");
        assert_eq!(response.0, 201, "{}", response.1);
        let id = response.1["id"].as_i64().expect("a sale id");
        let row = db
            .query_one(
                "SELECT sum(quantity)::bigint, count(*) FROM pos.sale_items WHERE sale_id = $1",
                &[&id],
            )
            .await
            .expect("reads the sale");
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (quantity, 1),
            "sale {id} is not as sent"
        );
        placed.push(id);
    }
    let stock_ok = service.stock_out_of_step(&[product], 1_000_000).await == 0;
    let placed_found = service.sales_found(&placed).await;

    println!(
        "{sent} requests sent and dropped by their clients in {:.1} s ({AT_ONCE} at once); \
         {committed} of the ~{} sales among them committed before the drop; a second later: \
         {running} statements of the service running on the server, {} connections checked \
         out besides the {} shared ones, {} interrupted connections discarded; then {placed_found} of {} \
         sales recorded exactly as sent",
        took.as_secs_f64(),
        REQUESTS / requests.len(),
        stats.active - stats.pipelined,
        stats.pipelined,
        stats.closed.interrupted,
        placed.len()
    );
    assert_eq!(sent, REQUESTS, "every request was sent");
    assert_eq!(placed_found, 50, "a sale placed after the drops is missing");
    assert_eq!(
        running, 0,
        "statements still running a second after their clients left: {still_running:?}"
    );
    assert_eq!(
        stats.active, stats.pipelined,
        "a connection was leaked: {stats:?}"
    );
    assert_eq!(stats.leaks, 0, "{stats:?}");
    assert!(stock_ok, "stock is not initial minus sold");
    assert!(service.is_serving(), "the service kept running");
    service.stop().await;
}
