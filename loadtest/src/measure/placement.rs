//! Where the closed loop's tasks run: on the load test's own runtime, or spread over
//! the runtimes a system brings (one single-threaded runtime per core, as pgbench
//! spreads its clients over `-j` threads).

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

tokio::task_local! {
    /// The runtimes of the system being measured, while it is measured.
    static RUNTIMES: Arc<[Handle]>;
}

/// Runs `measure` with the closed loop's tasks placed on `runtimes`: task `i` on
/// `runtimes[i % n]`. With `None`, or no runtimes, they run where `measure` runs.
pub(crate) async fn placed_on<F: Future>(runtimes: Option<Arc<[Handle]>>, measure: F) -> F::Output {
    match runtimes {
        Some(runtimes) if !runtimes.is_empty() => RUNTIMES.scope(runtimes, measure).await,
        _ => measure.await,
    }
}

/// Spawns task `index` of a closed loop where [`placed_on`] put the loop's tasks.
pub(crate) fn spawn<F>(index: usize, task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = RUNTIMES
        .try_with(|runtimes| runtimes[index % runtimes.len()].clone())
        .ok();
    match handle {
        Some(handle) => handle.spawn(task),
        None => tokio::spawn(task),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name of the thread a task ran on.
    async fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[tokio::test]
    async fn tasks_go_round_the_runtimes_given_and_stay_home_without_them() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("placement-test-core".into())
            .spawn(move || runtime.block_on(async { drop(stopped.await) }))
            .expect("a thread");
        let runtimes: Arc<[Handle]> = Arc::from(vec![handle]);
        let placed = placed_on(Some(runtimes), async {
            spawn(3, thread_name()).await.expect("ran")
        })
        .await;
        assert_eq!(placed.as_deref(), Some("placement-test-core"));
        let home = spawn(3, thread_name()).await.expect("ran");
        assert_ne!(home.as_deref(), Some("placement-test-core"));
        drop(stop);
        thread.join().expect("the runtime's thread ends");
    }
}
