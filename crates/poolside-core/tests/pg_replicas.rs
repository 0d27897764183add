//! Read replicas against the real streaming standby the services start: reads marked
//! read-only spread to it; with its replay paused, a read carrying a newer token goes
//! to the primary and sees the write, and plain reads leave the replica once it lags
//! past `postgres.replica_max_lag`; with the replica unreachable, no read fails.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use poolside_core::tokio_postgres::types::ToSql;
use poolside_core::tokio_postgres::{self, NoTls};
use poolside_core::{PgAnswer, PgError, PgPool, PgRequest, ReplicaLayer, ReplicaService, Replicas};
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::{load_config, required_env};
use tower::{Layer, Service, ServiceExt};

/// The tests here share the standby, and one pauses its replay: one at a time.
static STANDBY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Routed {
    primary: PgPool,
    replicas: Replicas,
    service: ReplicaService<PgPool>,
    monitor: tokio::task::JoinHandle<()>,
}

impl Drop for Routed {
    fn drop(&mut self) {
        self.monitor.abort();
    }
}

async fn routed(replica_url: &str) -> Routed {
    let config = load_config(&[
        ("DATABASE_URL", &required_env("DATABASE_URL")),
        ("POOLSIDE_PROFILE", "test"),
        ("POOLSIDE_POSTGRES__REPLICAS", replica_url),
        ("POOLSIDE_POSTGRES__REPLICA_MAX_LAG", "1s"),
        ("POOLSIDE_POSTGRES__REPLICA_CHECK_INTERVAL", "200ms"),
    ])
    .config
    .postgres;
    let primary = PgPool::connect(&config).await.expect("the primary");
    let replicas = Replicas::connect_lazy(&config).expect("replica URLs parse");
    let monitor = tokio::spawn(replicas.clone().monitor(primary.clone()));
    let service = ReplicaLayer::new(replicas.clone()).layer(primary.clone());
    Routed {
        primary,
        replicas,
        service,
        monitor,
    }
}

impl Routed {
    async fn call(&self, request: PgRequest<'_>) -> Result<PgAnswer, PgError> {
        self.service.clone().oneshot(request).await
    }

    /// `(ran on a standby, row id exists)`, read-only, after `token`.
    async fn probe(&self, id: i32, token: Option<poolside_core::Lsn>) -> (bool, bool) {
        const PROBE: &str =
            "SELECT pg_is_in_recovery(), EXISTS (SELECT 1 FROM replica_probe_paused WHERE id = $1)";
        let params: [&(dyn ToSql + Sync); 1] = [&id];
        let mut request = PgRequest::query("probe", PROBE, &params).read_only();
        if let Some(token) = token {
            request = request.after(token);
        }
        let row = self
            .call(request)
            .await
            .expect("the probe")
            .into_one()
            .expect("one row");
        (row.get(0), row.get(1))
    }

