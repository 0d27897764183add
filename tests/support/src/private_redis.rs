//! [`PrivateRedis`]: a `redis-server` of one test's own, for states that would stall
//! every other test on the shared one (a full memory, a busy script, clients closed).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` (Debian's, which `cargo xtask test` installs) on a Unix socket in
/// a directory of its own, without persistence; stopped by its pid, and its directory
/// removed, on drop.
///
/// ```no_run
/// let redis = poolside_tests::private_redis::PrivateRedis::start("example", &["--timeout", "1"]);
/// assert_eq!(redis.cli(&["PING"]).unwrap(), "PONG");
/// ```
#[derive(Debug)]
pub struct PrivateRedis {
    server: Child,
    dir: PathBuf,
}

impl PrivateRedis {
    /// Starts one with `args` added to its command line, and waits (up to 10 s) until
    /// it answers. `name` tells its directory from other tests'.
    ///
    /// # Panics
    ///
    /// When `redis-server` does not start or answer.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("poolside-redis-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creates the server's directory");
        let server = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .args(args)
            .arg("--unixsocket")
            .arg(dir.join("redis.sock"))
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (cargo xtask test installs it)");
        let redis = Self { server, dir };
        let began = Instant::now();
        while !redis.cli(&["PING"]).is_ok_and(|out| out == "PONG") {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the private redis-server did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// Its URL, for `redis.url`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `redis-cli` on the server: its answer, trimmed.
    ///
    /// # Errors
    ///
    /// When `redis-cli` does not run or fails, with what it printed.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self.cli_command(args).output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// A `redis-cli` command on the server, to run as the caller needs (in the
    /// background, for one that blocks).
    pub fn cli_command(&self, args: &[&str]) -> Command {
        cli_command(&self.socket(), args)
    }

    /// A field of `INFO` (`connected_clients`, `total_connections_received`), as a
    /// number.
    ///
    /// # Panics
    ///
    /// When `INFO` has no such numeric field.
    pub fn info_number(&self, field: &str) -> u64 {
        let info = self.cli(&["INFO"]).expect("INFO answers");
        info.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO has no numeric {field}"))
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cli_command(socket: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("redis-cli");
    command.arg("-s").arg(socket).args(args);
    command
}
