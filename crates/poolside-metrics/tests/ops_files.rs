//! The operator files shipped in `ops/`: the alert rules pass `promtool check rules`
//! and their unit tests (`promtool test rules`, every alert firing at its threshold
//! after its `for` and quiet below it), the rules, the Grafana dashboard and the
//! runbook name only metrics poolside exports, and every alert links to its section of
//! the runbook, which names only configuration keys poolside reads.

use std::path::PathBuf;
use std::process::Command;

fn ops(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../ops")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(ops(path)).unwrap_or_else(|e| panic!("reading ops/{path}: {e}"))
}

/// The `poolside_*` metric names in `text`, without the histogram series suffixes.
fn metric_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("poolside_"))
        .map(|word| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix))
                .unwrap_or(word)
                .to_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs `promtool <command> <subcommand> ops/<file>`, which must succeed.
fn promtool_passes(command: &str, subcommand: &str, file: &str) {
    let output = Command::new(poolside_tests::tools::promtool())
        .args([command, subcommand])
        .arg(ops(file))
        .output()
        .expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool {command} {subcommand} {file}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool() {
    promtool_passes("check", "rules", "prometheus/alerts.yml");
}

/// The values after `key: ` on the lines of `text` that have it (YAML, one per line).
fn values_of<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| line.trim().trim_start_matches("- ").strip_prefix(key))
        .map(str::trim)
        .collect()
}

#[test]
fn every_alert_fires_at_its_threshold_and_stays_quiet_below_it() {
    promtool_passes("test", "rules", "prometheus/alerts.test.yml");
    // promtool passes a file that tests no alert: each alert must have its cases, one
    // that fires and one that stays quiet.
    let rules = read("prometheus/alerts.yml");
    let tests = read("prometheus/alerts.test.yml");
    let alerts = values_of(&rules, "alert:");
    assert_eq!(alerts.len(), 11, "{alerts:?}");
    for alert in alerts {
        let cases = tests
            .split("  - name: ")
            .find(|group| group.starts_with(&format!("{alert}\n")))
            .unwrap_or_else(|| panic!("alerts.test.yml has no test group named {alert}"));
        assert!(
            cases.contains("exp_alerts: []") && cases.contains("exp_labels:"),
            "{alert}: test both a quiet and a firing evaluation"
        );
        assert!(
            values_of(cases, "alertname:")
                .iter()
                .all(|name| *name == alert),
            "{alert}'s group evaluates another alert"
        );
    }
}

#[test]
fn the_rules_the_dashboard_and_the_runbook_name_only_exported_metrics() {
    for (file, at_least) in [
        ("prometheus/alerts.yml", 5),
        ("grafana/poolside.json", 5),
        ("RUNBOOK.md", 10),
    ] {
        let names = metric_names(&read(file));
        assert!(
            names.len() >= at_least,
            "{file} names few metrics: {names:?}"
        );
        for name in names {
            assert!(
                poolside_metrics::names::ALL.contains(&name.as_str()),
                "{file} names {name}, which poolside does not export"
            );
        }
    }
}

#[test]
fn the_dashboard_covers_what_operators_watch() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana/poolside.json")).expect("the dashboard is JSON");
    let titles: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    for topic in [
        "utilization",
        "waiting",
        "acquire p99",
        "p50 / p95 / p99",
        "error",
        "retries",
        "breaker",
        "cache hit rate",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(topic)),
            "no panel on {topic}: {titles:?}"
        );
    }
}

/// The GitHub anchor of a Markdown heading's text: lower case, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_links_to_its_runbook_section() {
    let rules = read("prometheus/alerts.yml");
    let runbook = read("RUNBOOK.md");
    let headings: Vec<&str> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .collect();
    let anchors: Vec<String> = headings.iter().map(|h| anchor(h)).collect();
    let alerts = values_of(&rules, "alert:");
    let urls = values_of(&rules, "runbook_url:");
    assert_eq!(
        urls.len(),
        alerts.len(),
        "an alert without a runbook_url: {urls:?}"
    );
    for (alert, url) in alerts.iter().zip(&urls) {
        let (_, fragment) = url
            .trim_matches('"')
            .split_once("/ops/RUNBOOK.md#")
            .unwrap_or_else(|| panic!("{alert}'s runbook_url is not ops/RUNBOOK.md: {url}"));
        assert!(
            headings.contains(alert) && fragment == anchor(alert),
            "{alert}: runbook_url {url}, headings {headings:?}"
        );
    }
    // Every alert section is of an alert that exists; every link within goes somewhere.
    for heading in headings.iter().filter(|h| h.starts_with("Poolside")) {
        assert!(
            alerts.contains(heading),
            "RUNBOOK.md has a section on no alert: {heading}"
        );
    }
    for link in runbook.split("](#").skip(1) {
        let target = link.split(')').next().unwrap_or_default();
        assert!(
            anchors.iter().any(|a| a == target),
            "a link to no section: #{target}"
        );
    }
}

#[test]
fn the_runbook_names_only_real_configuration_keys() {
    let runbook = read("RUNBOOK.md");
    let keys: Vec<&str> = poolside_config::key_paths().collect();
    let sections: Vec<&str> = keys.iter().filter_map(|k| k.split('.').next()).collect();
    let named: Vec<&str> = runbook
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| {
            code.split_once('.').is_some_and(|(section, rest)| {
                sections.contains(&section)
                    && !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            })
        })
        .collect();
    assert!(named.len() >= 15, "the runbook names few keys: {named:?}");
    for key in named {
        assert!(
            keys.contains(&key),
            "RUNBOOK.md names `{key}`, which is no configuration key"
        );
    }
}
