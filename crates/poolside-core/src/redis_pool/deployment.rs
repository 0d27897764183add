//! [`Deployment`]: where the pool's connections go, by `redis.mode`: one server, the
//! primary a Sentinel group names now, or a cluster (over TLS for `rediss://` URLs).
//! Each is the redis crate's own client for it (`Client`, `SentinelClient`,
//! `ClusterClient`), opened with the pool's timeouts.

use std::sync::Arc;

use poolside_config::{RedisConfig, RedisMode};
use redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisResult,
};

use super::cluster_clients::{ClusterClients, ClusterSettings};
use super::driver::{self, Driver};
use super::failovers::Failovers;
use super::password_file::PasswordFileCredentials;
use super::sentinel_lookup::SentinelLookup;
use super::tcp_settings::tcp_settings;
use super::tls::{DriverCertificates, RedisTls, plain_url};
use super::{RedisConnection, RedisError};
use crate::file_backed::FileBacked;

/// The redis crate's client for the configured mode.
pub(crate) enum Deployment {
    /// One server; over TLS for a `rediss://` URL.
    Single {
        client: redis::Client,
        tls: Option<RedisTls>,
        credentials: Option<PasswordFileCredentials>,
    },
    /// A lookup per connect, so that each new connection goes to the primary of now.
    /// The failovers the sentinels announce break older connections. Over TLS for
    /// `rediss://` sentinel URLs, to the sentinels and the primary alike.
    Sentinel {
        lookup: Box<SentinelLookup>,
        tls: Option<RedisTls>,
        failovers: Failovers,
    },
    /// The cluster client, built again when a node URL's certificate files change.
    Cluster {
        clients: FileBacked<ClusterClients>,
        credentials: Option<PasswordFileCredentials>,
    },
}

impl Deployment {
    /// The client for `config.mode`, and a description of where it connects for
    /// messages (hosts and ports, never credentials).
    pub(crate) fn new(config: &RedisConfig) -> Result<(Self, String), RedisError> {
        match config.mode {
            RedisMode::Single => Self::single(config),
            RedisMode::Sentinel => Self::sentinel(config),
            RedisMode::Cluster => Self::cluster(config),
        }
    }

    fn single(config: &RedisConfig) -> Result<(Self, String), RedisError> {
        let url = config.url.expose();
        let tls = RedisTls::for_url(url, "redis.url")?;
        let info = with_tcp_settings(plain_url(url).into_connection_info())
            .map_err(invalid("redis.url"))?;
        let client = redis::Client::open(info).map_err(invalid("redis.url"))?;
        let mut target = address(client.get_connection_info());
        if tls.is_some() {
            target.push_str(" over TLS");
        }
        let credentials = credentials(config, client.get_connection_info());
        let deployment = Deployment::Single {
            client,
            tls,
            credentials,
        };
        Ok((deployment, target))
    }

    fn sentinel(config: &RedisConfig) -> Result<(Self, String), RedisError> {
        let sentinels = infos(&config.sentinels).map_err(invalid("redis.sentinels"))?;
        let credentials = credentials(config, first(&sentinels, "redis.sentinels")?);
        // Validation saw that every sentinel's URL asks for TLS alike, with one CA file
        // and one client certificate: the data nodes are reached the same way.
        let (certificates, tls) = match config.sentinels.first() {
            Some(url) => (
                DriverCertificates::of(url.expose(), "redis.sentinels")?,
                RedisTls::for_url(url.expose(), "redis.sentinels")?,
            ),
            None => (None, None),
        };
        // Read (and checked) here, so that a bad file fails the start with poolside's
        // advice; each later lookup reads them again.
        let certificates_now = certificates
            .as_ref()
            .map(DriverCertificates::read)
            .transpose()?;
        let lookup = SentinelLookup::new(
            sentinels.clone(),
            &config.master_name,
            credentials,
            certificates.clone(),
            certificates_now,
        )
        .map_err(invalid("redis.sentinels"))?;
        let mut target = format!(
            "the primary of {:?} by the sentinels at {}",
            config.master_name,
            addresses(&sentinels)
        );
        if tls.is_some() {
            target.push_str(" over TLS");
        }
        let failovers = Failovers::watch(sentinels, config.master_name.clone(), certificates);
        let deployment = Deployment::Sentinel {
            lookup: Box::new(lookup),
            tls,
            failovers,
        };
        Ok((deployment, target))
    }

