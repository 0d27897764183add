//! `kubernetes.yaml`, the manifest teams copy with the service, checked three ways:
//! against the Kubernetes API's schemas (`kubernetes-validate --strict`, 1.30 and 1.37);
//! its numbers against each other and the service's; and by running the service with
//! the container's environment and security context (its user and group, a read-only
//! root filesystem, no capabilities, no privilege escalation) and calling the
//! manifest's probes as the kubelet does, through a start before the database, an
//! outage and a SIGTERM. Only what names a place changes for the run: the URLs
//! (PgBouncer through a proxy that can refuse), the password file, the listening
//! addresses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use poolside::config::{Config, ConfigLoader, EnvSnapshot};
use poolside_example_pos_service::SHUTDOWN_DEADLINE;
use poolside_tests::fault_proxy::{FaultProxy, Mode};
use poolside_tests::http::{ServiceProcess, free_port};
use poolside_tests::{required_env, split_password};
use serde_json::{Value, json};

const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kubernetes.yaml");
const PROGRAM: &str = env!("CARGO_BIN_EXE_poolside-example-pos-service");
/// The Kubernetes versions whose schemas the manifest must pass.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// The variables the run sets to this machine's places instead of the manifest's.
const PLACES: [&str; 5] = [
    "POOLSIDE_HTTP_ADDR",
    "POOLSIDE_HEALTH__ADMIN_ADDR",
    "DATABASE_URL",
    "POOLSIDE_POSTGRES__PASSWORD_FILE",
    "REDIS_URL",
];

/// The manifest's three documents.
struct Manifest {
    deployment: Value,
    service: Value,
    disruption_budget: Value,
}

impl Manifest {
    fn read() -> Self {
        let text = std::fs::read_to_string(MANIFEST).expect("kubernetes.yaml is readable");
        let mut documents: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
            .map(|document| {
                serde::Deserialize::deserialize(document).expect("kubernetes.yaml is YAML")
            })
            .collect();
        let mut take = |kind: &str| {
            let at = documents
                .iter()
                .position(|d| d["kind"] == kind)
                .unwrap_or_else(|| panic!("kubernetes.yaml has no {kind}"));
            documents.remove(at)
        };
        let manifest = Self {
            deployment: take("Deployment"),
            service: take("Service"),
            disruption_budget: take("PodDisruptionBudget"),
        };
        assert!(documents.is_empty(), "unexpected documents: {documents:?}");
        manifest
    }

    fn pod(&self) -> &Value {
        &self.deployment["spec"]["template"]["spec"]
    }

    fn container(&self) -> &Value {
        let containers = self.pod()["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "one container");
        &containers[0]
    }

    /// The container's environment, in order.
    fn env(&self) -> Vec<(String, String)> {
        let env = self.container()["env"].as_array().expect("env");
        env.iter()
            .map(|var| {
                let name = var["name"].as_str().expect("a name").to_owned();
                let value = var["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name} has a plain string value"));
                (name, value.to_owned())
            })
            .collect()
    }

    fn env_value(&self, name: &str) -> String {
        self.env()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("the container sets no {name}"))
    }

    /// The container port named `name`.
    fn port(&self, name: &str) -> u16 {
        let ports = self.container()["ports"].as_array().expect("ports");
        let port = ports
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no container port named {name}"));
        number(&port["containerPort"])
    }

    /// The security context the container runs in: the pod's user and group, and the
    /// container's read-only root filesystem, no privilege escalation and no
    /// capabilities, which [`Confinement::launcher`] applies as they are.
    fn confinement(&self) -> Confinement {
        let pod = &self.pod()["securityContext"];
        let container = &self.container()["securityContext"];
        assert_eq!(pod["runAsNonRoot"], true, "{pod}");
        assert_eq!(container["readOnlyRootFilesystem"], true, "{container}");
        assert_eq!(container["allowPrivilegeEscalation"], false, "{container}");
        assert_eq!(
            container["capabilities"],
            json!({"drop": ["ALL"]}),
            "{container}"
        );
        Confinement {
            uid: number(&pod["runAsUser"]).into(),
            gid: number(&pod["runAsGroup"]).into(),
        }
    }

    fn grace_period(&self) -> Duration {
        Duration::from_secs(number(&self.pod()["terminationGracePeriodSeconds"]).into())
    }

    fn probe(&self, kind: &str) -> Probe {
        let probe = &self.container()[kind];
        let get = &probe["httpGet"];
        Probe {
            kind: kind.to_owned(),
            path: get["path"].as_str().expect("an httpGet path").to_owned(),
            port: get["port"].as_str().expect("a named port").to_owned(),
            // Kubernetes's defaults where the manifest sets none.
            period: Duration::from_secs(number_or(&probe["periodSeconds"], 10).into()),
            timeout: Duration::from_secs(number_or(&probe["timeoutSeconds"], 1).into()),
            failure_threshold: number_or(&probe["failureThreshold"], 3).into(),
        }
    }
}

