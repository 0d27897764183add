//! [`ParamTypes`]: the parameter types of each statement, learnt once per pool, for
//! PgBouncer's transaction mode.
//!
//! Why: in transaction mode a named prepared statement lives on one server connection
//! while the client's next statement may run on another, so every statement goes
//! unnamed. An unnamed statement with parameters needs their types in its Parse
//! message, and only the server knows them. Learning them per statement (BEGIN, a
//! named prepare, the run, COMMIT: four round trips) made every parameterised statement
//! four times as slow as it needs to be. The types belong to the SQL text and the
//! schema, not to a server connection: they are learnt once for the whole pool and
//! every statement after that is one round trip (`query_typed`).
//!
//! A migration can change them (a column from `int4` to `text`). A statement sent with
//! cached types that the server, or the driver's own type check, then refuses as a type
//! error ([`may_be_stale`]) drops its entry, and the types are learnt again, once for
//! the pool: an autocommit statement is sent again (it never ran: type errors come
//! before execution); inside a transaction the error is marked stale, so that
//! `PgPool::transaction` runs the transaction again. Types that were just learnt are
//! not learnt twice: a type error then is the caller's own.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;
use tokio::sync::OnceCell;
use tokio_postgres::types::{Type, WrongType};

use super::PgError;
use super::params::Params;
use crate::growing_lru::growing_lru;

/// One statement's types, learnt at most once at a time: callers that miss together
/// wait for the first one's answer.
type Entry = Arc<OnceCell<Arc<[Type]>>>;

/// The parameter types of the statements a pool runs unnamed, keyed by SQL text, least
/// recently used evicted first.
#[derive(Debug)]
pub(crate) struct ParamTypes {
    /// `None` when caching is off (`postgres.statement_cache_size = 0`): every
    /// statement learns its types.
    entries: Option<Mutex<LruCache<String, Entry>>>,
    /// Statements whose types were learnt, since the pool was built.
    learnings: AtomicU64,
}

/// The types for one statement, as [`ParamTypes`] gave them.
#[derive(Debug)]
pub(crate) struct Learnt {
    pub(crate) types: Arc<[Type]>,
    /// Whether this caller learnt them (rather than finding them cached): a type error
    /// with fresh types is not a sign of a migration.
    pub(crate) fresh: bool,
    entry: Option<Entry>,
}

impl Learnt {
    /// No types, for a statement without parameters: nothing to learn or forget.
    fn none() -> Self {
        Self {
            types: Arc::from([]),
            fresh: true,
            entry: None,
        }
    }
}

impl ParamTypes {
    /// A cache of at most `capacity` statements' types (0 turns it off).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(|cap| Mutex::new(growing_lru(cap))),
            learnings: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> Option<parking_lot::MutexGuard<'_, LruCache<String, Entry>>> {
        self.entries.as_ref().map(|entries| entries.lock())
    }

    /// The cached types of `sql`, when they have been learnt.
    pub(crate) fn cached(&self, sql: &str) -> Option<Learnt> {
        let mut entries = self.entries()?;
        let entry = entries.get(sql)?;
        let types = Arc::clone(entry.get()?);
        Some(Learnt {
            types,
            fresh: false,
            entry: Some(Arc::clone(entry)),
        })
    }

    /// The types of `sql` with `params`: cached, none when there are no parameters, or
    /// learnt by `learning` (which is not polled otherwise).
    pub(crate) async fn of(
        &self,
        sql: &str,
        params: Params<'_>,
        learning: impl Future<Output = Result<Vec<Type>, PgError>>,
    ) -> Result<Learnt, PgError> {
        match self.cached(sql) {
            Some(learnt) => Ok(learnt),
            None if params.is_empty() => Ok(Learnt::none()),
            // Boxed: learning is rare, and holds four round trips of state.
            None => Box::pin(self.learn(sql, learning)).await,
        }
    }

    /// The types of `sql`: cached, or learnt by `learning` (a named prepare inside a
    /// transaction). Callers missing together run one `learning` between them; the
    /// others wait for it, and when it fails the next one tries its own.
    pub(crate) async fn learn(
        &self,
        sql: &str,
        learning: impl Future<Output = Result<Vec<Type>, PgError>>,
    ) -> Result<Learnt, PgError> {
        let entry = self.entries().map(|mut entries| {
            if let Some(entry) = entries.get(sql) {
                return Arc::clone(entry);
            }
            let entry = Entry::default();
            entries.put(sql.to_owned(), Arc::clone(&entry));
            entry
        });
        let learning = async {
            let types = learning.await?;
            self.learnings.fetch_add(1, Ordering::Relaxed);
            Ok::<_, PgError>(types)
        };
        let Some(entry) = entry else {
            return Ok(Learnt {
                types: learning.await?.into(),
                fresh: true,
                entry: None,
            });
        };
        let mut fresh = false;
        let types = entry
            .get_or_try_init(|| {
                fresh = true;
                async move { learning.await.map(Arc::from) }
            })
            .await?;
        Ok(Learnt {
            types: Arc::clone(types),
            fresh,
            entry: Some(Arc::clone(&entry)),
        })
    }

    /// Forgets the types of `sql` that `learnt` gave, unless they were learnt anew since.
    pub(crate) fn forget(&self, sql: &str, learnt: &Learnt) {
        let (Some(mut entries), Some(stale)) = (self.entries(), &learnt.entry) else {
            return;
        };
        if entries
            .peek(sql)
            .is_some_and(|entry| Arc::ptr_eq(entry, stale))
        {
            entries.pop(sql);
        }
    }

    /// How many statements' types are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().map_or(0, |entries| entries.len())
    }

    /// How many times a statement's types were learnt since the pool was built.
    pub(crate) fn learnings(&self) -> u64 {
        self.learnings.load(Ordering::Relaxed)
    }
}

