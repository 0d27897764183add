//! The table of every configuration key: how its value parses into [`Config`] and how
//! `config check` shows it. Loading walks this table, so a key missing here cannot be
//! set, and a key set in a layer but missing here is reported as unknown.

use figment::value::Value;

use crate::Config;
use crate::parse;
use crate::rules;

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    /// The dotted path, such as `postgres.max_size`.
    pub(crate) path: &'static str,
    /// Parses `value` into the key's field of the config.
    pub(crate) set: fn(&mut Config, &Value) -> Result<(), String>,
    /// The field's value as text (passwords masked); `None` when its section is absent.
    pub(crate) show: fn(&Config) -> Option<String>,
    /// What is wrong with the field's value by the key's own rule (see
    /// [`crate::rules`]); `None` when it keeps it, or the key has none.
    pub(crate) check: fn(&Config) -> Option<String>,
}

/// Builds [`KEYS`]: `path => section.field: parser, shower[, rule];`. The `redis`
/// section is optional, so its keys create it on first set, and show and check nothing
/// while it is absent.
macro_rules! keys {
    ($( $path:literal => $section:ident . $field:ident : $parse:path, $show:expr $(, $rule:path)?; )*) => {
        pub(crate) const KEYS: &[Key] = &[$(
            Key {
                path: $path,
                set: |config, value| {
                    keys!(@section config, $section).$field = $parse(value)?;
                    Ok(())
                },
                show: |config| keys!(@show config, $section, $field, $show),
                check: keys!(@check $section, $field $(, $rule)?),
            },
        )*];
    };
    (@check $section:ident, $field:ident) => { |_| None };
    (@check redis, $field:ident, $rule:path) => {
        |config| config.redis.as_ref().and_then(|section| $rule(&section.$field))
    };
    (@check $section:ident, $field:ident, $rule:path) => { |config| $rule(&config.$section.$field) };
    (@section $config:ident, redis) => { $config.redis_mut() };
    (@section $config:ident, $section:ident) => { $config.$section };
    (@show $config:ident, redis, $field:ident, $show:expr) => {
        $config.redis.as_ref().map(|section| ($show)(&section.$field))
    };
    (@show $config:ident, $section:ident, $field:ident, $show:expr) => {
        Some(($show)(&$config.$section.$field))
    };
}

fn show_plain<T: ToString>(value: &T) -> String {
    value.to_string()
}

fn show_wait_replicas(value: &Option<u32>) -> String {
    value.map_or_else(|| "by redis.mode".to_owned(), |n| n.to_string())
}

fn show_connect_timeout(value: &Option<std::time::Duration>) -> String {
    value
        .as_ref()
        .map_or_else(|| "= connection_timeout".to_owned(), parse::show_duration)
}

