//! Checkout and return overhead without I/O: `FairPool` (the FIFO queue poolside puts
//! in front of bb8) against bb8 alone, with a manager whose connections are numbers.
//!
//! Run with: `cargo bench -p poolside-core --bench checkout`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poolside_core::fair_pool::FairPool;

/// A manager whose connections are numbers: no I/O at all.
#[derive(Debug)]
struct Numbers;

impl bb8::ManageConnection for Numbers {
    type Connection = u64;
    type Error = std::io::Error;

    async fn connect(&self) -> Result<u64, std::io::Error> {
        Ok(0)
    }

    async fn is_valid(&self, _: &mut u64) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

fn bb8_pool(runtime: &tokio::runtime::Runtime) -> bb8::Pool<Numbers> {
    runtime.block_on(async {
        bb8::Pool::builder()
            .max_size(16)
            .min_idle(Some(16))
            .test_on_check_out(false)
            .build(Numbers)
            .await
            .expect("builds")
    })
}

fn checkout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("checkout_and_return");

    let raw = bb8_pool(&runtime);
    group.bench_function("bb8", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut conn = raw.get().await.expect("get");
            *conn += 1;
        });
    });

    let (_failures_tx, failures) = tokio::sync::watch::channel(None);
    let fair = FairPool::new(bb8_pool(&runtime), 16, failures, |_| false);
    group.bench_function("fair_pool", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut conn = fair.acquire(Duration::from_secs(1)).await.expect("acquire");
            *conn += 1;
        });
    });
    group.finish();
}

criterion_group!(benches, checkout);
criterion_main!(benches);
