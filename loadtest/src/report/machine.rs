//! [`Machine`]: where the figures come from.

use serde::Serialize;

/// The machine the figures come from, and the exact baseline commands.
#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    pub(crate) cores: usize,
    /// Worker threads of the runtime the Rust systems ran on (`TOKIO_WORKER_THREADS`).
    pub(crate) client_threads: usize,
    pub(crate) memory_bytes: u64,
    pub(crate) kernel: String,
    /// Each baseline command as run (passwords masked).
    pub(crate) baseline_commands: Vec<String>,
}

impl Machine {
    /// This machine, with the runtime's worker threads and the baseline commands that
    /// ran.
    pub(crate) fn this_one(client_threads: usize, baseline_commands: Vec<String>) -> Self {
        let memory_kb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info
                    .lines()
                    .find(|l| l.starts_with("MemTotal:"))?
                    .to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            client_threads,
            memory_bytes: memory_kb * 1024,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            baseline_commands,
        }
    }
}
