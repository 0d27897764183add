//! [`batch`]: many operations with a concurrency limit, results in input order.

use std::future::Future;

use futures_util::StreamExt;

/// Runs `ops` with at most `concurrency` in flight (at least one), and returns each
/// operation's own result, in the order the operations were given.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let ops = (1..=5).map(|n| move || async move {
///     if n == 3 { Err(format!("{n} failed")) } else { Ok(n * 10) }
/// });
/// let results = poolside_core::batch(ops, 2).await;
/// assert_eq!(results, vec![Ok(10), Ok(20), Err("3 failed".into()), Ok(40), Ok(50)]);
/// # });
/// ```
pub async fn batch<I, F, Fut, T, E>(ops: I, concurrency: usize) -> Vec<Result<T, E>>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    futures_util::stream::iter(ops)
        .map(|op| op())
        .buffered(concurrency.max(1))
        .collect()
        .await
}
