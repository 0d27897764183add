//! HTTP for tests of services: a blocking client (ureq) that answers with the status
//! and body whatever the status, and a service binary started for a test on a free
//! port, waited for until ready, and stopped by its pid.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a started service may take to be ready, and to exit after SIGTERM.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read.
const BODY_LIMIT: u64 = 1 << 20;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its body, as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `method url`, with `body` as JSON when given (a POST without one sends an
/// empty body).
///
/// # Errors
///
/// When no answer came within 10 s (refused, reset, timed out), saying why.
pub fn send(method: &str, url: &str, body: Option<&str>) -> Result<Answer, String> {
    send_with_headers(method, url, body, &[])
}

/// [`send`] with extra request headers (`("authorization", "Bearer ...")`).
///
/// # Errors
///
/// As [`send`].
pub fn send_with_headers(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    Client::new().send_with_headers(method, url, body, headers)
}

/// An HTTP client that keeps its connections open between requests (one per load
/// generating thread: a new connection per request would run out of local ports).
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client whose requests time out after 10 s.
    pub fn new() -> Self {
        Self {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(REQUEST_TIMEOUT))
                .build()
                .into(),
        }
    }

    /// As [`send`], on this client's connections.
    ///
    /// # Errors
    ///
    /// As [`send`].
    pub fn send(&self, method: &str, url: &str, body: Option<&str>) -> Result<Answer, String> {
        self.send_with_headers(method, url, body, &[])
    }

    /// As [`send_with_headers`], on this client's connections.
    ///
    /// # Errors
    ///
    /// As [`send`].
    pub fn send_with_headers(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        request(&self.agent, method, url, body, headers)
    }
}

