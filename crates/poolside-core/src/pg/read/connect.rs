//! [`Connector`]: opens the batched read path's connections on postgres-protocol's
//! messages, as tokio-postgres's `connect_raw` does: TCP or a Unix socket, TLS as the
//! pool's `sslmode` asks (with the pool's rustls setup), a startup message that makes
//! the session read-only (`default_transaction_read_only=on`), and authentication
//! (cleartext, MD5 or SCRAM-SHA-256). Its TCP sockets take the pool's keepalive and
//! `tcp_user_timeout` settings as tokio-postgres's do. Cancel requests go out the same
//! way.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use fallible_iterator::FallibleIterator as _;
use postgres_protocol::authentication::{self, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::net::TcpStream;
use tokio_postgres::config::{ChannelBinding, Host, SslMode, SslNegotiation};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::server_error::ServerError;
use super::wire::{Transport, Wire};
use crate::ErrorKind;
use crate::pg::PgError;
use crate::pg::connect_config::ConnectConfig;
use crate::pg::connect_spacing::ConnectSpacing;

/// What the server needs to cancel a connection's running statement.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BackendKey {
    process_id: i32,
    secret_key: i32,
}

/// Opens read-only connections to the pool's server.
#[derive(Clone)]
pub(crate) struct Connector {
    /// The settings, and the password file read at each connect.
    connect: ConnectConfig,
    tls: MakeRustlsConnect,
    /// The pool's connect spacing, shared with its own connections.
    spacing: Arc<ConnectSpacing>,
    host: Host,
    port: u16,
    user: String,
    timeout: Duration,
    target: String,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector for the pool's `config`, or why its URL cannot be served here: one
    /// host only (a multi-host URL picks its host by `target_session_attrs`, which
    /// the pool's own connections do), a named user, TLS negotiated the PostgreSQL way
    /// and no channel binding required.
    pub(crate) fn new(
        connect: &ConnectConfig,
        tls: MakeRustlsConnect,
        spacing: Arc<ConnectSpacing>,
        timeout: Duration,
        target: &str,
    ) -> Result<Self, &'static str> {
        let config = connect.settings();
        let [host] = config.get_hosts() else {
            return Err("the URL names several hosts");
        };
        let Some(user) = config.get_user() else {
            return Err("the URL names no user");
        };
        if config.get_ssl_negotiation() == SslNegotiation::Direct {
            return Err("sslnegotiation=direct is not supported on this path");
        }
        if config.get_channel_binding() == ChannelBinding::Require {
            return Err("channel_binding=require is not supported on this path");
        }
        Ok(Self {
            connect: connect.clone(),
            tls,
            spacing,
            host: host.clone(),
            port: config.get_ports().first().copied().unwrap_or(5432),
            user: user.to_owned(),
            timeout,
            target: target.to_owned(),
        })
    }

    /// Opens a connection, authenticated and ready for statements, within the
    /// connect timeout; fails at once while the pool's connects are held off.
    pub(crate) async fn open(&self) -> Result<(Wire, BackendKey), PgError> {
        let began = self.spacing.start(&self.target)?;
        let context = format!("opening a read-only connection to {}", self.target);
        let opened = match tokio::time::timeout(self.timeout, self.handshake(&context)).await {
            Ok(result) => result.map_err(|error| self.connect.explain(error).unsent()),
            Err(_) => Err(PgError::new(
                ErrorKind::Connect,
                format!(
                    "{context}: no answer within {:?}: check that postgres.url names a \
                     PostgreSQL server on that port",
                    self.timeout
                ),
            )),
        };
        self.spacing.record(began, &opened);
        opened
    }

    /// Asks the server to cancel whatever `key`'s backend runs now (best effort).
    pub(crate) async fn cancel(&self, key: BackendKey) {
        let sent = async {
            let mut wire = Wire::new(self.transport().await?);
            frontend::cancel_request(key.process_id, key.secret_key, &mut wire.out);
            wire.flush().await
        };
        if let Err(e) = tokio::time::timeout(self.timeout, sent)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "no answer")))
        {
            tracing::debug!(target: "poolside::pg", error = %e, "cancel request failed");
        }
    }

    async fn handshake(&self, context: &str) -> Result<(Wire, BackendKey), PgError> {
        let io_error = connect_error(context);
        let mut wire = Wire::new(self.transport().await.map_err(io_error)?);
        let mut params = vec![
            ("client_encoding", "UTF8"),
            ("user", self.user.as_str()),
            ("default_transaction_read_only", "on"),
        ];
        if let Some(dbname) = self.connect.settings().get_dbname() {
            params.push(("database", dbname));
        }
        if let Some(options) = self.connect.settings().get_options() {
            params.push(("options", options));
        }
        if let Some(name) = self.connect.settings().get_application_name() {
            params.push(("application_name", name));
        }
        frontend::startup_message(params, &mut wire.out).map_err(io_error)?;
        wire.flush().await.map_err(io_error)?;
        self.authenticate(&mut wire, context).await?;
        let mut key = BackendKey::default();
        loop {
            match wire.next().await.map_err(io_error)? {
                Message::BackendKeyData(body) => {
                    key = BackendKey {
                        process_id: body.process_id(),
                        secret_key: body.secret_key(),
                    };
                }
                Message::ReadyForQuery(_) => return Ok((wire, key)),
                Message::ErrorResponse(body) => return Err(server_error(&body, context)),
                _ => {}
            }
        }
    }

    /// A socket to the server, with TLS when `sslmode` asks for it and the server
    /// agrees.
    async fn transport(&self) -> io::Result<Box<dyn Transport>> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let name = match &self.host {
            Host::Tcp(name) => name,
            Host::Unix(dir) => {
                let path = dir.join(format!(".s.PGSQL.{}", self.port));
                return Ok(Box::new(tokio::net::UnixStream::connect(path).await?));
            }
        };
        let mut tcp = match self.connect.settings().get_hostaddrs().first() {
            Some(ip) => TcpStream::connect((*ip, self.port)).await?,
            None => TcpStream::connect((name.as_str(), self.port)).await?,
        };
        tcp.set_nodelay(true)?;
        set_tcp_options(&tcp, self.connect.settings())?;
        let mode = self.connect.settings().get_ssl_mode();
        if mode == SslMode::Disable {
            return Ok(Box::new(tcp));
        }
        let mut request = bytes::BytesMut::new();
        frontend::ssl_request(&mut request);
        tcp.write_all(&request).await?;
        if tcp.read_u8().await? != b'S' {
            if mode == SslMode::Require {
                return Err(io::Error::other("the server does not support TLS"));
            }
            return Ok(Box::new(tcp));
        }
        let mut tls = self.tls.clone();
        let Ok(connect) = MakeTlsConnect::<TcpStream>::make_tls_connect(&mut tls, name);
        let stream = connect
            .connect(tcp)
            .await
            .map_err(|e| io::Error::other(format!("TLS handshake: {e}")))?;
        Ok(Box::new(stream))
    }

    async fn authenticate(&self, wire: &mut Wire, context: &str) -> Result<(), PgError> {
        let io_error = connect_error(context);
        let auth_error = |detail: &str| {
            PgError::new(
                ErrorKind::Auth,
                format!("{context}: {detail}: check the user and password in postgres.url"),
            )
        };
        let password = || -> Result<Cow<'_, [u8]>, PgError> {
            self.connect
                .password()?
                .ok_or_else(|| auth_error("the server asks for a password and the URL has none"))
        };
        match wire.next().await.map_err(io_error)? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(&password()?, &mut wire.out).map_err(io_error)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash =
                    authentication::md5_hash(self.user.as_bytes(), &password()?, body.salt());
                frontend::password_message(hash.as_bytes(), &mut wire.out).map_err(io_error)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut scram = false;
                while let Some(mechanism) = mechanisms.next().map_err(io_error)? {
                    scram |= mechanism == sasl::SCRAM_SHA_256;
                }
                if !scram {
                    return Err(auth_error("the server offers no SCRAM-SHA-256"));
                }
                return self.scram(wire, &password()?, context).await;
            }
            Message::ErrorResponse(body) => return Err(server_error(&body, context)),
            _ => {
                return Err(auth_error(
                    "the server asks for an unsupported authentication",
                ));
            }
        }
        wire.flush().await.map_err(io_error)?;
        self.authenticated(wire, context).await
    }

    /// SCRAM-SHA-256, saying the client does not support channel binding (the
    /// driver's choice too when its TLS gives no certificate digest; the path cannot
    /// read rustls's through the driver's TLS types).
    async fn scram(&self, wire: &mut Wire, password: &[u8], context: &str) -> Result<(), PgError> {
        let io_error = connect_error(context);
        let auth_error =
            |e: io::Error| PgError::new(ErrorKind::Auth, format!("{context}: SCRAM: {e}"));
        let mut scram = sasl::ScramSha256::new(password, sasl::ChannelBinding::unsupported());
        frontend::sasl_initial_response(sasl::SCRAM_SHA_256, scram.message(), &mut wire.out)
            .map_err(io_error)?;
        wire.flush().await.map_err(io_error)?;
        match wire.next().await.map_err(io_error)? {
            Message::AuthenticationSaslContinue(body) => {
                scram.update(body.data()).map_err(auth_error)?;
            }
            Message::ErrorResponse(body) => return Err(server_error(&body, context)),
            _ => return Err(io_error(unexpected())),
        }
        frontend::sasl_response(scram.message(), &mut wire.out).map_err(io_error)?;
        wire.flush().await.map_err(io_error)?;
        match wire.next().await.map_err(io_error)? {
            Message::AuthenticationSaslFinal(body) => {
                scram.finish(body.data()).map_err(auth_error)?;
            }
            Message::ErrorResponse(body) => return Err(server_error(&body, context)),
            _ => return Err(io_error(unexpected())),
        }
        self.authenticated(wire, context).await
    }

    /// Reads the server's AuthenticationOk.
    async fn authenticated(&self, wire: &mut Wire, context: &str) -> Result<(), PgError> {
        match wire.next().await {
            Ok(Message::AuthenticationOk) => Ok(()),
            Ok(Message::ErrorResponse(body)) => Err(server_error(&body, context)),
            Ok(_) => Err(connect_error(context)(unexpected())),
            Err(e) => Err(connect_error(context)(e)),
        }
    }
}

