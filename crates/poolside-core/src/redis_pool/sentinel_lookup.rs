//! [`SentinelLookup`]: the primary a Sentinel group names now, asked of the sentinels
//! for each new connection through the redis crate's `SentinelClient`.
//!
//! The sentinels' URLs give the user, database and password for the sentinels and the
//! data nodes alike; with `redis.password_file`, the data nodes' password is the
//! file's, read for each lookup (the sentinel client checks the primary's role with
//! it, and the client it returns connects with it).
//!
//! With `rediss://` sentinel URLs, the sentinels and the data nodes alike are reached
//! over TLS with the URLs' certificate files, read for each lookup: the sentinel
//! client checks the primary's role over its own TLS, and the client it returns
//! names a `rediss://` address, which the pool connects to over its own.

use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionInfo, RedisResult, TlsCertificates, TlsMode};
use tokio::sync::Mutex;

use super::password_file::PasswordFileCredentials;
use super::tls::DriverCertificates;

/// The sentinel client, behind a lock as it asks the sentinels through `&mut self`.
pub(crate) struct SentinelLookup {
    client: Mutex<SentinelClient>,
    sentinels: Vec<ConnectionInfo>,
    master_name: String,
    credentials: Option<PasswordFileCredentials>,
    certificates: Option<DriverCertificates>,
}

impl SentinelLookup {
    /// A lookup of `master_name` by `sentinels` (URLs already parsed, at least one).
    /// With `credentials` or `certificates`, each lookup builds the client anew with
    /// the file's password and the certificate files as they are then; the first
    /// client is built with `certificates_now`, the files as the caller read them.
    pub(crate) fn new(
        sentinels: Vec<ConnectionInfo>,
        master_name: &str,
        credentials: Option<PasswordFileCredentials>,
        certificates: Option<DriverCertificates>,
        certificates_now: Option<TlsCertificates>,
    ) -> RedisResult<Self> {
        let client = build(&sentinels, master_name, None, certificates_now)?;
        Ok(Self {
            client: Mutex::new(client),
            sentinels,
            master_name: master_name.to_owned(),
            credentials,
            certificates,
        })
    }

    /// A client of the primary the sentinels name now (with the password file's
    /// password of now, when there is one).
    pub(crate) async fn primary(&self) -> RedisResult<redis::Client> {
        let mut client = self.client.lock().await;
        if self.credentials.is_some() || self.certificates.is_some() {
            let password = self.credentials.as_ref().map(|c| c.read()).transpose()?;
            let tls = self.certificates.as_ref().map(read).transpose()?;
            *client = build(
                &self.sentinels,
                &self.master_name,
                password.as_ref().map(|p| p.password()),
                tls,
            )?;
        }
        client.async_get_client().await
    }

    /// The password file's credentials, when it gives the data nodes' password.
    pub(crate) fn credentials(&self) -> Option<&PasswordFileCredentials> {
        self.credentials.as_ref()
    }
}

/// The certificate files as they are now, as the redis crate takes them.
fn read(certificates: &DriverCertificates) -> RedisResult<TlsCertificates> {
    certificates
        .read()
        .map_err(|e| std::io::Error::other(e.to_string()).into())
}

/// The sentinel client: the first sentinel URL's user, database and password, the
/// data nodes' password `data_password` when given; with `tls`, TLS to the sentinels
/// and the data nodes.
fn build(
    sentinels: &[ConnectionInfo],
    master_name: &str,
    data_password: Option<&str>,
    tls: Option<TlsCertificates>,
) -> RedisResult<SentinelClient> {
    let settings = sentinels
        .first()
        .map(ConnectionInfo::redis_settings)
        .cloned()
        .unwrap_or_default();
    let tcp = sentinels
        .first()
        .map(|info| info.tcp_settings().clone())
        .unwrap_or_default();
    let mut builder = SentinelClientBuilder::new(
        sentinels.iter().map(|info| info.addr().clone()),
        master_name,
        SentinelServerType::Master,
    )?
    .set_client_to_redis_db(settings.db())
    // The data nodes' hosts are known only from the sentinels: taken to be on the
    // sentinels' side of the network.
    .set_client_to_redis_tcp_settings(tcp.clone())
    .set_client_to_sentinel_tcp_settings(tcp);
    if let Some(username) = settings.username() {
        builder = builder
            .set_client_to_redis_username(username)
            .set_client_to_sentinel_username(username);
    }
    if let Some(password) = settings.password() {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if let Some(password) = data_password.or(settings.password()) {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(tls) = tls {
        // The sentinels' addresses are `rediss://` already (validation makes them all
        // alike); the data nodes', which the sentinels announce, become so here.
        builder = builder
            .set_client_to_sentinel_certificates(tls.clone())
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_redis_certificates(tls);
    }
    builder.build()
}
