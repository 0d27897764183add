//! The batched read path answers exactly as the pipelined path does, for generated
//! mixes of statements sent at once: common types, NULLs, empty and many-row results,
//! and errors in the middle of a batch. Against the real PostgreSQL.
//!
//! 64 mixes by default; `POOLSIDE_READ_PROPTEST_CASES` sets another count.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use poolside_core::{PgError, PgPool, Row};
use poolside_tests::{PATIENT_CHECKOUT, pg_pool};
use proptest::prelude::*;
use tokio_postgres::types::ToSql;

/// One statement of a mix, with its parameters.
#[derive(Debug, Clone)]
enum Statement {
    Integers(i16, i32, Option<i64>),
    Text(Option<String>),
    Floats(f64, Option<f32>),
    Flag(Option<bool>),
    Bytes(Vec<u8>),
    Timestamp(u32),
    Array(Vec<Option<i32>>),
    /// `generate_series(1, n)`: no rows for 0.
    Series(i32),
    /// `100 / n`: division by zero (22012) for 0, mid-batch.
    Divide(i32),
    /// Fails when the text is not a number (22P02).
    Parse(String),
}

impl Statement {
    fn sql(&self) -> &'static str {
        match self {
            Statement::Integers(..) => "SELECT $1::int2 AS a, $2::int4 AS b, $3::int8 AS c",
            Statement::Text(_) => "SELECT $1::text AS t, length($1::text) AS n, 'é'::varchar AS v",
            Statement::Floats(..) => "SELECT $1::float8 AS d, $2::float4 AS f",
            Statement::Flag(_) => "SELECT $1::bool AS b, NOT $1::bool AS nb",
            Statement::Bytes(_) => "SELECT $1::bytea AS b, octet_length($1::bytea) AS n",
            Statement::Timestamp(_) => "SELECT $1::timestamptz AS at",
            Statement::Array(_) => "SELECT $1::int4[] AS a, cardinality($1::int4[]) AS n",
            Statement::Series(_) => "SELECT x, x::text AS s FROM generate_series(1, $1::int4) x",
            Statement::Divide(_) => "SELECT 100 / $1::int4 AS q",
            Statement::Parse(_) => "SELECT $1::text::int4 AS p",
        }
    }

    /// Runs it on `pool`'s batched read path (`read`) or pipelined path, and renders
    /// the rows, or the error's SQLSTATE.
    async fn run(&self, pool: &PgPool, read: bool) -> Result<Vec<String>, String> {
        let at = |secs: &u32| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(*secs));
        let (a, b, c): (
            &(dyn ToSql + Sync),
            &(dyn ToSql + Sync),
            &(dyn ToSql + Sync),
        );
        let time;
        let params: Vec<&(dyn ToSql + Sync)> = match self {
            Statement::Integers(x, y, z) => {
                (a, b, c) = (x, y, z);
                vec![a, b, c]
            }
            Statement::Text(t) => vec![t],
            Statement::Floats(d, f) => vec![d, f],
            Statement::Flag(f) => vec![f],
            Statement::Bytes(v) => vec![v],
            Statement::Timestamp(secs) => {
                time = at(secs);
                vec![&time]
            }
            Statement::Array(v) => vec![v],
            Statement::Series(n) | Statement::Divide(n) => vec![n],
            Statement::Parse(t) => vec![t],
        };
        let rows = if read {
            pool.read_query(self.sql(), &params).await
        } else {
            pool.query(self.sql(), &params).await
        };
        match rows {
            Ok(rows) => Ok(rows.iter().map(|row| self.render(row)).collect()),
            Err(e) => Err(sqlstate(&e)),
        }
    }

    fn render(&self, row: &Row) -> String {
        match self {
            Statement::Integers(..) => format!(
                "{:?} {:?} {:?}",
                row.get::<_, i16>("a"),
                row.get::<_, i32>("b"),
                row.get::<_, Option<i64>>("c")
            ),
            Statement::Text(_) => format!(
                "{:?} {:?} {:?}",
                row.get::<_, Option<String>>(0),
                row.get::<_, Option<i32>>(1),
                row.get::<_, &str>("v")
            ),
            Statement::Floats(..) => format!(
                "{:?} {:?}",
                row.get::<_, f64>(0),
                row.get::<_, Option<f32>>(1)
            ),
            Statement::Flag(_) => format!(
                "{:?} {:?}",
                row.get::<_, Option<bool>>(0),
                row.get::<_, Option<bool>>(1)
            ),
            Statement::Bytes(_) => {
                format!("{:?} {:?}", row.get::<_, Vec<u8>>(0), row.get::<_, i32>(1))
            }
            Statement::Timestamp(_) => format!("{:?}", row.get::<_, SystemTime>(0)),
            Statement::Array(_) => format!(
                "{:?} {:?}",
                row.get::<_, Vec<Option<i32>>>(0),
                row.get::<_, i32>(1)
            ),
            Statement::Series(_) => {
                format!("{} {}", row.get::<_, i32>(0), row.get::<_, String>("s"))
            }
            Statement::Divide(_) => format!("{}", row.get::<_, i32>(0)),
            Statement::Parse(_) => format!("{}", row.get::<_, i32>(0)),
        }
    }
}

