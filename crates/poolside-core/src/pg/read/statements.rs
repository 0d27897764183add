//! [`Statements`]: the read path's statements, described once for the pool.
//!
//! Parameter types and result columns belong to the SQL text and the schema, not to a
//! connection: the first caller of a statement has one connection describe it (Parse,
//! Describe, under the batch's Sync), and every caller after encodes its parameters
//! with those types before its statement is queued. Each description has a name of
//! its own (`poolside_read_<id>`), which every read connection prepares under on first
//! use. A migration that changes a statement's result makes the server refuse it
//! (0A000): its description is dropped and learnt again under a new name, once for the
//! pool, as the schema epoch does for the other paths' statement caches.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;
use tokio_postgres::types::Type;

use crate::growing_lru::growing_lru;
use crate::pg::row::Columns;
use crate::pg::schema_epoch::SchemaEpoch;

/// A statement as the pool described it.
#[derive(Debug)]
pub(crate) struct Described {
    pub(crate) id: u64,
    /// The name it is prepared under: [`statement_name`]`(id)`.
    pub(crate) name: String,
    pub(crate) sql: Arc<str>,
    pub(crate) param_types: Vec<Type>,
    pub(crate) columns: Arc<Columns>,
    /// The schema epoch it was described in: older ones are described again.
    pub(crate) epoch: u64,
}

/// The name a statement is prepared under on every read connection.
pub(crate) fn statement_name(id: u64) -> String {
    format!("poolside_read_{id}")
}

/// What the pool knows of a statement.
#[derive(Debug, Clone)]
pub(crate) enum Known {
    /// Described: ready to run.
    Described(Arc<Described>),
    /// Its parameters or columns have types outside PostgreSQL's built-in ones (an
    /// enum, a domain, a composite): it runs on the pipelined path, whose driver
    /// looks such types up.
    Elsewhere,
}

/// The server's description of a statement, as type OIDs.
#[derive(Debug)]
pub(crate) struct Description {
    pub(crate) params: Vec<u32>,
    pub(crate) columns: Vec<(String, u32)>,
}

/// The pool's described statements, most recently used kept.
#[derive(Debug)]
pub(crate) struct Statements {
    known: Mutex<LruCache<Arc<str>, Known>>,
    next_id: AtomicU64,
    schema: Arc<SchemaEpoch>,
    /// Held while describing, so that many first callers of one statement describe
    /// it once.
    pub(crate) describing: tokio::sync::Mutex<()>,
}

impl Statements {
    pub(crate) fn new(capacity: NonZeroUsize, schema: Arc<SchemaEpoch>) -> Self {
        Self {
            known: Mutex::new(growing_lru(capacity)),
            next_id: AtomicU64::new(1),
            schema,
            describing: tokio::sync::Mutex::new(()),
        }
    }

    /// What is known of `sql` in the current schema epoch.
    pub(crate) fn get(&self, sql: &str) -> Option<Known> {
        let current = self.schema.current();
        let mut known = self.known.lock();
        match known.get(sql)? {
            Known::Described(d) if d.epoch < current => {
                known.pop(sql);
                None
            }
            entry => Some(entry.clone()),
        }
    }

    /// A fresh id for a statement about to be described.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records the server's `description` of `sql`, described under `id` in `epoch`.
    pub(crate) fn learn(&self, sql: &str, id: u64, epoch: u64, description: Description) -> Known {
        let param_types: Option<Vec<Type>> = description
            .params
            .iter()
            .map(|&oid| Type::from_oid(oid))
            .collect();
        let column_types: Option<Vec<Type>> = description
            .columns
            .iter()
            .map(|(_, oid)| Type::from_oid(*oid))
            .collect();
        let known = match (param_types, column_types) {
            (Some(param_types), Some(types)) => Known::Described(Arc::new(Described {
                id,
                name: statement_name(id),
                sql: Arc::from(sql),
                param_types,
                columns: Arc::new(Columns {
                    names: description
                        .columns
                        .into_iter()
                        .map(|(name, _)| name)
                        .collect(),
                    types,
                }),
                epoch,
            })),
            _ => Known::Elsewhere,
        };
        self.known.lock().put(Arc::from(sql), known.clone());
        known
    }

    /// The server refused `stale` as its result changed shape: it is described again
    /// at next use, and the pool's other statement caches start over too.
    pub(crate) fn forget_stale(&self, stale: &Described) {
        let mut known = self.known.lock();
        if matches!(known.peek(&*stale.sql), Some(Known::Described(d)) if d.id == stale.id) {
            known.pop(&*stale.sql);
        }
        drop(known);
        self.schema.stale_since(stale.epoch);
    }

    /// The current schema epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.schema.current()
    }
}