/// `value`, or `default` where it is absent.
fn number_or(value: &Value, default: u16) -> u16 {
    if value.is_null() {
        default
    } else {
        number(value)
    }
}

fn number(value: &Value) -> u16 {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or_else(|| panic!("{value} is not a small whole number"))
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{addr} is not HOST:PORT"))
}

/// The container's environment with this machine's places for the manifest's
/// ([`PLACES`]): `database_url` with its password moved to a file in `dir` (as the
/// mounted Secret), the services' Redis, a free admin port. `ServiceProcess` sets
/// `POOLSIDE_HTTP_ADDR` to a free port of its own.
fn local_env(manifest: &Manifest, database_url: &str, dir: &Path) -> Vec<(String, String)> {
    let (database_url, password) = split_password(database_url);
    let password_file = dir.join("password");
    std::fs::write(&password_file, password).expect("the password file");
    let places = [
        ("POOLSIDE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        (
            "POOLSIDE_HEALTH__ADMIN_ADDR",
            format!("127.0.0.1:{}", free_port()),
        ),
        ("DATABASE_URL", database_url),
        (
            "POOLSIDE_POSTGRES__PASSWORD_FILE",
            password_file.display().to_string(),
        ),
        ("REDIS_URL", required_env("REDIS_URL")),
    ];
    manifest
        .env()
        .into_iter()
        .map(|(name, value)| {
            let local = places.iter().find(|(place, _)| *place == name);
            let value = local.map_or(value, |(_, local)| local.clone());
            (name, value)
        })
        .collect()
}

/// The configuration `env` gives, as the service loads it.
fn config_of(env: &[(String, String)]) -> Config {
    ConfigLoader::from_env(EnvSnapshot::from_iter(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
    .load()
    .unwrap_or_else(|e| panic!("the container's environment is not a valid configuration: {e}"))
    .config
}

/// The container's security context, applied to a process here as the container
/// runtime would: a mount namespace of its own with the root filesystem remounted
/// read-only, then the pod's user and group with no supplementary groups, no
/// capabilities (none inheritable, none in the bounding set) and `no_new_privs`. Needs
/// root (`cargo xtask test` runs as root), `unshare` and `setpriv` (util-linux).
struct Confinement {
    uid: u32,
    gid: u32,
}

impl Confinement {
    /// The launcher that runs a program so confined, `exec`ing it: its pid is the
    /// program's.
    fn launcher(&self) -> Vec<String> {
        let script = "mount -o remount,bind,ro / && exec setpriv --reuid=\"$1\" --regid=\"$2\" \
                      --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
                      -- \"$3\"";
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "confined",
        ]
        .iter()
        .map(ToString::to_string)
        .chain([self.uid.to_string(), self.gid.to_string()])
        .collect()
    }

    /// Panics unless the process `pid` runs confined: its user and group, no effective
    /// capability, `no_new_privs`, and its root filesystem mounted read-only.
    fn assert_applied_to(&self, pid: u32) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.split_whitespace().collect::<Vec<_>>())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        assert_eq!(
            field("Uid:"),
            [self.uid.to_string().as_str(); 4],
            "{status}"
        );
        assert_eq!(
            field("Gid:"),
            [self.gid.to_string().as_str(); 4],
            "{status}"
        );
        assert_eq!(field("Groups:"), Vec::<&str>::new(), "{status}");
        assert_eq!(field("CapEff:"), ["0000000000000000"], "{status}");
        assert_eq!(field("CapBnd:"), ["0000000000000000"], "{status}");
        assert_eq!(field("NoNewPrivs:"), ["1"], "{status}");
        // The last mount on `/` is the one the process sees.
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("its mounts");
        let root_options = mounts
            .lines()
            .map(|line| line.split(' ').collect::<Vec<_>>())
            .rfind(|fields| fields.get(4) == Some(&"/"))
            .and_then(|fields| fields.get(5).map(|options| options.to_string()))
            .expect("a mount on /");
        assert!(
            root_options.split(',').any(|option| option == "ro"),
            "the root filesystem is mounted {root_options}"
        );
    }
}

