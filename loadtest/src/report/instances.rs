//! The `instances` scenario's own figures: many pos-service processes on one
//! PgBouncer, the connections over time, the failures that name a connection limit,
//! and its verdicts.

use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::ConnectionSample;

/// Texts of the errors a connection limit gives: PostgreSQL's 53300 ("sorry, too
/// many clients already", "remaining connection slots are reserved ...") and
/// PgBouncer's `max_client_conn` ("no more connections allowed").
pub(crate) const LIMIT_ERRORS: [&str; 5] = [
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
    "no more connections allowed",
    "53300",
];

/// Whether `text` names a connection limit.
pub(crate) fn names_a_limit(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    LIMIT_ERRORS.iter().any(|limit| text.contains(limit))
}

/// What one `instances` run saw besides throughput and latency (those are rows).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InstancesFigures {
    /// Tasks over all instances.
    pub(crate) tasks: usize,
    pub(crate) instances: usize,
    /// Each instance's `postgres.max_size`.
    pub(crate) max_size: u32,
    /// The server's `max_connections`.
    pub(crate) server_max_connections: usize,
    /// PgBouncer's pools and the server's connections, sampled during the run.
    pub(crate) samples: Vec<ConnectionSample>,
    /// Lines naming a connection limit: in answers, the instances' output and the
    /// server's log.
    pub(crate) limit_errors: Vec<String>,
    /// What each instance's `/health/detailed` budget found (problems, unread parts).
    pub(crate) budget_findings: Vec<String>,
}

impl InstancesFigures {
    fn peak(&self, field: impl Fn(&ConnectionSample) -> u32) -> u32 {
        self.samples.iter().map(field).max().unwrap_or(0)
    }

    /// The section printed after the table: a timeline of the connections.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "\ninstances at {} tasks: {} pos-service processes x postgres.max_size {} = up to {} \
             client connections on one PgBouncer, server max_connections {}\n",
            self.tasks,
            self.instances,
            self.max_size,
            self.instances as u32 * self.max_size,
            self.server_max_connections
        );
        let _ = writeln!(
            out,
            "  {:>6}  {:>9}  {:>10}  {:>9}  {:>7}  {:>18}",
            "at s", "cl_active", "cl_waiting", "sv_active", "sv_idle", "server connections"
        );
        // About a dozen lines, evenly spread.
        let step = self.samples.len().div_ceil(12).max(1);
        for sample in self.samples.iter().step_by(step) {
            let _ = writeln!(
                out,
                "  {:>6.1}  {:>9}  {:>10}  {:>9}  {:>7}  {:>18}",
                sample.at_s,
                sample.cl_active,
                sample.cl_waiting,
                sample.sv_active,
                sample.sv_idle,
                sample.server_connections
            );
        }
        let _ = writeln!(
            out,
            "  peaks: cl_active {}, cl_waiting {}, sv_active {}, server connections {} ({} samples)",
            self.peak(|s| s.cl_active),
            self.peak(|s| s.cl_waiting),
            self.peak(|s| s.sv_active),
            self.peak(|s| s.server_connections),
            self.samples.len()
        );
        out
    }

    /// The verdict lines.
    pub(crate) fn verdicts(&self) -> Vec<String> {
        let peak = self.peak(|s| s.server_connections);
        let limits = match self.limit_errors.first() {
            None => "0 failures named a connection limit".to_owned(),
            Some(first) => format!(
                "{} failures named a connection limit, the first: {first}",
                self.limit_errors.len()
            ),
        };
        let ran = self.instances >= 8 && !self.samples.is_empty();
        let budget = match self.budget_findings.first() {
            None => "every instance's /health/detailed budget fits".to_owned(),
            Some(first) => format!(
                "{} budget findings, the first: {first}",
                self.budget_findings.len()
            ),
        };
        vec![
            format!(
                "{} {} instances at {} tasks, up to {} client connections (peak {}) through \
                 one PgBouncer: {limits}; server connections peaked at {peak} of {} (goal: >= 8 \
                 instances, 0 such failures)",
                super::verdicts::verdict(ran && self.limit_errors.is_empty() && peak > 0),
                self.instances,
                self.tasks,
                self.instances as u32 * self.max_size,
                self.peak(|s| s.cl_active),
                self.server_max_connections
            ),
            format!(
                "{} connection budget with postgres.expected_instances = {}: {budget}",
                super::verdicts::verdict(ran && self.budget_findings.is_empty()),
                self.instances
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(limit_errors: Vec<String>) -> InstancesFigures {
        InstancesFigures {
            tasks: 48,
            instances: 8,
            max_size: 20,
            server_max_connections: 300,
            samples: vec![ConnectionSample {
                server_connections: 24,
                sv_active: 20,
                ..ConnectionSample::default()
            }],
            limit_errors,
            budget_findings: Vec::new(),
        }
    }

    #[test]
    fn a_failure_naming_a_connection_limit_fails_the_verdict() {
        assert!(names_a_limit("FATAL: sorry, too many clients already"));
        assert!(names_a_limit(
            "remaining connection slots are reserved for non-replication superuser connections"
        ));
        assert!(names_a_limit(
            "ERROR: no more connections allowed (max_client_conn)"
        ));
        assert!(!names_a_limit("HTTP 409: out of stock"));
        let pass = figures(Vec::new()).verdicts();
        assert!(
            pass[0].starts_with("PASS") && pass[1].starts_with("PASS"),
            "{pass:?}"
        );
        assert!(pass[0].contains("peaked at 24 of 300"), "{pass:?}");
        let fail = figures(vec!["instance 3: sorry, too many clients already".into()]).verdicts();
        assert!(fail[0].starts_with("FAIL"), "{fail:?}");
        assert!(
            fail[0].contains("1 failures named a connection limit"),
            "{fail:?}"
        );
    }
}