/// Whether `error` may come from parameter types that changed since they were learnt:
/// the driver refused a value for the cached type (`WrongType`, before anything was
/// sent), or the server refused the statement as a type error (SQLSTATE class 42,
/// raised while analysing it, before it runs).
pub(crate) fn may_be_stale(error: &tokio_postgres::Error) -> bool {
    /// datatype_mismatch, undefined_function (`text = integer`), cannot_coerce,
    /// ambiguous_function, ambiguous_parameter, indeterminate_datatype.
    const TYPE_ERRORS: [&str; 6] = ["42804", "42883", "42846", "42725", "42P08", "42P18"];
    is_wrong_type(error)
        || error
            .code()
            .is_some_and(|code| TYPE_ERRORS.contains(&code.code()))
}

/// Whether the driver refused a parameter's value for its type: nothing was sent.
pub(crate) fn is_wrong_type(error: &tokio_postgres::Error) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<WrongType>())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn learnt(types: &[Type]) -> impl Future<Output = Result<Vec<Type>, PgError>> {
        let types = types.to_vec();
        async move { Ok(types) }
    }

    #[tokio::test]
    async fn types_are_learnt_once_and_then_served_from_the_cache() {
        let cache = ParamTypes::new(8);
        assert!(cache.cached("SELECT $1").is_none());
        let first = cache
            .learn("SELECT $1", learnt(&[Type::INT4]))
            .await
            .unwrap();
        assert!(first.fresh);
        let second = cache
            .learn("SELECT $1", learnt(&[Type::TEXT]))
            .await
            .unwrap();
        assert!(
            !second.fresh,
            "the second caller found the first one's types"
        );
        assert_eq!(&*second.types, &[Type::INT4]);
        assert_eq!(&*cache.cached("SELECT $1").unwrap().types, &[Type::INT4]);
    }

    #[tokio::test]
    async fn callers_missing_together_learn_once() {
        let cache = Arc::new(ParamTypes::new(8));
        let learnings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (cache, learnings) = (Arc::clone(&cache), Arc::clone(&learnings));
                tokio::spawn(async move {
                    cache
                        .learn("SELECT $1", async {
                            learnings.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok(vec![Type::INT8])
                        })
                        .await
                        .map(|l| l.types)
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(&*caller.await.unwrap().unwrap(), &[Type::INT8]);
        }
        assert_eq!(learnings.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.learnings(), 1);
    }

    #[tokio::test]
    async fn a_failed_learning_is_not_cached() {
        let cache = ParamTypes::new(8);
        let failed = cache
            .learn("SELECT $1", async {
                Err(PgError::new(crate::ErrorKind::Query, "syntax error"))
            })
            .await;
        assert!(failed.is_err());
        assert!(cache.cached("SELECT $1").is_none());
        let next = cache
            .learn("SELECT $1", learnt(&[Type::INT4]))
            .await
            .unwrap();
        assert!(next.fresh);
    }

    #[tokio::test]
    async fn forgetting_stale_types_keeps_ones_learnt_since() {
        let cache = ParamTypes::new(8);
        let old = cache
            .learn("SELECT $1", learnt(&[Type::INT4]))
            .await
            .unwrap();
        cache.forget("SELECT $1", &old);
        assert!(cache.cached("SELECT $1").is_none());
        let new = cache
            .learn("SELECT $1", learnt(&[Type::TEXT]))
            .await
            .unwrap();
        cache.forget("SELECT $1", &old);
        assert_eq!(
            &*cache.cached("SELECT $1").unwrap().types,
            &*new.types,
            "a second caller with the old types does not drop the new ones"
        );
    }

    #[tokio::test]
    async fn a_cache_of_size_zero_learns_every_time() {
        let cache = ParamTypes::new(0);
        for _ in 0..2 {
            let learnt = cache
                .learn("SELECT $1", learnt(&[Type::INT4]))
                .await
                .unwrap();
            assert!(learnt.fresh);
        }
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test]
    async fn the_least_recently_used_statement_leaves_first() {
        let cache = ParamTypes::new(2);
        for sql in ["SELECT $1", "SELECT $1, 2", "SELECT $1, 3"] {
            cache.learn(sql, learnt(&[Type::INT4])).await.unwrap();
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.cached("SELECT $1").is_none());
    }
}
