//! What a caller leaves on a session, against the real PostgreSQL: a BEGIN or a SET
//! through a call on the pool is refused before it is sent; an exclusive connection
//! that goes back inside a transaction block is closed (the server rolls the block
//! back) instead of taking in the next caller's statements, and one whose settings
//! were changed gets them put back. A `DEALLOCATE ALL` or `DISCARD ALL`, which drops
//! the statements the pool had prepared on the connection, costs no caller an error.

use poolside_core::{ErrorKind, PgPool, TransactionOptions};
use poolside_tests::pg_table::TestTable;
use poolside_tests::{PATIENT_CHECKOUT, pg_pool, required_env};

/// One connection for everything, so that the next checkout meets the last one's;
/// named, so that an observer can tell its state on the server.
async fn one_connection(name: &str) -> PgPool {
    pg_pool(&[
        ("DATABASE_URL", &named(name)),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0"),
        PATIENT_CHECKOUT,
    ])
    .await
}

fn named(name: &str) -> String {
    format!("{}?application_name={name}", required_env("DATABASE_URL"))
}

/// How many connections named `name` sit idle inside a transaction block, as a
/// connection of another pool sees them.
async fn idle_in_block(name: &str) -> i64 {
    let observer = pg_pool(&[("POOLSIDE_POSTGRES__MIN_IDLE", "1")]).await;
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND state LIKE 'idle in transaction%'",
            &[&name],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

/// Runs a statement as the next caller would, then tells whether the connection it
/// ran on is idle inside a block (it would be had it met the earlier caller's).
async fn next_caller_in_block(pool: &PgPool, name: &str) -> bool {
    let mut conn = pool.get().await.expect("a connection");
    conn.execute("SELECT 1", &[])
        .await
        .expect("the next caller's statement");
    drop(conn);
    idle_in_block(name).await > 0
}

#[tokio::test]
async fn an_exclusive_connection_dropped_inside_a_block_is_closed_and_its_writes_rolled_back() {
    let name = "poolside-open-block";
    let pool = one_connection(name).await;
    let table = TestTable::create(&pool, "open_block", "id int").await;
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    let closed_before = pool.stats().closed.interrupted;
    {
        // A hand-written transaction that returns early, as `?` does, before COMMIT.
        let mut conn = pool.get().await.expect("a connection");
        conn.batch_execute("BEGIN").await.expect("BEGIN");
        conn.execute(&insert, &[]).await.expect("the insert");
    }
    assert!(
        !next_caller_in_block(&pool, name).await,
        "the next caller is in the block"
    );
    assert_eq!(table.count().await, 0, "the server rolled the block back");
    assert_eq!(pool.stats().closed.interrupted, closed_before + 1);

    // A block that failed (25P02 for every statement after) is closed the same way.
    {
        let mut conn = pool.get().await.expect("a connection");
        conn.batch_execute("begin; SELECT 1/0")
            .await
            .expect_err("division by zero");
    }
    assert!(!next_caller_in_block(&pool, name).await);
    assert_eq!(pool.stats().closed.interrupted, closed_before + 2);

    // Through the driver's client, which the pool cannot watch.
    {
        let conn = pool.get().await.expect("a connection");
        conn.client()
            .batch_execute("START TRANSACTION")
            .await
            .expect("START TRANSACTION");
    }
    assert!(!next_caller_in_block(&pool, name).await);
    assert_eq!(pool.stats().closed.interrupted, closed_before + 3);
    table.drop_table().await;
}

#[tokio::test]
async fn a_block_ended_before_the_connection_goes_back_keeps_the_connection() {
    let name = "poolside-ended-block";
    let pool = one_connection(name).await;
    let table = TestTable::create(&pool, "ended_block", "id int").await;
    let insert = format!("INSERT INTO {} VALUES (1)", table.name);
    let before = pool.stats();
    for end in ["COMMIT", "rollback", "END"] {
        let mut conn = pool.get().await.expect("a connection");
        conn.batch_execute("BEGIN").await.expect("BEGIN");
        conn.execute(&insert, &[]).await.expect("the insert");
        conn.batch_execute(end).await.expect("the end of the block");
    }
    {
        // Checked at the next checkout (one round trip), and found outside a block.
        let conn = pool.get().await.expect("a connection");
        conn.client()
            .simple_query("SELECT 1")
            .await
            .expect("a query");
    }
    assert!(!next_caller_in_block(&pool, name).await);
    let after = pool.stats();
    assert_eq!(after.closed.interrupted, before.closed.interrupted);
    assert_eq!(after.created, before.created, "the connection was kept");
    assert_eq!(table.count().await, 2, "COMMIT and END committed");
    table.drop_table().await;
}

#[tokio::test]
async fn begin_through_a_call_on_the_pool_is_refused_before_it_is_sent() {
    for path in ["PIPELINE_CONNECTIONS", "READ_CONNECTIONS"] {
        let name = format!("poolside-refused-{}", path.to_lowercase());
        let pool = pg_pool(&[
            ("DATABASE_URL", &named(&name)),
            ("POOLSIDE_POSTGRES__MAX_SIZE", "4"),
            (&format!("POOLSIDE_POSTGRES__{path}"), "1"),
            PATIENT_CHECKOUT,
        ])
        .await;
        for sql in [
            "BEGIN",
            " start transaction read only",
            "COMMIT AND CHAIN",
            "SET search_path TO pg_catalog",
        ] {
            let refused = pool.execute(sql, &[]).await.expect_err(sql);
            assert_eq!(refused.kind(), ErrorKind::Query, "{refused}");
            assert!(
                refused.to_string().contains("PgPool::transaction"),
                "{refused}"
            );
            pool.read_query(sql, &[]).await.expect_err(sql);
            pool.query(sql, &[]).await.expect_err(sql);
        }
        for _ in 0..4 {
            pool.read_query_one("SELECT 1", &[]).await.expect("read");
            pool.query_one("SELECT 1", &[]).await.expect("query");
        }
        assert_eq!(idle_in_block(&name).await, 0, "{path}: a block left open");
    }
}

#[tokio::test]
async fn settings_changed_on_an_exclusive_connection_are_put_back_before_the_next_checkout() {
    // A setting of the URL's `options` is the session's default: it stays.
    let url = format!(
        "{}?options=-c%20statement_timeout%3D4321",
        required_env("DATABASE_URL")
    );
    let pool = pg_pool(&[
        ("DATABASE_URL", &url),
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let show = |setting: &'static str| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.expect("a connection");
            conn.query_one(&format!("SHOW {setting}"), &[])
                .await
                .expect("SHOW")
                .get::<_, String>(0)
        }
    };
    let (search_path, timeout) = (show("search_path").await, show("statement_timeout").await);
    assert_eq!(timeout, "4321ms");
    let created = pool.stats().created;
    {
        let mut conn = pool.get().await.expect("a connection");
        conn.batch_execute("SET search_path TO pg_catalog; SET statement_timeout = 1000")
            .await
            .expect("SET");
        conn.execute("SET application_name = 'tenant-7'", &[])
            .await
            .expect("SET");
        let row = conn.query_one("SHOW search_path", &[]).await.expect("SHOW");
        assert_eq!(row.get::<_, String>(0), "pg_catalog", "within the checkout");
    }
    assert_eq!(show("search_path").await, search_path);
    assert_eq!(
        show("statement_timeout").await,
        timeout,
        "the URL's default"
    );
    assert_ne!(show("application_name").await, "tenant-7");
    let stats = pool.stats();
    assert_eq!(stats.created, created, "the connection was kept");
}

/// Statements whose prepared forms the pool caches, each run once so that every
/// connection they ran on has them.
const CACHED: [&str; 3] = [
    "SELECT $1::int + 1",
    "SELECT $1::int + 2",
    "SELECT $1::int + 3",
];

async fn run_cached(pool: &PgPool, on: &str) {
    for (n, sql) in (1..).zip(CACHED) {
        let row = pool.query_one(sql, &[&1_i32]).await;
        let sum: i32 = row.unwrap_or_else(|e| panic!("{on}: {sql}: {e}")).get(0);
        assert_eq!(sum, 1 + n, "{on}: {sql}");
    }
}

#[tokio::test]
async fn statements_a_deallocate_or_discard_dropped_are_prepared_again_without_an_error() {
    for (path, pipelined) in [("exclusive", "0"), ("pipelined", "1")] {
        let pool = pg_pool(&[
            ("POOLSIDE_POSTGRES__MAX_SIZE", "2"),
            ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
            ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", pipelined),
            PATIENT_CHECKOUT,
        ])
        .await;
        for dropping in ["DEALLOCATE ALL", "DISCARD ALL", "deallocate prepare all"] {
            run_cached(&pool, path).await;
            pool.execute(dropping, &[]).await.expect(dropping);
            run_cached(&pool, &format!("{path}, after {dropping} on the pool")).await;
            // Twice: the statement's own prepared form is among those it drops.
            for _ in 0..2 {
                let mut conn = pool.get().await.expect("a connection");
                conn.execute(dropping, &[]).await.expect(dropping);
                let row = conn.query_one(CACHED[0], &[&1_i32]).await;
                assert_eq!(row.expect("the same connection").get::<_, i32>(0), 2);
            }
            run_cached(&pool, &format!("{path}, after {dropping} on a connection")).await;
        }
        let refused = pool.execute("EXECUTE never_prepared", &[]).await;
        let error = refused.expect_err("a statement of the caller's own that does not exist");
        assert_eq!(
            error.code().map(|code| code.code()),
            Some("26000"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_transaction_that_meets_a_dropped_statement_is_run_again_whole() {
    let pool = pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "1"),
        ("POOLSIDE_POSTGRES__MIN_IDLE", "1"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let table = TestTable::create(&pool, "dropped_statement", "id int").await;
    let insert = format!("INSERT INTO {} VALUES ($1)", table.name);
    for pipelined in [false, true] {
        pool.execute(&insert, &[&0_i32])
            .await
            .expect("caches the insert");
        pool.execute("DISCARD ALL", &[]).await.expect("DISCARD ALL");
        let retries = pool.stats().transaction_retries;
        pool.transaction(TransactionOptions::default(), async |tx| {
            if pipelined {
                tx.execute_pipelined(&insert, &[&1_i32]).await?;
            } else {
                tx.execute(&insert, &[&1_i32]).await?;
            }
            tx.execute("SELECT 1", &[]).await.map(drop)
        })
        .await
        .unwrap_or_else(|e| panic!("pipelined {pipelined}: {e}"));
        assert_eq!(
            pool.stats().transaction_retries,
            retries + 1,
            "pipelined {pipelined}"
        );
    }
    let count = format!("SELECT count(*) FROM {} WHERE id = 1", table.name);
    let inserted: i64 = pool.query_one(&count, &[]).await.expect("count").get(0);
    assert_eq!(inserted, 2, "each transaction's insert committed once");
}

/// Whether another session can take advisory lock `key` now (and lets it go at once).
async fn lock_is_free(observer: &PgPool, key: i64) -> bool {
    let mut conn = observer.get().await.expect("an observer's connection");
    let taken: bool = conn
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key])
        .await
        .expect("pg_try_advisory_xact_lock")
        .get(0);
    taken
}

/// Whether another session can take advisory lock `key` within a second: a closed
/// connection's backend releases its locks as it exits, a moment after the socket
/// closes.
async fn lock_is_freed(observer: &PgPool, key: i64) -> bool {
    for _ in 0..50 {
        if lock_is_free(observer, key).await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_session_advisory_lock_through_a_call_on_the_pool_is_refused_before_it_is_sent() {
    let observer = pg_pool(&[("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0")]).await;
    for (path, pipelined, read) in [("shared", "1", "1"), ("exclusive", "0", "0")] {
        let pool = pg_pool(&[
            ("POOLSIDE_POSTGRES__MAX_SIZE", "3"),
            ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", pipelined),
            ("POOLSIDE_POSTGRES__READ_CONNECTIONS", read),
            PATIENT_CHECKOUT,
        ])
        .await;
        for sql in [
            "SELECT pg_advisory_lock(4201)",
            "SELECT pg_try_advisory_lock(4201)",
        ] {
            for result in [
                pool.query(sql, &[]).await.map(drop),
                pool.execute(sql, &[]).await.map(drop),
                pool.read_query(sql, &[]).await.map(drop),
            ] {
                let error = result.expect_err(sql);
                assert_eq!(error.kind(), ErrorKind::Query, "{path}: {error}");
                assert!(error.to_string().contains("nothing was sent"), "{error}");
            }
        }
        assert!(
            lock_is_free(&observer, 4201).await,
            "{path}: no lock was taken"
        );
        let taken = pool
            .transaction(TransactionOptions::default(), async |tx| {
                tx.query_one("SELECT pg_advisory_xact_lock(4201)", &[])
                    .await
            })
            .await;
        taken.expect("a transaction's lock is let through");
    }
}

#[tokio::test]
async fn a_connection_that_took_a_session_advisory_lock_is_closed_when_it_goes_back() {
    let pool = one_connection("poolside-session-lock").await;
    let observer = pg_pool(&[("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "0")]).await;
    let closed = pool.stats().closed.interrupted;
    {
        let mut conn = pool.get().await.expect("a connection");
        conn.query_one("SELECT pg_advisory_lock(4202)", &[])
            .await
            .expect("locks");
        assert!(
            !lock_is_free(&observer, 4202).await,
            "held within the checkout"
        );
        // Returned without the unlock, as an early `?` would.
    }
    assert!(
        lock_is_freed(&observer, 4202).await,
        "the lock went with the connection, not back to the pool with it"
    );
    assert_eq!(pool.stats().closed.interrupted, closed + 1);
    pool.transaction(TransactionOptions::default(), async |tx| {
        tx.query_one("SELECT pg_try_advisory_lock(4203)", &[]).await
    })
    .await
    .expect("a session lock inside a transaction");
    assert!(
        lock_is_freed(&observer, 4203).await,
        "released with its connection"
    );
    pool.query_one("SELECT 1", &[])
        .await
        .expect("the pool serves on");
}

/// Reads of `search_path` by 29 callers at once, batched with one caller's `setter`:
/// the values they read.
async fn search_paths_read_beside(pool: &PgPool, setter: &str) -> Vec<String> {
    let reads: Vec<_> = (0..29)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row = pool
                    .read_query_one("SELECT current_setting('search_path')", &[])
                    .await
                    .expect("a read");
                row.get::<_, String>(0)
            })
        })
        .collect();
    let error = pool.read_query(setter, &[]).await.expect_err(setter);
    assert_eq!(error.kind(), ErrorKind::Query, "{setter}: {error}");
    assert!(error.to_string().contains("nothing was sent"), "{error}");
    let mut seen = Vec::new();
    for read in reads {
        seen.push(read.await.expect("task"));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_reaches_no_other_callers_statement_on_a_shared_connection() {
    let pool = pg_pool(&[
        ("POOLSIDE_POSTGRES__MAX_SIZE", "3"),
        ("POOLSIDE_POSTGRES__PIPELINE_CONNECTIONS", "1"),
        ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "1"),
        PATIENT_CHECKOUT,
    ])
    .await;
    let default: String = pool
        .query_one("SHOW search_path", &[])
        .await
        .expect("SHOW")
        .get(0);
    // A batch shares one transaction: a setting for the transaction would reach the
    // statements batched after it (it reached 449 of 580 reads here).
    for setter in [
        "SET LOCAL search_path TO pg_catalog",
        "SELECT set_config('search_path', 'pg_catalog', true)",
        "SELECT set_config('search_path', 'pg_catalog', false)",
    ] {
        for _ in 0..5 {
            let seen = search_paths_read_beside(&pool, setter).await;
            assert!(
                seen.iter().all(|path| *path == default),
                "{setter}: {seen:?}"
            );
        }
    }
    // On the pipelined path a statement is a transaction of its own: a setting for
    // the transaction ends with it; one for the session is refused.
    let refused = pool
        .query(
            "SELECT set_config('search_path', 'pg_catalog', $1)",
            &[&false],
        )
        .await
        .expect_err("a setting for the session");
    assert!(
        refused.to_string().contains("nothing was sent"),
        "{refused}"
    );
    pool.query("SELECT set_config('search_path', 'pg_catalog', true)", &[])
        .await
        .expect("a setting for the statement's own transaction");
    let after: String = pool
        .query_one("SELECT current_setting('search_path')", &[])
        .await
        .expect("SHOW")
        .get(0);
    assert_eq!(after, default);
}

#[tokio::test]
async fn a_set_config_for_the_session_on_an_exclusive_connection_is_put_back() {
    let pool = one_connection("poolside-set-config").await;
    {
        let mut conn = pool.get().await.expect("a connection");
        conn.query_one("SELECT set_config('app.tenant', '7', false)", &[])
            .await
            .expect("set_config");
    }
    let mut conn = pool.get().await.expect("the same connection");
    let tenant: Option<String> = conn
        .query_one("SELECT current_setting('app.tenant', true)", &[])
        .await
        .expect("current_setting")
        .get(0);
    assert!(
        tenant.as_deref().is_none_or(str::is_empty),
        "the next caller's tenant: {tenant:?}"
    );
}

/// A temporary object made through a call on the pool is refused before it is sent: on
/// the shared connection, a temporary table named as a real one answered every later
/// reader of that name on the connection (ahead of the `search_path`), and the readers
/// on another connection saw the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_object_through_a_call_on_the_pool_is_refused_before_it_is_sent() {
    let pool = pg_pool(&[PATIENT_CHECKOUT]).await;
    let table = TestTable::create(&pool, "shadowed", "id int").await;
    pool.execute(
        &format!("INSERT INTO {} VALUES (1), (2), (3)", table.name),
        &[],
    )
    .await
    .expect("insert");
    let shadow = format!(
        "CREATE TEMP TABLE {0} AS SELECT * FROM {0} WHERE false",
        table.name
    );
    let error = pool.execute(&shadow, &[]).await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Query);
    assert!(error.to_string().contains("temporary object"), "{error}");
    pool.query(
        "CREATE FUNCTION pg_temp.one() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        &[],
    )
    .await
    .expect_err("a function in pg_temp is refused too");
    pool.read_query(&shadow, &[])
        .await
        .expect_err("refused on the read path");
    let count = format!("SELECT count(*) FROM {}", table.name);
    for _ in 0..40 {
        let rows: i64 = pool.query_one(&count, &[]).await.expect("count").get(0);
        assert_eq!(rows, 3, "every reader sees the real table");
    }
}

/// Temporary objects made on an exclusive connection, or in a transaction, are
/// dropped (`DISCARD TEMP`) before the connection is handed out again, and the
/// connection is kept: the next job's `CREATE TEMP TABLE staging` failed with 42P07,
/// "already exists". One made `ON COMMIT DROP` is let be.
#[tokio::test]
async fn temporary_objects_made_on_an_exclusive_connection_are_dropped_before_the_next_checkout() {
    let pool = one_connection("poolside-temp-objects").await;
    let created = pool.stats().created;
    for job in 0..2 {
        let mut conn = pool.get().await.expect("a connection");
        conn.batch_execute("CREATE TEMP TABLE staging (id int); INSERT INTO staging VALUES (1)")
            .await
            .unwrap_or_else(|e| panic!("job {job}'s staging table: {e}"));
        conn.execute(
            "CREATE FUNCTION pg_temp.step() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("job {job}'s function: {e}"));
        drop(conn);
        pool.transaction(TransactionOptions::default(), async |tx| {
            tx.execute("CREATE TEMP TABLE report (id int)", &[]).await?;
            tx.execute("CREATE TEMP TABLE scratch (id int) ON COMMIT DROP", &[])
                .await
        })
        .await
        .unwrap_or_else(|e| panic!("job {job}'s transaction: {e}"));
    }
    let mut conn = pool.get().await.expect("a connection");
    let left: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()",
            &[],
        )
        .await
        .expect("pg_class")
        .get(0);
    assert_eq!(left, 0, "no temporary object is left");
    assert_eq!(pool.stats().created, created, "the connection was kept");
}
