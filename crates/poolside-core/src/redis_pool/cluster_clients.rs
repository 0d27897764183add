//! [`ClusterClients`]: the redis crate's clients of a cluster, built with the pool's
//! settings and the `rediss://` URLs' certificate files as they are. The deployment
//! builds them again when the files change, so that a CA or client certificate
//! renewed in place reaches the pool's new cluster connections with no restart.

use std::time::Duration;

use poolside_config::RedisConfig;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{ConnectionInfo, RedisResult, TlsCertificates};

use super::password_file::PasswordFileCredentials;

/// The cluster client, and a client of the first node for pub/sub: a cluster
/// forwards every `PUBLISH` to every node, so any one node hears every channel.
pub(crate) struct ClusterClients {
    pub(crate) cluster: ClusterClient,
    pub(crate) first: redis::Client,
}

/// What the clients are built from, besides the certificate files.
pub(crate) struct ClusterSettings {
    /// The nodes' URLs, parsed with the pool's TCP options; at least one.
    nodes: Vec<ConnectionInfo>,
    connection_timeout: Duration,
    command_timeout: Duration,
    credentials: Option<PasswordFileCredentials>,
}

impl ClusterSettings {
    /// The settings for `nodes` (at least one), with `config`'s timeouts and the
    /// password file's `credentials`.
    pub(crate) fn new(
        nodes: Vec<ConnectionInfo>,
        config: &RedisConfig,
        credentials: Option<PasswordFileCredentials>,
    ) -> Self {
        Self {
            nodes,
            connection_timeout: config.connection_timeout,
            command_timeout: config.command_timeout,
            credentials,
        }
    }

    /// The clients, with TLS `certificates` when the URLs are `rediss://`.
    pub(crate) fn build(
        &self,
        certificates: Option<TlsCertificates>,
    ) -> RedisResult<ClusterClients> {
        let first = self.nodes[0].clone();
        let settings = first.redis_settings();
        let mut builder = ClusterClientBuilder::new(self.nodes.iter().cloned())
            .connection_timeout(self.connection_timeout)
            .response_timeout(self.command_timeout)
            .tcp_settings(first.tcp_settings().clone());
        if let Some(certificates) = &certificates {
            builder = builder.certs(certificates.clone());
        }
        if let Some(credentials) = &self.credentials {
            builder = builder.set_credentials_provider(credentials.clone());
        }
        if let Some(username) = settings.username() {
            builder = builder.username(username);
        }
        if let Some(password) = settings.password() {
            builder = builder.password(password);
        }
        let cluster = builder.build()?;
        let first = match certificates {
            Some(certificates) => redis::Client::build_with_tls(first, certificates)?,
            None => redis::Client::open(first)?,
        };
        Ok(ClusterClients { cluster, first })
    }
}
