//! [`Driver`]: the task that runs a connection to one server (writes its commands,
//! reads its replies), spawned by the pool rather than by the redis crate, so that the
//! pool knows when it has ended.
//!
//! It ends when the server closes the connection: Redis's `timeout` closing an idle
//! client, a restart, `CLIENT KILL`, a proxy's idle timeout. The redis crate then fails
//! every later command on the connection with "broken pipe", which says nothing of
//! whether the command went out, so the pool could not send it again. Knowing that
//! the driver ended first, the pool leases another connection before it sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::aio::MultiplexedConnection;
use redis::io::tcp::{TcpSettings, socket2::SockRef};
use redis::{AsyncConnectionConfig, ConnectionAddr, RedisConnectionInfo, RedisResult};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::AbortHandle;
use tokio_rustls::client::TlsStream;

use super::tls::RedisTls;

/// The driver of one connection: whether it has ended, and its task, aborted when the
/// pool drops the connection (as the redis crate aborts the drivers it spawns).
#[derive(Debug)]
pub(crate) struct Driver {
    ended: Arc<AtomicBool>,
    task: Option<AbortHandle>,
}

impl Driver {
    /// The driver of a connection that manages its own (a cluster's): never ended.
    pub(crate) fn external() -> Self {
        Self {
            ended: Arc::default(),
            task: None,
        }
    }

    /// Whether the driver has ended: nothing sent on the connection would go out.
    pub(crate) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Spawns `driver`, marking it ended when it returns. The mark comes before the
    /// driver is dropped, and so before commands fail for want of it.
    fn spawn(driver: impl Future<Output = ()> + Send + 'static) -> Self {
        let ended = Arc::new(AtomicBool::new(false));
        let mark = Arc::clone(&ended);
        let task = tokio::spawn(async move {
            driver.await;
            mark.store(true, Ordering::Release);
        });
        Self {
            ended,
            task: Some(task.abort_handle()),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Opens a multiplexed connection to `client`'s server (over TLS with `tls`), as the
/// redis crate's `get_multiplexed_async_connection_with_config` does, with the driver
/// spawned here.
pub(crate) async fn open(
    client: &redis::Client,
    tls: Option<&RedisTls>,
    config: &AsyncConnectionConfig,
) -> RedisResult<(MultiplexedConnection, Driver)> {
    let info = client.get_connection_info();
    match (info.addr(), tls) {
        (ConnectionAddr::Tcp(host, port), None) => {
            let stream = connect_tcp(host, *port, info.tcp_settings()).await?;
            over(stream, info.redis_settings(), config).await
        }
        // A `rediss://` URL parsed as `redis://` (one server), or the primary a
        // Sentinel group names over TLS: the handshake is poolside's either way.
        (
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. },
            Some(tls),
        ) => {
            let stream = connect_tls(host, *port, info.tcp_settings(), tls).await?;
            over(stream, info.redis_settings(), config).await
        }
        (ConnectionAddr::Unix(path), None) => {
            let stream = UnixStream::connect(path).await?;
            over(stream, info.redis_settings(), config).await
        }
        (other, _) => Err(unsupported(other)),
    }
}

/// A subscriber's connection to `client`'s server over TLS (without TLS, the redis
/// crate's own `get_async_pubsub` opens it).
pub(crate) async fn open_pubsub_over_tls(
    client: &redis::Client,
    tls: &RedisTls,
) -> RedisResult<redis::aio::PubSub> {
    let info = client.get_connection_info();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            let stream = connect_tls(host, *port, info.tcp_settings(), tls).await?;
            redis::aio::PubSub::new(info.redis_settings(), stream).await
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(addr: &ConnectionAddr) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "poolside connects to Redis over TCP (redis://, or rediss:// with TLS) or a Unix \
         socket (unix://)",
        addr.to_string(),
    ))
}

/// The connection's handshake (password, database) over `stream`, then its driver.
async fn over<S>(
    stream: S,
    settings: &RedisConnectionInfo,
    config: &AsyncConnectionConfig,
) -> RedisResult<(MultiplexedConnection, Driver)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conn, driver) =
        MultiplexedConnection::new_with_config(settings, stream, config.clone()).await?;
    Ok((conn, Driver::spawn(driver)))
}

/// A TCP connection to `host` ([`connect_tcp`]), then `tls`'s handshake with it.
async fn connect_tls(
    host: &str,
    port: u16,
    settings: &TcpSettings,
    tls: &RedisTls,
) -> RedisResult<TlsStream<TcpStream>> {
    tls.handshake(connect_tcp(host, port, settings).await?, host)
        .await
}

/// A TCP connection to whichever of `host`'s addresses takes one first (all tried at
/// once, as the redis crate does), with the URL's TCP settings (the redis crate's
/// defaults unless the caller set them).
async fn connect_tcp(host: &str, port: u16, settings: &TcpSettings) -> RedisResult<TcpStream> {
    let attempts: Vec<_> = tokio::net::lookup_host((host, port))
        .await?
        .map(|addr| Box::pin(TcpStream::connect(addr)))
        .collect();
    if attempts.is_empty() {
        return Err(std::io::Error::other(format!("{host} resolves to no address")).into());
    }
    let (stream, _) = futures_util::future::select_ok(attempts).await?;
    stream.set_nodelay(settings.nodelay())?;
    let socket = SockRef::from(&stream);
    if let Some(keepalive) = settings.keepalive() {
        socket.set_tcp_keepalive(keepalive)?;
    }
    if let Some(timeout) = settings.user_timeout() {
        socket.set_tcp_user_timeout(Some(timeout))?;
    }
    Ok(stream)
}
