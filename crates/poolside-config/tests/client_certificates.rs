//! Client certificates (`sslcert`, `sslkey`) in PostgreSQL and Redis URLs: both files
//! or neither, each a file, sent over TLS only, and one pair for a cluster's nodes.

use std::path::PathBuf;

use poolside_config::{ConfigLoader, EnvSnapshot};

fn env(vars: &[(&str, &str)]) -> EnvSnapshot {
    vars.iter().copied().collect()
}

/// A file under the target directory (validation checks only that it is one).
fn file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, "not read by validation").expect("write a temp file");
    path
}

fn load_error(vars: &[(&str, &str)]) -> String {
    ConfigLoader::from_env(env(vars))
        .load()
        .expect_err("refused")
        .to_string()
}

#[test]
fn postgres_client_certificates_need_both_files_and_tls() {
    let (cert, key) = (file("pg-client.crt"), file("pg-client.key"));
    let with = |params: &str| format!("postgres://app:s3cret@10.0.0.1/app?{params}");
    let pair = format!("sslcert={}&sslkey={}", cert.display(), key.display());
    let loaded = ConfigLoader::from_env(env(&[(
        "DATABASE_URL",
        &with(&format!("sslmode=verify-full&{pair}")),
    )]))
    .load()
    .expect("a client certificate");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    let text = load_error(&[(
        "DATABASE_URL",
        &with("sslcert=/nonexistent/c.crt&sslkey=/nonexistent/c.key"),
    )]);
    for expected in [
        "sslcert /nonexistent/c.crt is not a file: give the PEM file of the client certificate",
        "sslkey /nonexistent/c.key is not a file: give the PEM file of the client certificate's private key",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("s3cret"), "{text}");
    let text = load_error(&[(
        "DATABASE_URL",
        &with(&format!("sslcert={}", cert.display())),
    )]);
    assert!(text.contains("sslcert and sslkey go together"), "{text}");
    let text = load_error(&[("DATABASE_URL", &with(&format!("{pair}&sslpassword=k3y")))]);
    assert!(text.contains("sslpassword is not supported"), "{text}");
    assert!(!text.contains("k3y"), "{text}");

    let loaded = ConfigLoader::from_env(env(&[(
        "DATABASE_URL",
        &with(&format!("sslmode=disable&{pair}")),
    )]))
    .load()
    .expect("a warning only");
    assert!(
        loaded.warnings.iter().any(|w| w
            .message()
            .contains("with sslmode=disable, which never sends it")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn redis_client_certificates_go_over_tls_and_are_one_pair_for_a_cluster() {
    const URL: &str = "postgres://app:pw@127.0.0.1:5432/app";
    let (cert, key) = (file("redis-client.crt"), file("redis-client.key"));
    let pair = format!("sslcert={}&sslkey={}", cert.display(), key.display());
    ConfigLoader::from_env(env(&[
        ("DATABASE_URL", URL),
        (
            "REDIS_URL",
            &format!("rediss://:s3cret@10.0.0.1:6380/0?{pair}"),
        ),
    ]))
    .load()
    .expect("a client certificate over TLS");
    let text = load_error(&[
        ("DATABASE_URL", URL),
        (
            "REDIS_URL",
            &format!("redis://:s3cret@10.0.0.1:6379/0?{pair}"),
        ),
    ]);
    assert!(
        text.contains("which is sent over TLS only: use rediss://"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    let text = load_error(&[
        ("DATABASE_URL", URL),
        (
            "REDIS_URL",
            "rediss://10.0.0.1:6380/0?sslkey=/nonexistent/c.key",
        ),
    ]);
    assert!(text.contains("sslcert and sslkey go together"), "{text}");

    let cluster = |second: &str| {
        vec![
            ("DATABASE_URL", URL.to_owned()),
            ("POOLSIDE_REDIS__MODE", "cluster".to_owned()),
            (
                "POOLSIDE_REDIS__CLUSTER_NODES",
                format!("rediss://10.0.0.1:6380?{pair} rediss://10.0.0.2:6380{second}"),
            ),
        ]
    };
    let same = cluster(&format!("?{pair}"));
    let same: Vec<_> = same.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ConfigLoader::from_env(env(&same))
        .load()
        .expect("one pair for every node");
    let one = cluster("");
    let one: Vec<_> = one.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = load_error(&one);
    assert!(
        text.contains("names different client certificates"),
        "{text}"
    );
}
