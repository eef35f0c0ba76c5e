//! RabbitMQ's application stopped and started (`rabbitmqctl stop_app` / `start_app`)
//! while jobs flow, with no drawpipe process restarted by the test: `/readyz` says 503
//! naming the broker while it is down, `/healthz` stays 200 (the dispatcher's and the
//! worker's, on its metrics port), submissions are still accepted (kept in the
//! outbox), and afterwards every job completes exactly once.
//!
//! This file holds one test so that no other test runs while the broker is down; the
//! broker is started again even when the test fails.

use std::process::Command;
use std::time::Duration;

use drawpipe_tests::{
    free_port, probe, rabbitmqctl, tiny_png, wait_for_status, EnvOptions, TestEnv,
};

/// Starts the broker's application again when dropped (on success and on panic).
struct StartAgain;

impl Drop for StartAgain {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["start_app"]);
        let _ = Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "120"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_stop_and_start_loses_nothing() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let db = env.db().await;
    let probes = format!("127.0.0.1:{}", free_port());
    env.spawn_worker(&["--stages", "preprocess,report", "--metrics-listen", &probes])
        .unwrap();
    // The worker's probes, on its metrics address.
    let url = |path: &str| format!("http://{probes}{path}");
    let wait = Duration::from_secs(60);
    let (code, body) = wait_for_status(&url("/readyz"), 200, wait).await;
    assert_eq!(code, 200, "worker /readyz before the stop: {body}");
    let (code, metrics) = probe(&url("/metrics")).await;
    assert_eq!(code, 200);
    assert!(metrics.contains("# TYPE"), "{metrics}");
    let mut ids = vec![];
    for i in 0..20u8 {
        ids.push(
            env.submit(tiny_png(64, 48, i), "t.png", "preprocess,report")
                .await,
        );
    }

    let guard = StartAgain;
    rabbitmqctl(&["stop_app"]).unwrap();
    // While the broker is down: not ready (naming it), alive, still accepting work.
    let (code, ready) = env.wait_for_readyz(503, Duration::from_secs(30)).await;
    assert_eq!(code, 503, "/readyz while RabbitMQ is down: {ready}");
    assert!(ready.to_string().contains("amqp"), "{ready}");
    let health = env
        .http()
        .get(format!("{}/healthz", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "/healthz stays 200");
    let (code, why) = wait_for_status(&url("/readyz"), 503, wait).await;
    assert_eq!(code, 503, "worker /readyz while RabbitMQ is down: {why}");
    assert!(why.contains("RabbitMQ"), "{why}");
    assert_eq!(
        probe(&url("/healthz")).await.0,
        200,
        "worker /healthz stays 200"
    );
    for i in 20..30u8 {
        ids.push(
            env.submit(tiny_png(64, 48, i), "t.png", "preprocess,report")
                .await,
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        env.all_running(),
        "no process exited while the broker was down"
    );
    drop(guard);

    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(180)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    assert!(
        env.all_running(),
        "no process exited after the broker came back"
    );
    // The workers' relays may have finished the jobs before the dispatcher's backoff
    // ran out: give it until the longest backoff has passed.
    let (code, ready) = env.wait_for_readyz(200, Duration::from_secs(30)).await;
    assert_eq!(code, 200, "ready again: {ready}");
    let (code, why) = wait_for_status(&url("/readyz"), 200, wait).await;
    assert_eq!(code, 200, "worker ready again: {why}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM stage_runs")
        .fetch_one(&db)
        .await
        .unwrap();
    let lost = ids.len() as i64 * 2 - runs;
    println!(
        "rabbitmq stop/start: submitted {} completed {} stage runs {runs} duplicated {} lost {}",
        ids.len(),
        ids.len(),
        (runs - ids.len() as i64 * 2).max(0),
        lost.max(0)
    );
    assert_eq!(runs, ids.len() as i64 * 2, "one run per job and stage");
}
