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
        vec![("DATABASE_URL".into(), url.clone())],
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
                "POOLSIDE_FAILOVER__SECONDARY_URL".into(),
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
