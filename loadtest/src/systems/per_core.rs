//! `poolside-read-per-core`: the batched read path laid out as pgbench lays out its
//! clients (`-j 2`): one single-threaded Tokio runtime per core, each with a pool of
//! its own and its share of the tasks. No caller, connection task or timer wakes a
//! thread other than its own, which on the default multi-threaded runtime costs about
//! as much client CPU as the statements themselves (BENCHMARKS.md).
//!
//! The pools split the load test's pool size between them, and each keeps one read
//! connection ([`READ_CONNECTIONS_PER_CORE`]), so the server sees as many connections
//! as from `poolside-read` on two cores.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use poolside_core::PgPool;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::postgres::{poolside_config_sized, read_select};
use super::{PoolCounts, Prepared, Target};
use crate::measure::Operation;
use crate::workload::Workload;

/// Read connections of each core's pool. One per core, as many in all as
/// `poolside-read` keeps on two cores; each batch is then larger, and no batch waits
/// behind another's on its core.
const READ_CONNECTIONS_PER_CORE: &str = "1";

thread_local! {
    /// Which of the runtimes this thread drives.
    static CORE: Cell<usize> = const { Cell::new(0) };
}

/// Single-threaded runtimes, one per core, each driven by a thread of its own until
/// dropped.
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

/// One pool per core, each opened on its core's runtime; the select through the pool
/// of the core its task runs on.
pub(super) async fn poolside(workload: Workload, target: &Target) -> Result<Prepared> {
    if workload != Workload::Select {
        return Err(anyhow!(
            "poolside-read-per-core runs the select workload only"
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtimes = Runtimes::start(cores)?;
    // At least the pipelined path's two connections, the read connection and one for
    // transactions: the least a pool with a read path may have.
    let size = (target.pool_size as usize).div_ceil(cores).max(4) as u32;
    let mut pools = Vec::with_capacity(cores);
    for handle in runtimes.handles.iter() {
        let config = poolside_config_sized(
            target,
            size,
            &[(
                "POOLSIDE_POSTGRES__READ_CONNECTIONS",
                READ_CONNECTIONS_PER_CORE,
            )],
        )?
        .postgres;
        let pool = handle
            .spawn(async move { PgPool::connect(&config).await })
            .await
            .context("opening a per-core pool")??;
        pools.push(pool);
    }
    let pools: Arc<[PgPool]> = pools.into();
    let accounts = target.data.accounts;
    let operation: Operation = {
        let pools = Arc::clone(&pools);
        Arc::new(move || {
            let pool = pools[CORE.with(Cell::get) % pools.len()].clone();
            Box::pin(read_select(pool, accounts))
        })
    };
    let handles = Arc::clone(&runtimes.handles);
    let counted = Arc::clone(&pools);
    Ok(Prepared {
        operation,
        runtimes: Some(Arc::clone(&runtimes.handles)),
        counts: Box::new(move || {
            counted
                .iter()
                .map(PgPool::stats)
                .fold(PoolCounts::default(), |sum, stats| PoolCounts {
                    created: Some(sum.created.unwrap_or(0) + stats.created),
                    open: Some(sum.open.unwrap_or(0) + u64::from(stats.total)),
                    ..sum
                })
        }),
        close: Box::new(move || {
            Box::pin(async move {
                for (pool, handle) in pools.iter().zip(handles.iter()) {
                    let pool = pool.clone();
                    let _ = handle
                        .spawn(async move { pool.close(Duration::from_secs(5)).await })
                        .await;
                }
                drop(pools);
                let _ = tokio::task::spawn_blocking(move || runtimes.stop()).await;
            })
        }),
    })
}
