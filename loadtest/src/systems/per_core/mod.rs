//! Systems laid out as pgbench (`-j 2`) and `redis-benchmark --threads` lay out their
//! clients: one single-threaded Tokio runtime per core, each with a pool of its own
//! and its share of the tasks. No caller, connection task or timer wakes a thread
//! other than its own, which on the default multi-threaded runtime costs about as much
//! client CPU as the statements themselves (BENCHMARKS.md).
//!
//! [`PerCore`] starts the runtimes and holds the pools; one file per system
//! (`read.rs`: the batched read path; `facade.rs`: the same through a `Poolside` per
//! core; `cluster.rs`: Redis Cluster) opens them.

mod cluster;
mod facade;
mod read;

pub(super) use cluster::poolside as poolside_cluster;
pub(super) use facade::poolside as poolside_facade;
pub(super) use read::poolside as poolside_read;

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::{PoolCounts, Prepared};
use crate::measure::{Operation, Outcome};

thread_local! {
    /// Which of the runtimes this thread drives.
    static CORE: Cell<usize> = const { Cell::new(0) };
}

/// The cores of this machine: how many runtimes [`PerCore`] starts.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Single-threaded runtimes, one per core, each driven by a thread of its own until
/// stopped.
struct Runtimes {
    handles: Arc<[Handle]>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Runtimes {
    fn start(count: usize) -> Result<Self> {
        let (mut handles, mut stops, mut threads) = (Vec::new(), Vec::new(), Vec::new());
        for core in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("building a per-core runtime")?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("loadtest-core-{core}"))
                    .spawn(move || {
                        CORE.with(|c| c.set(core));
                        runtime.block_on(async { drop(stopped.await) });
                    })
                    .context("starting a per-core runtime's thread")?,
            );
        }
        Ok(Self {
            handles: handles.into(),
            stops,
            threads,
        })
    }

    /// Stops every runtime and waits for its thread.
    fn stop(self) {
        drop(self.stops);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// One pool per core, each opened on its core's runtime.
pub(super) struct PerCore<P> {
    runtimes: Runtimes,
    pools: Arc<[P]>,
}

impl<P: Clone + Send + Sync + 'static> PerCore<P> {
    /// Starts a runtime per core ([`cores`]) and opens a pool with `open` on each.
    pub(super) async fn open<F, Fut>(open: F) -> Result<Self>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<P>> + Send + 'static,
    {
        let runtimes = Runtimes::start(cores())?;
        let mut pools = Vec::with_capacity(runtimes.handles.len());
        for handle in runtimes.handles.iter() {
            match handle
                .spawn(open())
                .await
                .context("opening a per-core pool")
            {
                Ok(Ok(pool)) => pools.push(pool),
                Ok(Err(e)) | Err(e) => {
                    let _ = tokio::task::spawn_blocking(move || runtimes.stop()).await;
                    return Err(e);
                }
            }
        }
        Ok(Self {
            runtimes,
            pools: pools.into(),
        })
    }

    /// The operation that runs `call` on the pool of the core its task runs on.
    pub(super) fn operation<F, Fut>(&self, call: F) -> Operation
    where
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let pools = Arc::clone(&self.pools);
        Arc::new(move || Box::pin(call(pools[CORE.with(Cell::get) % pools.len()].clone())))
    }

    /// `operation` with its tasks placed on the runtimes, the pools' counts summed
    /// from `count`, and a close that runs `close` on each pool's own runtime, then
    /// stops the runtimes.
    pub(super) fn prepared<C, CloseFut>(
        self,
        operation: Operation,
        count: impl Fn(&P) -> PoolCounts + Send + Sync + 'static,
        close: C,
    ) -> Prepared
    where
        C: Fn(P) -> CloseFut + Send + 'static,
        CloseFut: Future<Output = ()> + Send + 'static,
    {
        let Self { runtimes, pools } = self;
        let counted = Arc::clone(&pools);
        Prepared {
            operation,
            runtimes: Some(Arc::clone(&runtimes.handles)),
            counts: Box::new(move || {
                counted
                    .iter()
                    .map(&count)
                    .fold(PoolCounts::default(), PoolCounts::plus)
            }),
            close: Box::new(move || {
                Box::pin(async move {
                    for (pool, handle) in pools.iter().zip(runtimes.handles.iter()) {
                        let _ = handle.spawn(close(pool.clone())).await;
                    }
                    drop(pools);
                    let _ = tokio::task::spawn_blocking(move || runtimes.stop()).await;
                })
            }),
        }
    }
}