fn sqlstate(error: &PgError) -> String {
    error
        .code()
        .map_or_else(|| format!("no SQLSTATE: {error}"), |c| c.code().to_owned())
}

fn statement() -> impl Strategy<Value = Statement> {
    prop_oneof![
        (any::<i16>(), any::<i32>(), any::<Option<i64>>())
            .prop_map(|(a, b, c)| Statement::Integers(a, b, c)),
        // No NUL: PostgreSQL text cannot hold it.
        proptest::option::of("[^\u{0}]{0,40}").prop_map(Statement::Text),
        (any::<f64>(), any::<Option<f32>>()).prop_map(|(d, f)| Statement::Floats(d, f)),
        any::<Option<bool>>().prop_map(Statement::Flag),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Statement::Bytes),
        (0u32..4_000_000_000).prop_map(Statement::Timestamp),
        proptest::collection::vec(any::<Option<i32>>(), 0..8).prop_map(Statement::Array),
        (0i32..40).prop_map(Statement::Series),
        (-2i32..3).prop_map(Statement::Divide),
        prop_oneof!["-?[0-9]{1,5}", "[a-z]{1,3}"].prop_map(Statement::Parse),
    ]
}

/// One runtime and one pool for every case: pools live on the runtime that made them.
fn runtime_and_pool() -> &'static (tokio::runtime::Runtime, PgPool) {
    static SHARED: OnceLock<(tokio::runtime::Runtime, PgPool)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let pool = runtime.block_on(pg_pool(&[
            ("POOLSIDE_POSTGRES__MAX_SIZE", "8"),
            ("POOLSIDE_POSTGRES__READ_CONNECTIONS", "2"),
            // Small batches too, so that a mix spans several.
            ("POOLSIDE_POSTGRES__READ_BATCH_SIZE", "16"),
            PATIENT_CHECKOUT,
        ]));
        (runtime, pool)
    })
}

fn cases() -> u32 {
    std::env::var("POOLSIDE_READ_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn batched_reads_answer_as_the_pipelined_path(mix in proptest::collection::vec(statement(), 1..80)) {
        let (runtime, pool) = runtime_and_pool();
        let (batched, pipelined) = runtime.block_on(async {
            // All at once, so that they share batches.
            let batched = futures_util::future::join_all(mix.iter().map(|s| s.run(pool, true))).await;
            let mut pipelined = Vec::new();
            for s in &mix {
                pipelined.push(s.run(pool, false).await);
            }
            (batched, pipelined)
        });
        for ((statement, batched), pipelined) in mix.iter().zip(&batched).zip(&pipelined) {
            prop_assert_eq!(batched, pipelined, "{:?}", statement);
        }
    }
}
