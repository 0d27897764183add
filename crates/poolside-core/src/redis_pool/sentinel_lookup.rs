//! [`SentinelLookup`]: the primary a Sentinel group names now, asked of the sentinels
//! for each new connection through the redis crate's `SentinelClient`.
//!
//! The sentinels' URLs give the user, database and password for the sentinels and the
//! data nodes alike; with `redis.password_file`, the data nodes' password is the
//! file's, read for each lookup (the sentinel client checks the primary's role with
//! it, and the client it returns connects with it).

use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionInfo, RedisResult};
use tokio::sync::Mutex;

use super::password_file::PasswordFileCredentials;

/// The sentinel client, behind a lock as it asks the sentinels through `&mut self`.
pub(crate) struct SentinelLookup {
    client: Mutex<SentinelClient>,
    sentinels: Vec<ConnectionInfo>,
    master_name: String,
    credentials: Option<PasswordFileCredentials>,
}

impl SentinelLookup {
    /// A lookup of `master_name` by `sentinels` (URLs already parsed, at least one).
    /// With `credentials`, each lookup builds the client anew with the file's
    /// password.
    pub(crate) fn new(
        sentinels: Vec<ConnectionInfo>,
        master_name: &str,
        credentials: Option<PasswordFileCredentials>,
    ) -> RedisResult<Self> {
        let client = build(&sentinels, master_name, None)?;
        Ok(Self {
            client: Mutex::new(client),
            sentinels,
            master_name: master_name.to_owned(),
            credentials,
        })
    }

    /// A client of the primary the sentinels name now (with the password file's
    /// password of now, when there is one).
    pub(crate) async fn primary(&self) -> RedisResult<redis::Client> {
        let mut client = self.client.lock().await;
        if let Some(credentials) = &self.credentials {
            let password = credentials.read()?;
            *client = build(
                &self.sentinels,
                &self.master_name,
                Some(password.password()),
            )?;
        }
        client.async_get_client().await
    }

    /// The password file's credentials, when it gives the data nodes' password.
    pub(crate) fn credentials(&self) -> Option<&PasswordFileCredentials> {
        self.credentials.as_ref()
    }
}

/// The sentinel client: the first sentinel URL's user, database and password, the
/// data nodes' password `data_password` when given.
fn build(
    sentinels: &[ConnectionInfo],
    master_name: &str,
    data_password: Option<&str>,
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
    builder.build()
}