/// A working directory of the test's own, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("poolside-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a working directory");
        Self(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An HTTP probe, as the kubelet runs it.
#[derive(Debug)]
struct Probe {
    kind: String,
    path: String,
    port: String,
    period: Duration,
    timeout: Duration,
    failure_threshold: u32,
}

impl Probe {
    /// Whether the probe passes on `service`: 200 to 399 within its timeout.
    fn passes(&self, service: &ServiceProcess) -> bool {
        let began = Instant::now();
        let answer = service.answer("GET", &self.path, None);
        let took = began.elapsed();
        answer.is_ok_and(|a| (200..400).contains(&a.status)) && took <= self.timeout
    }

    /// How long the kubelet lets it fail before it acts.
    fn budget(&self) -> Duration {
        self.period * self.failure_threshold
    }
}

#[test]
fn the_manifest_is_valid_kubernetes_and_its_numbers_agree() {
    for version in KUBERNETES_VERSIONS {
        let output = Command::new(poolside_tests::tools::kubernetes_validate())
            .args(["--strict", "--kubernetes-version", version, MANIFEST])
            .output()
            .expect("kubernetes-validate runs");
        assert!(
            output.status.success(),
            "kubernetes-validate against {version}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let manifest = Manifest::read();

    // The probes: the service's port, the probe endpoints, liveness the process only.
    for (kind, path) in [
        ("startupProbe", "/health/startup"),
        ("readinessProbe", "/health/ready"),
        ("livenessProbe", "/health/live"),
    ] {
        let probe = manifest.probe(kind);
        assert_eq!(probe.path, path, "{kind}");
        assert_eq!(probe.port, "http", "{kind}");
    }
    let http_addr = manifest.env_value("POOLSIDE_HTTP_ADDR");
    assert_eq!(port_of(&http_addr), manifest.port("http"), "{http_addr}");
    let admin_addr = manifest.env_value("POOLSIDE_HEALTH__ADMIN_ADDR");
    assert_eq!(port_of(&admin_addr), manifest.port("admin"), "{admin_addr}");
    let annotations = &manifest.deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["prometheus.io/port"],
        manifest.port("admin").to_string(),
        "Prometheus scrapes the admin port"
    );
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    // The Service and the disruption budget select the Deployment's pods, and the
    // Service sends to the service's port, not the admin one.
    let labels = &manifest.deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        &manifest.deployment["spec"]["selector"]["matchLabels"],
        labels
    );
    assert_eq!(&manifest.service["spec"]["selector"], labels);
    assert_eq!(
        &manifest.disruption_budget["spec"]["selector"]["matchLabels"],
        labels
    );
    let service_ports = manifest.service["spec"]["ports"].as_array().expect("ports");
    assert_eq!(service_ports.len(), 1, "only the service's port is exposed");
    assert_eq!(service_ports[0]["targetPort"], "http");

    // The numbers the configuration gives, loaded from the container's environment.
    for place in PLACES {
        manifest.env_value(place);
    }
    let dir = WorkDir::new("kubernetes-config");
    let config = config_of(&local_env(
        &manifest,
        &required_env("PGBOUNCER_URL"),
        &dir.0,
    ));
    let spec = &manifest.deployment["spec"];
    let pods_at_most =
        number(&spec["replicas"]) + number(&spec["strategy"]["rollingUpdate"]["maxSurge"]);
    assert!(
        config.postgres.expected_instances >= u32::from(pods_at_most),
        "postgres.expected_instances {} < replicas + maxSurge {pods_at_most}",
        config.postgres.expected_instances
    );
    let grace = manifest.grace_period();
    let shutdown = config.health.shutdown_delay + SHUTDOWN_DEADLINE;
    assert!(
        grace > shutdown,
        "terminationGracePeriodSeconds {grace:?} <= shutdown_delay + the pools' close {shutdown:?}"
    );
    assert!(
        config.health.shutdown_delay >= manifest.probe("readinessProbe").period,
        "health.shutdown_delay {:?} ends before one readiness period",
        config.health.shutdown_delay
    );
    // Liveness passes whatever the database does; a start before the database may take
    // the startup probe's whole budget, which must outlast a database restart.
    assert!(manifest.probe("startupProbe").budget() >= Duration::from_secs(60));
    println!(
        "kubernetes.yaml: valid against {KUBERNETES_VERSIONS:?}; grace {grace:?} > {shutdown:?}; \
         up to {pods_at_most} pods of max_size {} against expected_instances {}",
        config.postgres.max_size, config.postgres.expected_instances
    );
}

/// Polls `probe` every 100 ms until it gives `passes`, within `limit`, while liveness
/// passes at every poll: how long it took.
fn until(
    service: &ServiceProcess,
    probe: &Probe,
    passes: bool,
    liveness: &Probe,
    limit: Duration,
) -> Duration {
    let began = Instant::now();
    loop {
        assert!(
            liveness.passes(service),
            "liveness failed while waiting for {probe:?}"
        );
        if probe.passes(service) == passes {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < limit,
            "{} not {} within {limit:?}",
            probe.kind,
            if passes { "passing" } else { "failing" }
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// For `for_how_long`, every 100 ms: liveness passes, `failing` fail.
fn hold(service: &ServiceProcess, liveness: &Probe, failing: &[&Probe], for_how_long: Duration) {
    let began = Instant::now();
    while began.elapsed() < for_how_long {
        assert!(liveness.passes(service), "liveness failed");
        for probe in failing {
            assert!(!probe.passes(service), "{} passed", probe.kind);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_service_answers_the_manifests_probes_through_an_outage_and_a_sigterm() {
    let manifest = Manifest::read();
    let startup = manifest.probe("startupProbe");
    let readiness = manifest.probe("readinessProbe");
    let liveness = manifest.probe("livenessProbe");

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let pgbouncer = required_env("PGBOUNCER_URL");
    let (proxy, proxied) = runtime.block_on(FaultProxy::in_front_of(&pgbouncer));
    proxy.set_mode(Mode::Refuse);
    let dir = WorkDir::new("kubernetes-probes");
    let env = local_env(&manifest, &proxied, &dir.0);
    let health = config_of(&env).health;
    let removed = ["DATABASE_URL_DIRECT", "PGBOUNCER_URL", "POOLSIDE_CONFIG"];
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let confinement = manifest.confinement();
    let mut service = ServiceProcess::start_live_logged_by(
        &confinement.launcher(),
        PROGRAM,
        &env,
        &removed,
        &dir.0,
    );
    confinement.assert_applied_to(service.pid());

    // Started before its database: live, neither started nor ready.
    hold(
        &service,
        &liveness,
        &[&startup, &readiness],
        Duration::from_secs(2),
    );

    proxy.set_mode(Mode::Pass);
    let started = until(&service, &startup, true, &liveness, startup.budget());
    let ready = until(
        &service,
        &readiness,
        true,
        &liveness,
        Duration::from_secs(5),
    );

    // An outage: out of rotation within a check, never restarted, back once it ends.
    proxy.set_mode(Mode::Refuse);
    let unready = until(
        &service,
        &readiness,
        false,
        &liveness,
        health.check_interval + health.check_timeout + readiness.budget(),
    );
    hold(&service, &liveness, &[&readiness], Duration::from_secs(2));
    proxy.set_mode(Mode::Pass);
    let back = until(
        &service,
        &readiness,
        true,
        &liveness,
        Duration::from_secs(5),
    );

    // SIGTERM: out of rotation at once, still live and serving through the delay, then
    // an exit 0 within the grace period.
    let grace = manifest.grace_period();
    let sigterm = Instant::now();
    service.send_sigterm();
    let leaving = until(&service, &readiness, false, &liveness, readiness.period);
    let (status, products) = service.call("GET", "/products", None);
    assert_eq!(status, 200, "not served after SIGTERM: {products}");
    hold(&service, &liveness, &[&readiness], Duration::from_secs(2));
    let exit = service.wait_for_exit();
    let exited = sigterm.elapsed();
    assert!(exit.success(), "{exit}: {}", service.output());
    assert!(
        exited < grace,
        "exited {exited:?} after SIGTERM, grace {grace:?}"
    );
    println!(
        "probes: started {started:?} and ready {ready:?} after the database answered; \
         unready {unready:?} into an outage, ready {back:?} after it; \
         unready {leaving:?} after SIGTERM, exit 0 after {exited:?} (grace {grace:?})"
    );
}
