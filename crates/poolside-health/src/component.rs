//! [`Component`]: the dependencies a service's health checks.

/// A dependency whose health is checked: its name keys the check results, the
/// `component` label of `poolside_health_status`, and the health+json check names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// The PostgreSQL pool (`postgres`): always required.
    Postgres,
    /// The Redis pool (`redis`): required only when the service says so.
    Redis,
}

impl Component {
    /// Every component, in report order.
    pub const ALL: [Component; 2] = [Component::Postgres, Component::Redis];

    /// The component's name.
    ///
    /// ```
    /// assert_eq!(poolside_health::Component::Redis.as_str(), "redis");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Postgres => "postgres",
            Component::Redis => "redis",
        }
    }
}
