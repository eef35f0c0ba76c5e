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

/// W3C trace context: a job is one trace whose id is the job id. The dispatcher
/// answers a submission with the job's `traceparent`; the outbox relay puts a
/// `traceparent` header on every stage message (one span per stage and attempt);
/// the worker logs each message it takes with that trace id and the publisher's
/// span as its parent, so one job's log lines join up across processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_messages_carry_its_trace_to_the_worker_logs() {
    use drawpipe_core::trace::TraceParent;
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let log_path = std::env::temp_dir().join(format!("drawpipe-trace-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut worker = std::process::Command::new(drawpipe_tests::bin_dir().join("drawpipe"));
    worker
        .args([
            "worker",
            "--stages",
            "preprocess,report",
            "--log-format",
            "json",
        ])
        .env("DRAWPIPE_DATABASE_URL", &env.database_url)
        .env("DRAWPIPE_AMQP_URL", &env.amqp_url)
        .env("DRAWPIPE_LOG", "warn,drawpipe_workers=debug")
        .stdin(std::process::Stdio::null())
        .stderr(log);
    let mut worker = worker.spawn().unwrap();

    // The client's own trace is a link; the job's trace is the job id.
    let theirs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let resp = env
        .http()
        .post(format!("{}/v1/jobs?stages=preprocess,report", env.api))
        .header("content-type", "application/octet-stream")
        .header("traceparent", theirs)
        .body(tiny_png(48, 32, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let answered = resp.headers()["traceparent"].to_str().unwrap().to_string();
    let body: serde_json::Value = resp.json().await.unwrap();
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let job_trace = id.simple().to_string();
    let answered = TraceParent::parse(&answered).expect("a valid traceparent");
    assert_eq!(answered.trace_hex(), job_trace);
    let done = env
        .wait_finished(&id.to_string(), Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let _ = worker.kill();
    let _ = worker.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let received: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| {
            l["fields"]["message"] == "stage message received"
                && l["fields"]["job_id"] == id.to_string()
        })
        .collect();
    let mut stages: Vec<&str> = received
        .iter()
        .map(|l| l["fields"]["stage"].as_str().unwrap())
        .collect();
    stages.sort();
    assert_eq!(stages, ["preprocess", "report"], "{text}");
    for l in &received {
        let f = &l["fields"];
        assert_eq!(f["trace_id"], job_trace.as_str(), "{l}");
        let stage = f["stage"].as_str().unwrap();
        let publish = TraceParent::for_message(
            drawpipe_core::JobId(id),
            stage,
            f["attempt"].as_u64().unwrap() as u32,
        );
        assert_eq!(f["parent_span_id"], publish.span_hex().as_str(), "{l}");
        println!(
            "trace: {stage} message of job {id}: trace {job_trace}, parent span {}",
            publish.span_hex()
        );
    }
}