    fn cluster(config: &RedisConfig) -> Result<(Self, String), RedisError> {
        const KEY: &str = "redis.cluster_nodes";
        let nodes = infos(&config.cluster_nodes).map_err(invalid(KEY))?;
        let credentials = credentials(config, first(&nodes, KEY)?);
        // Validation saw that every node's URL asks for TLS alike, with one CA file.
        let certificates = match config.cluster_nodes.first() {
            Some(url) => DriverCertificates::of(url.expose(), KEY)?,
            None => None,
        };
        let mut target = format!("the cluster at {}", addresses(&nodes));
        if certificates.is_some() {
            target.push_str(" over TLS");
        }
        let settings = Arc::new(ClusterSettings::new(nodes, config, credentials.clone()));
        let files = certificates
            .as_ref()
            .map(DriverCertificates::files)
            .unwrap_or_default();
        let rebuild = {
            let (settings, certificates) = (Arc::clone(&settings), certificates.clone());
            move |_: &[_]| {
                cluster_clients(&settings, certificates.as_ref()).map_err(|e| e.to_string())
            }
        };
        let clients = FileBacked::new_with(
            files,
            "a cluster node URL's sslrootcert, sslcert or sslkey",
            || cluster_clients(&settings, certificates.as_ref()),
            rebuild,
        )?;
        let deployment = Deployment::Cluster {
            clients,
            credentials,
        };
        Ok((deployment, target))
    }

    /// Opens a connection with `config`'s timeouts (a cluster connection takes the
    /// timeouts it was built with).
    pub(crate) async fn open(
        &self,
        config: &AsyncConnectionConfig,
    ) -> RedisResult<(RedisConnection, Driver)> {
        let (conn, driver) = match self {
            Deployment::Single { client, tls, .. } => {
                driver::open(client, tls.as_ref(), config).await?
            }
            Deployment::Sentinel { lookup, tls, .. } => {
                driver::open(&lookup.primary().await?, tls.as_ref(), config).await?
            }
            Deployment::Cluster { clients, .. } => {
                let conn = clients.get().cluster.get_async_connection().await?;
                return Ok((RedisConnection::Cluster(conn), Driver::external()));
            }
        };
        Ok((RedisConnection::Server(conn), driver))
    }

    /// A connection for pub/sub (with the password file's password of now).
    pub(crate) async fn pubsub(&self) -> RedisResult<redis::aio::PubSub> {
        match self {
            Deployment::Single {
                client,
                tls,
                credentials,
            } => {
                let client = with_credentials(client, credentials.as_ref())?;
                match tls {
                    Some(tls) => driver::open_pubsub_over_tls(&client, tls).await,
                    None => client.get_async_pubsub().await,
                }
            }
            Deployment::Sentinel { lookup, tls, .. } => {
                let client = lookup.primary().await?;
                match tls {
                    Some(tls) => driver::open_pubsub_over_tls(&client, tls).await,
                    None => client.get_async_pubsub().await,
                }
            }
            Deployment::Cluster {
                clients,
                credentials,
            } => {
                with_credentials(&clients.get().first, credentials.as_ref())?
                    .get_async_pubsub()
                    .await
            }
        }
    }

    /// Where the password comes from when `redis.password_file` gives it.
    pub(crate) fn credentials(&self) -> Option<&PasswordFileCredentials> {
        match self {
            Deployment::Single { credentials, .. } | Deployment::Cluster { credentials, .. } => {
                credentials.as_ref()
            }
            Deployment::Sentinel { lookup, .. } => lookup.credentials(),
        }
    }

