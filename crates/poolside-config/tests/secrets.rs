//! A password set in every source never appears in anything the crate prints.

use poolside_config::{ConfigLoader, EnvSnapshot};

const SECRET: &str = "Zx9-distinctive-Pa55";

#[test]
fn no_output_contains_the_password() {
    let url =
        format!("postgres://app:{SECRET}@127.0.0.1:5432/app?password={SECRET}&connection_limit=x");
    let redis = format!("redis://:{SECRET}@127.0.0.1:6379/0");
    let kv = format!("host=127.0.0.1 password={SECRET} dbname=app");
    let cases: Vec<Vec<(String, String)>> = vec![
        vec![
            ("DATABASE_URL".into(), url.clone()),
            ("POOLSIDE_HEALTH__ADMIN_TOKEN".into(), SECRET.into()),
        ],
        vec![
            ("DATABASE_URL".into(), url.clone()),
            // Rejected (a space), and the message must not quote it.
            ("POOLSIDE_HEALTH__ADMIN_TOKEN".into(), format!("{SECRET} x")),
        ],
        vec![(
            "DATABASE_URL".into(),
            url.replace("postgres://", "mysql://"),
        )],
        vec![
            ("POOLSIDE_POSTGRES__URL".into(), kv.clone()),
            ("REDIS_URL".into(), redis.replace("redis://", "http://")),
        ],
        vec![
            ("DATABASE_URL".into(), kv.replace("host=", "nonsense ")),
            (
                "DATABASE_URL_DIRECT".into(),
                format!("postgres://u:{SECRET}@h:notaport/db"),
            ),
            (
                "POOLSIDE_OVERFLOW__SECONDARY_URL".into(),
                format!("postgres://u:{SECRET}@[::1/db"),
            ),
            ("DATABASE_POOL_MIN".into(), "99".into()),
        ],
    ];
    for vars in cases {
        let env: EnvSnapshot = vars.into_iter().collect();
        let report = ConfigLoader::from_env(env.clone())
            .set("redis.url", &redis)
            .check();
        let printed = [
            report.to_string(),
            format!("{report:?}"),
            match ConfigLoader::from_env(env).load() {
                Ok(loaded) => format!("{loaded:?} {:?}", loaded.config),
                Err(e) => format!("{e} {e:?}"),
            },
        ];
        for text in printed {
            assert!(!text.contains(SECRET), "password printed:\n{text}");
        }
    }
}

#[test]
fn an_admin_token_too_short_is_refused_by_name_without_quoting_it() {
    let env: EnvSnapshot = [
        ("DATABASE_URL", "postgres://app@127.0.0.1/app"),
        ("POOLSIDE_HEALTH__ADMIN_TOKEN", "short-Q7"),
    ]
    .into_iter()
    .collect();
    let error = ConfigLoader::from_env(env)
        .load()
        .expect_err("an 8-character token");
    let text = error.to_string();
    assert!(text.contains("health.admin_token"), "{text}");
    assert!(text.contains("at least 16"), "{text}");
    assert!(!text.contains("short-Q7"), "{text}");
}

#[test]
fn an_admin_token_is_loaded_and_shown_masked() {
    let env: EnvSnapshot = [
        ("DATABASE_URL", "postgres://app@127.0.0.1/app"),
        ("POOLSIDE_HEALTH__ADMIN_TOKEN", SECRET),
    ]
    .into_iter()
    .collect();
    let loaded = ConfigLoader::from_env(env.clone()).load().expect("valid");
    let token = loaded.config.health.admin_token.as_ref().expect("set");
    assert!(token.matches(SECRET));
    let report = ConfigLoader::from_env(env).check().to_string();
    assert!(report.contains("health.admin_token"), "{report}");
    assert!(report.contains("****"), "{report}");
}
