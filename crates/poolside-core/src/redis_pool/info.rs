//! [`RedisServerInfo`]: what `INFO` says about the server.

/// Version, memory and clients of the Redis server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisServerInfo {
    /// `redis_version`.
    pub version: String,
    /// `used_memory`, in bytes.
    pub used_memory_bytes: u64,
    /// `connected_clients`.
    pub connected_clients: u64,
}

impl RedisServerInfo {
    /// Reads the fields from `INFO` output; missing ones stay empty or 0.
    pub(crate) fn parse(info: &str) -> Self {
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let number = |name: &str| field(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Self {
            version: field("redis_version").unwrap_or_default().to_owned(),
            used_memory_bytes: number("used_memory"),
            connected_clients: number("connected_clients"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields() {
        let info = "# Server\r\nredis_version:7.0.15\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1M\r\n# Clients\r\nconnected_clients:3\r\n";
        assert_eq!(
            RedisServerInfo::parse(info),
            RedisServerInfo {
                version: "7.0.15".into(),
                used_memory_bytes: 1_048_576,
                connected_clients: 3
            }
        );
        assert_eq!(
            RedisServerInfo::parse("garbage"),
            RedisServerInfo::default()
        );
    }
}