fn request(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let response = match (method, body) {
        ("POST", body) => {
            let mut request = agent.post(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            match body {
                Some(body) => request
                    .header("content-type", "application/json")
                    .send(body),
                None => request.send_empty(),
            }
        }
        ("GET", _) => {
            let mut request = agent.get(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.call()
        }
        _ => return Err(format!("{method} is not supported here")),
    };
    let mut response = response.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .unwrap_or_default();
    Ok(Answer { status, body })
}

/// A loopback port free now, for a process the test starts to listen on.
///
/// # Panics
///
/// When the system has none to give.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A service binary started for a test, listening on a free port of 127.0.0.1 given
/// to it as `POOLSIDE_HTTP_ADDR`. Killed by its pid when dropped, if still running.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Option<PathBuf>,
}

impl ServiceProcess {
    /// Starts `program` with `env` set and `removed` unset, its output discarded, and
    /// waits until `/health/ready` answers 200.
    ///
    /// # Panics
    ///
    /// When it does not start, exits, or is not ready within 30 s.
    pub fn start(program: &str, env: &[(&str, String)], removed: &[&str]) -> Self {
        Self::start_in(&[], program, env, removed, None, "/health/ready")
    }

    /// [`start`](Self::start) in the working directory `dir` (where a `poolside.toml`
    /// is read), with stdout and stderr written to `dir/output.log`; see
    /// [`output`](Self::output).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start), or when the log file cannot be created.
    pub fn start_logged(
        program: &str,
        env: &[(&str, String)],
        removed: &[&str],
        dir: &Path,
    ) -> Self {
        Self::start_in(&[], program, env, removed, Some(dir), "/health/ready")
    }

    /// [`start_logged`](Self::start_logged), waiting only until `/health/live`
    /// answers 200: for a service that starts before its database.
    ///
    /// # Panics
    ///
    /// As [`start_logged`](Self::start_logged), or when it is not live within 30 s.
    pub fn start_live_logged(
        program: &str,
        env: &[(&str, String)],
        removed: &[&str],
        dir: &Path,
    ) -> Self {
        Self::start_in(&[], program, env, removed, Some(dir), "/health/live")
    }

    /// [`start_live_logged`](Self::start_live_logged), `program` run by `launcher`: its
    /// first element the command, the rest its arguments, `program` after them (a
    /// launcher that confines the service, say, and `exec`s it, so that the pid is the
    /// service's).
    ///
    /// # Panics
    ///
    /// As [`start_live_logged`](Self::start_live_logged).
    pub fn start_live_logged_by(
        launcher: &[String],
        program: &str,
        env: &[(&str, String)],
        removed: &[&str],
        dir: &Path,
    ) -> Self {
        Self::start_in(launcher, program, env, removed, Some(dir), "/health/live")
    }

    fn start_in(
        launcher: &[String],
        program: &str,
        env: &[(&str, String)],
        removed: &[&str],
        dir: Option<&Path>,
        until_ok: &str,
    ) -> Self {
        let port = free_port();
        let mut command = match launcher.split_first() {
            Some((launcher, args)) => {
                let mut command = Command::new(launcher);
                command.args(args).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("POOLSIDE_HTTP_ADDR", format!("127.0.0.1:{port}"));
        let log = dir.map(|dir| dir.join("output.log"));
        match (&log, dir) {
            (Some(log), Some(dir)) => {
                let file = std::fs::File::create(log)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
                let copy = file.try_clone().expect("a second handle on the log");
                command.current_dir(dir).stdout(file).stderr(copy);
            }
            _ => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        for name in removed {
            command.env_remove(name);
        }
        let mut service = Self {
            child: command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {program}: {e}")),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let began = Instant::now();
        while service.answer("GET", until_ok, None).map(|a| a.status) != Ok(200) {
            let exited = service.child.try_wait().ok().flatten();
            assert!(
                exited.is_none(),
                "{program} exited at start: {exited:?}\n{}",
                service.output()
            );
            assert!(
                began.elapsed() < READY_TIMEOUT,
                "{program}: {until_ok} not 200 within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    /// The service's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the service wrote to stdout and stderr so far (empty unless started
    /// with [`start_logged`](Self::start_logged)).
    pub fn output(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| std::fs::read(log).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// `method path` on the service.
    ///
    /// # Errors
    ///
    /// When no answer came.
    pub fn answer(&self, method: &str, path: &str, body: Option<&str>) -> Result<Answer, String> {
        send(method, &format!("{}{path}", self.base), body)
    }

    /// `method path` on the service: the status and the JSON answer.
    ///
    /// # Panics
    ///
    /// When no answer came.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let answer = self
            .answer(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"));
        (answer.status, answer.json())
    }

    /// `POST path` with `body`: the status and the JSON answer.
    ///
    /// # Panics
    ///
    /// When no answer came.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(&body.to_string()))
    }

    /// Sends SIGTERM to the service's pid and returns how it exited.
    ///
    /// # Panics
    ///
    /// When it is still running 15 s later.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_for_exit()
    }

    /// Sends SIGTERM to the service's pid, and returns at once.
    ///
    /// # Panics
    ///
    /// When `kill` cannot run.
    pub fn send_sigterm(&self) {
        self.send_signal("TERM");
    }

    /// Sends the signal `name` (as `kill` spells it: `TERM`, `INT`) to the service's
    /// pid, and returns at once.
    ///
    /// # Panics
    ///
    /// When `kill` cannot run.
    pub fn send_signal(&self, name: &str) {
        Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
    }

    /// Sends the signal `name` (as [`send_signal`](Self::send_signal)) and waits for the
    /// service to exit: how it exited, and how long after the signal.
    ///
    /// # Panics
    ///
    /// As [`wait_for_exit`](Self::wait_for_exit).
    pub fn signal_and_wait(&mut self, name: &str) -> (ExitStatus, Duration) {
        self.send_signal(name);
        let sent = Instant::now();
        let exit = self.wait_for_exit();
        (exit, sent.elapsed())
    }

    /// Waits for the service to exit and returns how it did.
    ///
    /// # Panics
    ///
    /// When it is still running 15 s later.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status;
            }
            assert!(
                began.elapsed() < EXIT_TIMEOUT,
                "no exit within {EXIT_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
