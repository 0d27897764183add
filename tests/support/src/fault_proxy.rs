//! [`FaultProxy`]: a TCP proxy on loopback between a pool and its server, which a test
//! tells to pass bytes, stall them without closing anything, delay each chunk, refuse
//! connections, or drop every connection; it counts the connections it accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

/// What the proxy does with the bytes of every connection, open or new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards at once.
    Pass,
    /// Holds every byte read, in both directions, until the mode changes; sockets stay
    /// open, so neither side sees an error (a network that silently stops).
    Stall,
    /// Forwards each chunk this long after it was read, chunks in flight together: a
    /// network with this one-way latency, on which pipelined requests share it.
    Delay(Duration),
    /// Closes each new connection as soon as it is accepted, and each open one at its
    /// next chunk (a server that is down).
    Refuse,
}

/// A proxy from a free port of 127.0.0.1 to `target`, until dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepted: Arc<AtomicUsize>,
    accepting: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts forwarding to `target`, in [`Mode::Pass`].
    ///
    /// # Panics
    ///
    /// When no port of 127.0.0.1 is free.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (mode, _) = watch::channel(Mode::Pass);
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let accepting = {
            let (mode, connections) = (mode.clone(), Arc::clone(&connections));
            let accepted = Arc::clone(&accepted);
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    if *mode.borrow() == Mode::Refuse {
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(target).await else {
                        continue;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let mut handles = connections.lock();
                    handles.retain(|h: &AbortHandle| !h.is_finished());
                    for (from, to) in [
                        (
                            Box::new(client_read) as Box<dyn AsyncRead + Send + Unpin>,
                            Box::new(server_write) as Box<dyn AsyncWrite + Send + Unpin>,
                        ),
                        (Box::new(server_read), Box::new(client_write)),
                    ] {
                        handles
                            .push(tokio::spawn(forward(from, to, mode.subscribe())).abort_handle());
                    }
                }
            })
        };
        Self {
            addr,
            mode,
            connections,
            accepted,
            accepting,
        }
    }

    /// Connections accepted so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Where clients connect: `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `mode` to every connection, open or new.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every open connection, both sides, at once (new ones are still
    /// accepted). Returns how many there were.
    pub fn drop_connections(&self) -> usize {
        let mut handles = self.connections.lock();
        let open = handles.iter().filter(|h| !h.is_finished()).count() / 2;
        for handle in handles.drain(..) {
            handle.abort();
        }
        open
    }
}

/// The services' PostgreSQL address, which `DATABASE_URL` names.
const SERVICES_POSTGRES: &str = "127.0.0.1:15432";

impl FaultProxy {
    /// A proxy in front of the server `url` names (`scheme://[credentials@]IP:PORT[/...]`),
    /// passing bytes until told otherwise, and `url` through it.
    ///
    /// # Panics
    ///
    /// When `url` names no `IP:PORT` after its credentials.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let target: SocketAddr = url
            .split_once('@')
            .and_then(|(_, rest)| rest.split(['/', '?']).next())
            .and_then(|host_port| host_port.parse().ok())
            .unwrap_or_else(|| panic!("{url} names no IP:PORT after its credentials"));
        let proxy = Self::start(target).await;
        let proxied = url.replace(&target.to_string(), &proxy.addr().to_string());
        (proxy, proxied)
    }

    /// [`in_front_of`](Self::in_front_of) the services' PostgreSQL: `DATABASE_URL`.
    ///
    /// # Panics
    ///
    /// When `DATABASE_URL` does not name the services' server (`127.0.0.1:15432`).
    pub async fn in_front_of_postgres() -> (Self, String) {
        let url = crate::required_env("DATABASE_URL");
        assert!(url.contains(SERVICES_POSTGRES), "{url}");
        Self::in_front_of(&url).await
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.drop_connections();
    }
}

/// Copies `from` to `to` chunk by chunk, as `mode` says, until either side closes.
/// Reading goes on while a chunk waits, so that a delay is latency, not a queue.
async fn forward(
    mut from: Box<dyn AsyncRead + Send + Unpin>,
    mut to: Box<dyn AsyncWrite + Send + Unpin>,
    mut mode: watch::Receiver<Mode>,
) {
    let (chunks, mut arriving) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reading = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if chunks
                .send((Instant::now(), buffer[..read].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let writing = async move {
        while let Some((read_at, chunk)) = arriving.recv().await {
            let current = *mode.borrow_and_update();
            match current {
                Mode::Pass => {}
                Mode::Refuse => break,
                Mode::Delay(delay) => tokio::time::sleep_until(read_at + delay).await,
                Mode::Stall => {
                    if mode.wait_for(|m| *m != Mode::Stall).await.is_err() {
                        break;
                    }
                }
            }
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reading, writing);
}