    async fn until(&self, what: &str, mut done: impl FnMut(&poolside_core::ReplicasStats) -> bool) {
        let began = Instant::now();
        loop {
            let stats = self.replicas.stats();
            if done(&stats) {
                return;
            }
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "{what}: {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn in_recovery(routed: &Routed, read_only: bool) -> bool {
    let request = PgRequest::query("where", "SELECT pg_is_in_recovery()", &[]);
    let request = if read_only {
        request.read_only()
    } else {
        request
    };
    routed
        .call(request)
        .await
        .expect("runs")
        .into_one()
        .expect("a row")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_statements_spread_to_the_standby_and_writes_stay_on_the_primary() {
    let _standby = STANDBY.lock().await;
    let routed = routed(&required_env("DATABASE_STANDBY_URL")).await;
    assert!(
        !in_recovery(&routed, true).await,
        "never sampled yet: the primary"
    );
    routed
        .until("the standby sampled fit", |s| s.replicas[0].fit)
        .await;
    let mut on_standby = 0;
    for _ in 0..100 {
        on_standby += usize::from(in_recovery(&routed, true).await);
        assert!(
            !in_recovery(&routed, false).await,
            "not read-only: the primary"
        );
    }
    assert_eq!(on_standby, 100, "{:?}", routed.replicas.stats());
    let stats = routed.replicas.stats();
    assert!(stats.replicas[0].reads >= 100, "{stats:?}");
    assert_eq!(
        stats.replicas[0].lag_seconds.map(|l| l <= 1.0),
        Some(true),
        "{stats:?}"
    );
}

/// Replay paused on the standby for the length of `body`, resumed after it however
/// it ends.
async fn with_replay_paused<F: std::future::Future<Output = ()>>(body: F) {
    let (standby, connection) =
        tokio_postgres::connect(&required_env("DATABASE_STANDBY_URL"), NoTls)
            .await
            .expect("the standby");
    tokio::spawn(connection);
    standby
        .execute("SELECT pg_wal_replay_pause()", &[])
        .await
        .expect("pauses");
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    standby
        .execute("SELECT pg_wal_replay_resume()", &[])
        .await
        .expect("resumes");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_replay_paused_tokens_go_to_the_primary_and_lagging_replicas_get_no_reads() {
    let _standby = STANDBY.lock().await;
    let routed = routed(&required_env("DATABASE_STANDBY_URL")).await;
    let primary = &routed.primary;
    primary
        .execute(
            "CREATE TABLE IF NOT EXISTS replica_probe_paused (id serial PRIMARY KEY, at timestamptz DEFAULT now())",
            &[],
        )
        .await
        .expect("the table");
    let insert = || async {
        let row = primary
            .query_one(
                "INSERT INTO replica_probe_paused DEFAULT VALUES RETURNING id",
                &[],
            )
            .await
            .expect("inserts");
        let token = primary.wal_position().await.expect("the WAL position");
        (row.get::<_, i32>(0), token)
    };
    let (id, token) = insert().await;
    routed
        .until("the standby past the first write", |s| {
            s.replicas[0].fit && s.replicas[0].replayed >= Some(token)
        })
        .await;
    assert_eq!(routed.probe(id, Some(token)).await, (true, true));

    with_replay_paused(async {
        let (id, token) = insert().await;
        // Without the token a read may still go to the standby, which misses the row;
        // with it, the read goes to the primary and sees it.
        assert_eq!(
            routed.probe(id, Some(token)).await,
            (false, true),
            "{:?}",
            routed.replicas.stats()
        );
        assert!(routed.replicas.stats().to_primary["behind_token"] >= 1);
        // Writes go on; past the lag bound (1 s) plain reads leave the standby.
        let began = Instant::now();
        loop {
            insert().await;
            if !in_recovery(&routed, true).await {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(15),
                "reads still on the paused standby: {:?}",
                routed.replicas.stats()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stats = routed.replicas.stats();
        assert!(!stats.replicas[0].fit, "{stats:?}");
        assert!(
            stats.replicas[0]
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("postgres.replica_max_lag")),
            "{stats:?}"
        );
        assert!(stats.to_primary["replicas_lagging"] >= 1, "{stats:?}");
    })
    .await;

    // Resumed: it catches up and takes reads, tokens included, again.
    let (id, token) = insert().await;
    routed
        .until("the standby caught up", |s| {
            s.replicas[0].fit && s.replicas[0].replayed >= Some(token)
        })
        .await;
    assert_eq!(routed.probe(id, Some(token)).await, (true, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_replica_unreachable_no_read_fails() {
    let _standby = STANDBY.lock().await;
    let standby = required_env("DATABASE_STANDBY_URL");
    assert!(standby.contains("127.0.0.1:15433"), "{standby}");
    let (proxy, proxied) = FaultProxy::in_front_of(&standby).await;
    let routed = routed(&proxied).await;
    routed
        .until("the standby sampled fit", |s| s.replicas[0].fit)
        .await;

    let readers: Vec<_> = (0..8)
        .map(|_| {
            let mut service = routed.service.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut on_standby) = (0u32, Vec::new(), 0u32);
                let began = Instant::now();
                while began.elapsed() < Duration::from_secs(3) {
                    let request =
                        PgRequest::query("where", "SELECT pg_is_in_recovery()", &[]).read_only();
                    std::future::poll_fn(|cx| service.poll_ready(cx))
                        .await
                        .expect("ready");
                    match service.call(request).await {
                        Ok(answer) => {
                            ok += 1;
                            on_standby +=
                                u32::from(answer.into_one().expect("a row").get::<_, bool>(0));
                        }
                        Err(e) => failed.push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (ok, failed, on_standby)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set_mode(Mode::Refuse);
    proxy.drop_connections();
    let (mut ok, mut on_standby) = (0, 0);
    for reader in readers {
        let (reader_ok, failed, standby_reads) = reader.await.expect("a reader");
        assert!(
            failed.is_empty(),
            "{} reads failed: {:?}",
            failed.len(),
            failed.first()
        );
        ok += reader_ok;
        on_standby += standby_reads;
    }
    let stats = routed.replicas.stats();
    assert!(
        on_standby > 0 && on_standby < ok,
        "{on_standby} of {ok} on the standby: {stats:?}"
    );
    assert!(!stats.replicas[0].fit, "{stats:?}");
    assert!(
        stats.to_primary["replicas_down"] + stats.to_primary["replica_failed"] > 0,
        "{stats:?}"
    );
}