fn unexpected() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "unexpected message during authentication",
    )
}

fn server_error(
    body: &postgres_protocol::message::backend::ErrorResponseBody,
    context: &str,
) -> PgError {
    match ServerError::parse(body) {
        Ok(error) => error.to_pg_error(context),
        Err(e) => connect_error(context)(e),
    }
}

/// The error for a connection that failed while `context`.
fn connect_error(context: &str) -> impl Fn(io::Error) -> PgError + Copy + '_ {
    move |e| PgError::new(ErrorKind::Connect, format!("{context}: {e}"))
}

/// The driver settings' TCP options (`keepalives`, `keepalives_idle`,
/// `keepalives_interval`, `keepalives_retries`, `tcp_user_timeout`) on `tcp`, as
/// tokio-postgres sets them on the pool's other connections. The pool's settings
/// carry its keepalive timings (`pg/keepalive.rs`) where the URL sets none.
fn set_tcp_options(tcp: &TcpStream, settings: &tokio_postgres::Config) -> io::Result<()> {
    let socket = socket2::SockRef::from(tcp);
    #[cfg(target_os = "linux")]
    if let Some(timeout) = settings.get_tcp_user_timeout() {
        socket.set_tcp_user_timeout(Some(*timeout))?;
    }
    if settings.get_keepalives() {
        let mut keepalive = socket2::TcpKeepalive::new().with_time(settings.get_keepalives_idle());
        if let Some(interval) = settings.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(retries) = settings.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        socket.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use socket2::SockRef;
    use tokio::net::{TcpListener, TcpStream};

    use super::set_tcp_options;

    /// A loopback socket with the TCP options of `url` set.
    async fn socket_of(url: &str) -> TcpStream {
        let settings: tokio_postgres::Config = url.parse().expect("a valid URL");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listens");
        let tcp = TcpStream::connect(listener.local_addr().expect("an address"))
            .await
            .expect("connects");
        set_tcp_options(&tcp, &settings).expect("options set");
        tcp
    }

    #[tokio::test]
    async fn the_urls_keepalive_and_user_timeout_reach_the_socket() {
        let tcp = socket_of(
            "postgres://u@localhost/db?keepalives_idle=7&keepalives_interval=3&\
             keepalives_retries=4&tcp_user_timeout=9",
        )
        .await;
        let socket = SockRef::from(&tcp);
        assert!(socket.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(
            socket.tcp_keepalive_time().expect("idle"),
            Duration::from_secs(7)
        );
        assert_eq!(
            socket.tcp_keepalive_interval().expect("interval"),
            Duration::from_secs(3)
        );
        assert_eq!(socket.tcp_keepalive_retries().expect("retries"), 4);
        assert_eq!(
            socket.tcp_user_timeout().expect("user timeout"),
            Some(Duration::from_secs(9))
        );
    }

    #[tokio::test]
    async fn keepalive_is_the_drivers_default_unless_set_and_off_when_the_url_says() {
        let default = socket_of("postgres://u@localhost/db").await;
        let socket = SockRef::from(&default);
        assert!(socket.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(
            socket.tcp_keepalive_time().expect("idle"),
            Duration::from_secs(2 * 60 * 60)
        );
        let off = socket_of("postgres://u@localhost/db?keepalives=0").await;
        assert!(!SockRef::from(&off).keepalive().expect("SO_KEEPALIVE"));
    }
}
