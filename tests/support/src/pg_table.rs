//! [`TestTable`]: a PostgreSQL table of one test's own, on the pool it tests.

use poolside_core::PgPool;

/// A table named after the test and its process, created fresh; [`drop_table`]
/// removes it at the end.
///
/// [`drop_table`]: TestTable::drop_table
#[derive(Debug)]
pub struct TestTable {
    pool: PgPool,
    /// The table's name: `name` as given, then the process id.
    pub name: String,
}

impl TestTable {
    /// Creates `{name}_{pid}` with `columns` (`"id int PRIMARY KEY, note text"`),
    /// dropping one left by an earlier run.
    ///
    /// # Panics
    ///
    /// When the server refuses it.
    pub async fn create(pool: &PgPool, name: &str, columns: &str) -> Self {
        let name = format!("{name}_{}", std::process::id());
        pool.get()
            .await
            .expect("get")
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns})"
            ))
            .await
            .expect("create table");
        Self {
            pool: pool.clone(),
            name,
        }
    }

    /// Its rows, counted.
    ///
    /// # Panics
    ///
    /// When the server refuses it.
    pub async fn count(&self) -> i64 {
        let mut conn = self.pool.get().await.expect("get");
        conn.query_one(&format!("SELECT count(*) FROM {}", self.name), &[])
            .await
            .expect("count")
            .get(0)
    }

    /// Drops it.
    ///
    /// # Panics
    ///
    /// When the server refuses it.
    pub async fn drop_table(self) {
        let mut conn = self.pool.get().await.expect("get");
        conn.batch_execute(&format!("DROP TABLE {}", self.name))
            .await
            .expect("drop");
    }
}