keys! {
    "postgres.url" => postgres.url: parse::url, crate::SecretUrl::redacted;
    "postgres.password_file" => postgres.password_file: parse::optional_path, parse::show_optional_path;
    "postgres.direct_url" => postgres.direct_url: parse::optional_url, parse::show_optional_url;
    "postgres.min_idle" => postgres.min_idle: parse::count, show_plain;
    "postgres.max_size" => postgres.max_size: parse::count, show_plain, rules::positive_count;
    "postgres.connection_timeout" => postgres.connection_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.connect_timeout" => postgres.connect_timeout: parse::optional_duration, show_connect_timeout, rules::bounded_optional_duration;
    "postgres.idle_timeout" => postgres.idle_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.max_lifetime" => postgres.max_lifetime: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.query_timeout" => postgres.query_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.pipeline_connections" => postgres.pipeline_connections: parse::count, show_plain;
    "postgres.read_connections" => postgres.read_connections: parse::count, show_plain;
    "postgres.read_batch_size" => postgres.read_batch_size: parse::count, show_plain, rules::positive_count;
    "postgres.max_waiting" => postgres.max_waiting: parse::count, show_plain;
    "postgres.statement_cache_size" => postgres.statement_cache_size: parse::count, show_plain;
    "postgres.pgbouncer" => postgres.pgbouncer: parse::boolean, show_plain;
    "postgres.replicas" => postgres.replicas: parse::url_list, parse::show_url_list;
    "postgres.replica_max_lag" => postgres.replica_max_lag: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.replica_check_interval" => postgres.replica_check_interval: parse::duration, parse::show_duration, rules::positive_duration;
    "postgres.expected_instances" => postgres.expected_instances: parse::count, show_plain, rules::positive_count;
    "postgres.leak_detection_threshold" => postgres.leak_detection_threshold: parse::optional_duration, parse::show_optional_duration, rules::bounded_optional_duration;
    "postgres.connect_lazy" => postgres.connect_lazy: parse::boolean, show_plain;
    "redis.mode" => redis.mode: parse::redis_mode, show_plain;
    "redis.url" => redis.url: parse::url, crate::SecretUrl::redacted;
    "redis.sentinels" => redis.sentinels: parse::url_list, parse::show_url_list;
    "redis.master_name" => redis.master_name: parse::name, show_plain;
    "redis.cluster_nodes" => redis.cluster_nodes: parse::url_list, parse::show_url_list;
    "redis.password_file" => redis.password_file: parse::optional_path, parse::show_optional_path;
    "redis.max_size" => redis.max_size: parse::count, show_plain, rules::positive_count;
    "redis.connection_timeout" => redis.connection_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "redis.command_timeout" => redis.command_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "redis.max_retries" => redis.max_retries: parse::count, show_plain;
    "redis.retry_delay" => redis.retry_delay: parse::duration, parse::show_duration, rules::positive_duration;
    "redis.max_queued_commands" => redis.max_queued_commands: parse::count, show_plain, rules::positive_count;
    "redis.cluster_in_flight" => redis.cluster_in_flight: parse::count, show_plain;
    "redis.wait_replicas" => redis.wait_replicas: parse::optional_count, show_wait_replicas;
    "redis.wait_timeout" => redis.wait_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "retry.attempts" => retry.attempts: parse::count, show_plain, rules::positive_count;
    "retry.base_delay" => retry.base_delay: parse::duration, parse::show_duration, rules::positive_duration;
    "retry.max_delay" => retry.max_delay: parse::duration, parse::show_duration, rules::positive_duration;
    "retry.jitter" => retry.jitter: parse::jitter, show_plain;
    "retry.total_deadline" => retry.total_deadline: parse::duration, parse::show_duration, rules::positive_duration;
    "retry.budget_percent" => retry.budget_percent: parse::count, show_plain;
    "retry.budget_min_per_sec" => retry.budget_min_per_sec: parse::count, show_plain;
    "retry.budget_window" => retry.budget_window: parse::duration, parse::show_duration;
    "overflow.enabled" => overflow.enabled: parse::boolean, show_plain;
    "overflow.secondary_url" => overflow.secondary_url: parse::optional_url, parse::show_optional_url;
    "overflow.secondary_max_size" => overflow.secondary_max_size: parse::count, show_plain, rules::positive_count;
    "overflow.utilization_threshold" => overflow.utilization_threshold: parse::percent, show_plain, rules::percent;
    "overflow.hand_back_margin" => overflow.hand_back_margin: parse::percent, show_plain, rules::percent;
    "breaker.failure_rate_percent" => breaker.failure_rate_percent: parse::percent, show_plain, rules::percent;
    "breaker.min_calls" => breaker.min_calls: parse::count, show_plain, rules::positive_count;
    "breaker.window" => breaker.window: parse::duration, parse::show_duration, rules::positive_duration;
    "breaker.open_for" => breaker.open_for: parse::duration, parse::show_duration, rules::positive_duration;
    "breaker.probes" => breaker.probes: parse::count, show_plain, rules::positive_count;
    "health.check_interval" => health.check_interval: parse::duration, parse::show_duration, rules::positive_duration;
    "health.check_timeout" => health.check_timeout: parse::duration, parse::show_duration, rules::positive_duration;
    "health.warning_utilization" => health.warning_utilization: parse::percent, show_plain, rules::percent;
    "health.critical_utilization" => health.critical_utilization: parse::percent, show_plain, rules::percent;
    "metrics.exporter_addr" => metrics.exporter_addr: parse::optional_socket_addr, parse::show_optional_addr;
    "metrics.log_interval" => metrics.log_interval: parse::duration, parse::show_duration, rules::positive_duration;
    "metrics.slow_query_threshold" => metrics.slow_query_threshold: parse::duration, parse::show_duration, rules::positive_duration;
    "metrics.window" => metrics.window: parse::duration, parse::show_duration, rules::positive_duration;
    "metrics.naming" => metrics.naming: parse::metric_naming, show_plain;
    "metrics.trace_query_text" => metrics.trace_query_text: parse::boolean, show_plain;
    "metrics.trace_sample_percent" => metrics.trace_sample_percent: parse::percent, show_plain, rules::percent;
    "health.p99_limit" => health.p99_limit: parse::duration, parse::show_duration, rules::positive_duration;
    "health.error_rate_percent" => health.error_rate_percent: parse::percent, show_plain, rules::percent;
    "health.cache_hit_rate_percent" => health.cache_hit_rate_percent: parse::percent, show_plain, rules::percent;
    "health.admin_token" => health.admin_token: parse::optional_token, parse::show_optional_token;
    "health.admin_addr" => health.admin_addr: parse::optional_socket_addr, parse::show_optional_addr;
    "health.shutdown_delay" => health.shutdown_delay: parse::duration, parse::show_duration, rules::bounded_duration;
}

/// The key at `path`, if there is one.
pub(crate) fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// The sections, in table order, each once.
pub(crate) fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&str> = Vec::new();
    for path in key_paths() {
        let section = path.split('.').next().unwrap_or(path);
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    sections
}

/// Every key's dotted path, in table order.
pub fn key_paths() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.path)
}
