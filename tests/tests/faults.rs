//! Exactly-once effect under redelivery: a worker killed with SIGKILL while it holds
//! messages; another picks them up and every job completes once.

use std::time::{Duration, Instant};

use drawpipe_tests::{fixture, tiny_png, EnvOptions, TestEnv};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_loses_nothing() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    // Large drawings, so preprocess takes long enough to be killed mid-computation.
    let bytes = std::fs::read(fixture("BM_part.jpg")).unwrap();
    let mut ids = vec![];
    for _ in 0..6 {
        ids.push(
            env.submit(bytes.clone(), "bm.jpg", "preprocess,report")
                .await,
        );
    }
    let db = env.db().await;
    let victim = env
        .spawn_worker(&["--batch-max", "2", "--concurrency", "1"])
        .unwrap();
    // Wait until the victim has claimed work (a run is `running`), then kill it.
    wait_until_running(&db).await;
    env.kill_worker(victim);
    let killed_running: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stage_runs WHERE status = 'running'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(
        killed_running > 0,
        "the victim held claimed work when killed"
    );

    env.spawn_worker(&[]).unwrap();
    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(180)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let rows = sqlx::query("SELECT job_id, stage, attempts FROM stage_runs ORDER BY job_id, stage")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        ids.len() * 2,
        "exactly one stage_runs row per job and stage"
    );
    let retried = rows.iter().filter(|r| r.get::<i32, _>(2) >= 2).count();
    println!(
        "worker SIGKILL: submitted {} completed {} stage runs {} (retried {retried}) duplicated {} lost {}",
        ids.len(),
        ids.len(),
        rows.len(),
        rows.len().saturating_sub(ids.len() * 2),
        (ids.len() * 2).saturating_sub(rows.len())
    );
    assert!(retried >= 1, "attempts show the retry after the kill");
    let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM pages")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        pages,
        ids.len() as i64,
        "one page row per job, no duplicates"
    );
    let completed_events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(completed_events, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_work() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let bytes = std::fs::read(fixture("BM_part.jpg")).unwrap();
    let mut ids = vec![];
    for _ in 0..4 {
        ids.push(env.submit(bytes.clone(), "bm.jpg", "preprocess").await);
    }
    let db = env.db().await;
    let pid = env
        .spawn_worker(&["--batch-max", "1", "--concurrency", "1"])
        .unwrap();
    wait_until_running(&db).await;
    unsafe { libc_kill(pid as i32, 15) };
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The run in progress when SIGTERM arrived finished (succeeded, attempt 1); none was abandoned.
    let rows = sqlx::query("SELECT status, attempts FROM stage_runs WHERE stage = 'preprocess'")
        .fetch_all(&db)
        .await
        .unwrap();
    let succeeded = rows
        .iter()
        .filter(|r| r.get::<String, _>(0) == "succeeded")
        .count();
    let running = rows
        .iter()
        .filter(|r| r.get::<String, _>(0) == "running")
        .count();
    assert!(succeeded >= 1, "in-flight work finished");
    assert_eq!(running, 0, "nothing left half-done");
    env.spawn_worker(&[]).unwrap();
    for id in &ids {
        assert_eq!(
            env.wait_finished(id, Duration::from_secs(120)).await["status"],
            "completed"
        );
    }
    let attempts: i64 = sqlx::query_scalar("SELECT max(attempts)::bigint FROM stage_runs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(attempts, 1, "a graceful stop causes no retry");
}

/// A rolling upgrade on one machine: two workers serve a steady stream of jobs while
/// each is replaced in turn (SIGTERM, its grace period, a new process started), as a
/// Deployment's rolling update or `docker compose up` of a new image does. Every job
/// completes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_replacement_of_workers_loses_nothing() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let stages = ["--stages", "preprocess,report"];
    let old = [
        env.spawn_worker(&stages).unwrap(),
        env.spawn_worker(&stages).unwrap(),
    ];
    // Steady load: a job every 50 ms for the whole replacement.
    let api = env.api.clone();
    let load = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut ids = Vec::new();
        for i in 0..160u32 {
            let form = reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(tiny_png(32, 24, (i % 251) as u8))
                        .file_name("t.png"),
                )
                .text("stages", "preprocess,report");
            let r = http
                .post(format!("{api}/v1/jobs"))
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            let body: serde_json::Value = r.json().await.unwrap();
            ids.push(body["id"].as_str().unwrap().to_string());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ids
    });
    let mut graceful = 0;
    for pid in old {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if env.stop_worker(pid, Duration::from_secs(45)) {
            graceful += 1;
        }
        env.spawn_worker(&stages).unwrap();
    }
    let ids = load.await.unwrap();
    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let db = env.db().await;
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM stage_runs")
        .fetch_one(&db)
        .await
        .unwrap();
    let want = ids.len() as i64 * 2;
    println!(
        "rolling replacement of 2 workers: submitted {} completed {} stage runs {runs} duplicated {} lost {} (stopped within grace: {graceful} of 2)",
        ids.len(),
        ids.len(),
        (runs - want).max(0),
        (want - runs).max(0)
    );
    assert_eq!(runs, want, "one run per job and stage");
    assert_eq!(graceful, 2, "each worker stopped within its grace");
}

/// Waits until some stage run is `running`: a worker has claimed work.
async fn wait_until_running(db: &sqlx::PgPool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running: i64 =
            sqlx::query_scalar("SELECT count(*) FROM stage_runs WHERE status = 'running'")
                .fetch_one(db)
                .await
                .unwrap();
        if running > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no worker claimed work within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// The broker closes every connection (as a restart does) twice while jobs flow: the
/// dispatcher and the worker reconnect by themselves, and every job completes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_broker_connections_are_reopened() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let db = env.db().await;
    env.spawn_worker(&["--stages", "preprocess,report"])
        .unwrap();
    let mut ids = vec![];
    for i in 0..30u8 {
        ids.push(
            env.submit(
                drawpipe_tests::tiny_png(64, 48, i),
                "t.png",
                "preprocess,report",
            )
            .await,
        );
        if i == 10 || i == 20 {
            env.close_broker_connections().unwrap();
        }
    }
    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    assert!(env.all_running(), "no process exited on the broker's close");
    let (code, ready) = env.wait_for_readyz(200, Duration::from_secs(30)).await;
    assert_eq!(code, 200, "ready again after reconnecting: {ready}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM stage_runs")
        .fetch_one(&db)
        .await
        .unwrap();
    let done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stage_runs WHERE status = 'succeeded'")
            .fetch_one(&db)
            .await
            .unwrap();
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    println!(
        "broker close: submitted {} completed {} stage runs {runs} (succeeded {done}) outbox left {outbox}",
        ids.len(),
        ids.len()
    );
    assert_eq!(
        runs,
        ids.len() as i64 * 2,
        "one run per job and stage: none duplicated"
    );
    assert_eq!(done, runs);
    assert_eq!(outbox, 0, "every committed message was published");
}