    /// How many times the cluster client was built again since the start, after its
    /// certificate files changed (always 0 in the other modes, whose connections
    /// read the files themselves): a connection opened under a lower count presents
    /// a certificate, or trusts CAs, that the files no longer hold.
    pub(crate) fn certificates_generation(&self) -> u64 {
        match self {
            Deployment::Cluster { clients, .. } => clients.generation(),
            _ => 0,
        }
    }

    /// Whether a connection must be checked to still be on a primary: a Sentinel
    /// group's old primary keeps its connections after a failover, as a replica.
    pub(crate) fn follows_a_primary(&self) -> bool {
        matches!(self, Deployment::Sentinel { .. })
    }

    /// The failovers seen so far (always 0 but in a Sentinel group): a connection
    /// opened under a lower count goes to a server that may no longer be the primary.
    pub(crate) fn failovers(&self) -> u64 {
        match self {
            Deployment::Sentinel { failovers, .. } => failovers.seen(),
            _ => 0,
        }
    }
}

/// The password file's credentials, for the user of `info` (the URL's).
fn credentials(config: &RedisConfig, info: &ConnectionInfo) -> Option<PasswordFileCredentials> {
    let path = config.password_file.as_deref()?;
    Some(PasswordFileCredentials::new(
        path,
        info.redis_settings().username(),
    ))
}

/// A cluster's clients, with the certificate files as they are now.
fn cluster_clients(
    settings: &ClusterSettings,
    certificates: Option<&DriverCertificates>,
) -> Result<Arc<ClusterClients>, RedisError> {
    let tls = certificates.map(DriverCertificates::read).transpose()?;
    let clients = settings
        .build(tls)
        .map_err(invalid("redis.cluster_nodes"))?;
    Ok(Arc::new(clients))
}

/// `client`, or a client to its server with the password of now when `credentials`
/// give it (a client of the redis crate keeps the password it was opened with; its
/// TLS settings travel in its connection info).
fn with_credentials(
    client: &redis::Client,
    credentials: Option<&PasswordFileCredentials>,
) -> RedisResult<redis::Client> {
    match credentials {
        Some(credentials) => redis::Client::open(credentials.apply(client.get_connection_info())?),
        None => Ok(client.clone()),
    }
}

/// The URLs parsed, with the pool's TCP options.
fn infos(urls: &[poolside_config::SecretUrl]) -> RedisResult<Vec<ConnectionInfo>> {
    urls.iter()
        .map(|url| with_tcp_settings(url.expose().into_connection_info()))
        .collect()
}

/// `info` with the pool's TCP options for its host ([`tcp_settings`]).
fn with_tcp_settings(info: RedisResult<ConnectionInfo>) -> RedisResult<ConnectionInfo> {
    let info = info?;
    let settings = match info.addr() {
        ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => tcp_settings(host),
        _ => return Ok(info),
    };
    Ok(info.set_tcp_settings(settings))
}

/// The error for a URL of `key` that does not parse.
fn invalid(key: &'static str) -> impl Fn(redis::RedisError) -> RedisError {
    move |e| RedisError::from_driver(e, &format!("{key} is not a valid Redis URL"))
}

/// The first of `infos`, the URLs of `key`, which must give one.
fn first<'a>(infos: &'a [ConnectionInfo], key: &str) -> Result<&'a ConnectionInfo, RedisError> {
    infos.first().ok_or_else(|| {
        RedisError::new(
            crate::ErrorKind::Connect,
            format!("{key} is empty: give at least one URL"),
        )
    })
}

/// `host:port` of a connection, or the socket's path.
fn address(info: &ConnectionInfo) -> String {
    info.addr().to_string()
}

fn addresses(infos: &[ConnectionInfo]) -> String {
    infos.iter().map(address).collect::<Vec<_>>().join(", ")
}
