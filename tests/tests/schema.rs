//! Deployments that migrate once per release (a migration Job, compose's `migrate`):
//! a dispatcher and a worker started with `DRAWPIPE_MIGRATE_ON_START=false` on an
//! unmigrated database wait, touching nothing, until `drawpipe-dispatcher migrate`
//! has run, then serve.

use std::time::Duration;

use drawpipe_tests::{free_port, tiny_png, wait_for_status, EnvOptions, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_that_do_not_migrate_wait_for_the_schema() {
    let mut env = TestEnv::start(EnvOptions {
        unmigrated: true,
        dispatcher_env: vec![("DRAWPIPE_MIGRATE_ON_START", "false".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let probes = format!("127.0.0.1:{}", free_port());
    env.spawn_worker(&[
        "--stages",
        "preprocess,report",
        "--migrate-on-start",
        "false",
        "--metrics-listen",
        &probes,
    ])
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(env.all_running(), "waiting is not exiting");
    let db = env.db().await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(tables, 0, "neither process migrated");
    assert!(
        reqwest::get(format!("{}/healthz", env.api)).await.is_err(),
        "the dispatcher does not serve before the schema is there"
    );

    env.migrate().unwrap();
    let (code, ready) = env.wait_for_readyz(200, Duration::from_secs(30)).await;
    assert_eq!(code, 200, "dispatcher ready after the migration: {ready}");
    let (code, why) = wait_for_status(
        &format!("http://{probes}/readyz"),
        200,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(code, 200, "worker ready after the migration: {why}");
    let id = env.submit(tiny_png(32, 32, 1), "t.png", "preprocess").await;
    let body = env.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(body["status"], "completed", "{body}");
}

/// `--log-format json`: every log line is one JSON object with the level, the target
/// and the message in `fields`; an unknown format is refused, naming the choices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let out = env
        .dispatcher_cmd()
        .args(["--log-format", "json", "migrate"])
        .env("DRAWPIPE_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["target"].is_string()),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "database is migrated" && l["level"] == "INFO"),
        "{stderr}"
    );
    let bad = env
        .dispatcher_cmd()
        .args(["--log-format", "xml", "migrate"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("text or json"));
}
