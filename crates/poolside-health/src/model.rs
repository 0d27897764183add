//! The health+json model (draft-inadarei-api-health-check): an overall `status`, and
//! `checks` keyed `component:measurement`, each with its observed value, unit, status
//! and time. Served as `application/health+json`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// The media type of health responses.
pub const HEALTH_JSON: &str = "application/health+json";

/// A health status. Ordered: `Pass < Warn < Fail`, so the worst of several is their max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern (an optional dependency down, a busy pool).
    Warn,
    /// Unhealthy: answered with 503.
    Fail,
}

impl Status {
    /// The HTTP status code: 503 for `Fail`, 200 otherwise.
    pub fn http_code(self) -> u16 {
        match self {
            Status::Fail => 503,
            Status::Pass | Status::Warn => 200,
        }
    }
}

/// One measurement of one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `datastore`, `component` or `system`.
    pub component_type: &'static str,
    /// The measured value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<serde_json::Value>,
    /// Its unit (`ms`, `percent`, `connections`, `s`, `bytes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_unit: Option<&'static str>,
    /// This measurement's status.
    pub status: Status,
    /// When it was measured (RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// What went wrong, for `warn` and `fail` (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*time))
}

/// A health response: the worst status of its checks, and the checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// The overall status.
    pub status: Status,
    /// What this report covers.
    pub description: &'static str,
    /// Checks keyed `component:measurement`.
    pub checks: BTreeMap<String, Vec<Check>>,
    /// Why the status is not `pass`, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl HealthReport {
    /// A report of `checks`, its status the worst of theirs (`pass` with none).
    pub fn new(description: &'static str, checks: BTreeMap<String, Vec<Check>>) -> Self {
        let status = checks
            .values()
            .flatten()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Pass);
        let output = (status != Status::Pass).then(|| {
            checks
                .iter()
                .flat_map(|(key, list)| list.iter().map(move |c| (key, c)))
                .filter(|(_, c)| c.status == status)
                .map(|(key, c)| match &c.output {
                    Some(why) => format!("{key}: {why}"),
                    None => key.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        Self {
            status,
            description,
            checks,
            output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_check_decides_and_is_named() {
        let check = |status, output: Option<&str>| Check {
            component_type: "datastore",
            observed_value: None,
            observed_unit: None,
            status,
            time: SystemTime::UNIX_EPOCH,
            output: output.map(str::to_owned),
        };
        let mut checks = BTreeMap::new();
        checks.insert(
            "postgres:responseTime".into(),
            vec![check(Status::Pass, None)],
        );
        checks.insert(
            "redis:responseTime".into(),
            vec![check(Status::Warn, Some("down"))],
        );
        let report = HealthReport::new("test", checks);
        assert_eq!(report.status, Status::Warn);
        assert_eq!(report.output.as_deref(), Some("redis:responseTime: down"));
        let json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["checks"]["redis:responseTime"][0]["status"], "warn");
        assert_eq!(
            json["checks"]["redis:responseTime"][0]["time"],
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            json["checks"]["redis:responseTime"][0]["componentType"],
            "datastore"
        );
        assert_eq!(Status::Fail.http_code(), 503);
        assert_eq!(Status::Warn.http_code(), 200);
    }
}
