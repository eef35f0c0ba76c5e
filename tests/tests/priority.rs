//! Priorities: a job of priority ≥ 5 goes through the interactive stage queues,
//! which a worker takes from first, so it overtakes a backlog of bulk jobs.
//! 200 bulk jobs and then one interactive job are queued before any worker runs;
//! then one worker (one batch of at most 4 in flight, so that the backlog is
//! worked through in order) starts. The interactive job, submitted last, finishes
//! among the first; without interactive queues it would finish last.

use std::time::Duration;

use drawpipe_tests::{tiny_png, EnvOptions, TestEnv};
use serde_json::Value;

const BULK: usize = 200;

async fn submit(env: &TestEnv, priority: u8, seed: u8) -> String {
    let resp = env
        .http()
        .post(format!(
            "{}/v1/jobs?stages=preprocess,report&priority={priority}",
            env.api
        ))
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(tiny_png(64, 48, seed))
        .send()
        .await
        .expect("POST /v1/jobs");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Polls `count_sql` until it counts 0; fails after `secs` naming what was left.
async fn wait_for_none(db: &sqlx::PgPool, count_sql: &str, secs: u64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left: i64 = sqlx::query_scalar(count_sql).fetch_one(db).await.unwrap();
        if left == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_job_overtakes_a_bulk_backlog() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    for i in 0..BULK {
        submit(&env, 0, i as u8).await;
    }
    let fast = submit(&env, 7, 250).await;
    let db = env.db().await;
    // Every message is in its queue before the worker starts (the dispatcher's relay
    // publishes the outbox).
    wait_for_none(
        &db,
        "SELECT count(*) FROM outbox WHERE job_id IS NOT NULL",
        60,
        "outbox rows unpublished",
    )
    .await;
    env.spawn_worker(&["--concurrency", "1", "--batch-max", "4"])
        .unwrap();
    let done = env.wait_finished(&fast, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let open = "SELECT count(*) FROM jobs \
                WHERE status NOT IN ('completed', 'partial', 'failed', 'cancelled')";
    wait_for_none(&db, open, 300, "jobs still open").await;
    let (completed, before): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'completed'), \
                count(*) FILTER (WHERE finished_at < (SELECT finished_at FROM jobs WHERE id = $1)) \
         FROM jobs WHERE id <> $1",
    )
    .bind(uuid::Uuid::parse_str(&fast).unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    println!(
        "priority: {BULK} bulk jobs queued first, then 1 interactive; {before} bulk jobs finished before it, {completed} completed in all"
    );
    assert_eq!(completed, BULK as i64);
    assert!(
        before <= 20,
        "{before} of {BULK} bulk jobs queued before it finished first"
    );
}
