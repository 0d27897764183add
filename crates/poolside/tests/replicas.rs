//! The facade with `postgres.replicas` naming the real standby: read-only operations
//! run there and everything else on the primary; a session's reads never miss its own
//! writes; the replicas show in the metrics and the detailed health view.

use std::time::{Duration, Instant};

use poolside::Poolside;
use poolside_tests::replica_config;

async fn db() -> Poolside {
    let db = Poolside::builder()
        .config(replica_config(&[]))
        .build()
        .await
        .expect("starts");
    let began = Instant::now();
    while !db.replicas().expect("configured").stats().replicas[0].fit {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the standby never became fit: {:?}",
            db.replicas().map(poolside::core::Replicas::stats)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db
}

async fn on_standby(db: &Poolside, read_only: bool) -> bool {
    let op = db.op("where_am_i");
    let op = if read_only { op.read_only() } else { op };
    op.query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .expect("runs")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_operations_go_to_the_standby_and_sessions_read_their_writes() {
    let db = db().await;
    assert!(on_standby(&db, true).await, "read-only: the standby");
    assert!(!on_standby(&db, false).await, "the rest: the primary");

    db.execute(
        "CREATE TABLE IF NOT EXISTS facade_receipts (id bigserial PRIMARY KEY, note text NOT NULL)",
        &[],
    )
    .await
    .expect("the table");
    let session = db.session();
    assert_eq!(session.token(), None);
    let mut standby_reads = 0;
    for i in 0..50 {
        let id: i64 = session
            .op("insert_receipt")
            .query_one(
                "INSERT INTO facade_receipts (note) VALUES ($1) RETURNING id",
                &[&format!("receipt {i}")],
            )
            .await
            .expect("inserts")
            .get(0);
        let token = session.token().expect("a write gives the session a token");
        let row = session
            .op("get_receipt")
            .read_only()
            .query_opt(
                "SELECT pg_is_in_recovery(), note FROM facade_receipts WHERE id = $1",
                &[&id],
            )
            .await
            .expect("reads");
        let row = row.unwrap_or_else(|| panic!("receipt {id} missed after its write ({token})"));
        standby_reads += usize::from(row.get::<_, bool>(0));
        assert_eq!(row.get::<_, String>(1), format!("receipt {i}"));
    }
    println!("{standby_reads} of 50 session reads ran on the standby");

    let stats = db.replicas().expect("configured").stats();
    assert!(stats.replicas[0].reads >= 1, "{stats:?}");
    let metrics = db.metrics_text().expect("poolside's recorder is installed");
    assert!(
        metrics.contains("poolside_replica_reads_total{replica=\"127.0.0.1:15433\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("poolside_replica_fit{replica=\"127.0.0.1:15433\"} 1"),
        "{metrics}"
    );
    let detailed = db.health_state().detailed().await;
    assert_eq!(
        detailed["postgres"]["replicas"]["replicas"][0]["name"], "127.0.0.1:15433",
        "{detailed}"
    );
    db.shutdown(Duration::from_secs(5)).await;
}
