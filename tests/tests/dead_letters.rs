//! Dead letters: a stage message that a consumer keeps giving back (as a worker that
//! crashes on it does) is dead-lettered by RabbitMQ at the quorum queue's delivery
//! limit; the dispatcher fails the run saying so, the job finishes without it (failed), and
//! `drawpipe dead-letters list|requeue|discard` handles it: requeue runs the stage
//! again and the job completes with every stage once; discard leaves the job as it
//! is. Another tenant sees none of it.

use std::process::Output;
use std::time::Duration;

use drawpipe_core::topology;
use drawpipe_tests::{bin_dir, tiny_png, EnvOptions, TestEnv};
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicNackOptions};
use lapin::types::FieldTable;
use serde_json::Value;

/// The stage no worker serves until the dead letter is requeued.
const STAGE: &str = "detect";

/// `drawpipe dead-letters ARGS` with `key`.
fn cli(env: &TestEnv, key: &str, args: &[&str]) -> Output {
    std::process::Command::new(bin_dir().join("drawpipe"))
        .arg("dead-letters")
        .args(args)
        .env("DRAWPIPE_API", &env.api)
        .env("DRAWPIPE_API_KEY", key)
        .output()
        .expect("run drawpipe dead-letters")
}

/// The CLI failed, saying `why` on stderr.
fn refused(o: Output, why: &str) {
    assert!(!o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains(why), "{o:?}");
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Takes every message of the stage queue and gives it back (nack, requeue) until
/// RabbitMQ stops delivering: past the delivery limit each goes to the dead-letter
/// exchange. Returns how many deliveries there were.
async fn crash_on_every_message(env: &TestEnv) -> u32 {
    let conn = drawpipe_core::mq::connect(&env.amqp_url, "tests-crashing-consumer")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.basic_qos(1, Default::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            &topology::stage_queue(STAGE.parse().unwrap()),
            "crashing",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut deliveries = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), consumer.next()).await {
            Ok(Some(Ok(d))) => {
                deliveries += 1;
                d.nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            Ok(other) => panic!("consumer ended: {other:?}"),
            Err(_) => break,
        }
    }
    let _ = ch.close(200, "done").await;
    let _ = conn.close(200, "done").await;
    deliveries
}

async fn submit(env: &TestEnv, seed: u8) -> String {
    let (code, body) = env
        .submit_bytes(
            tiny_png(320, 240, seed),
            "part.png",
            Some(&format!("preprocess,{STAGE},report")),
            None,
        )
        .await;
    assert_eq!(code, 202, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The job's run of `STAGE`: (status, attempts, error).
async fn run_of(db: &sqlx::PgPool, job: &str) -> (String, i32, Option<String>) {
    sqlx::query_as(
        "SELECT status, attempts, error FROM stage_runs WHERE job_id = $1 AND stage = $2",
    )
    .bind(uuid::Uuid::parse_str(job).unwrap())
    .bind(STAGE)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn wait_for_run(db: &sqlx::PgPool, job: &str, status: &str) {
    for _ in 0..300 {
        if run_of(db, job).await.0 == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{STAGE} of {job} never {status}: {:?}",
        run_of(db, job).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_requeued_and_discarded() {
    let mut env = TestEnv::start(EnvOptions {
        auth: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let key = env.api_key.clone().unwrap();
    let other = env.create_key("other-tenant", false).unwrap();
    env.spawn_worker(&["--stages", "preprocess,report"])
        .unwrap();
    let db = env.db().await;

    // Two jobs; their `detect` messages are given back until RabbitMQ dead-letters
    // them.
    let (first, second) = (submit(&env, 1).await, submit(&env, 2).await);
    let letters = [first.clone(), second.clone()];
    for job in &letters {
        wait_for_run(&db, job, "queued").await;
    }
    let delivered = crash_on_every_message(&env).await;
    assert!(
        delivered > 2 * topology::DELIVERY_LIMIT as u32,
        "delivered {delivered} times"
    );
    for job in &letters {
        // `detect` was the job's only reading stage: nothing was read.
        let done = env.wait_finished(job, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert!(
            done["error"]
                .as_str()
                .unwrap_or("")
                .contains("dead-lettered"),
            "{done}"
        );
        let (status, _, error) = run_of(&db, job).await;
        assert_eq!(status, "failed");
        assert!(
            error.as_deref().unwrap_or("").contains("dead-lettered"),
            "{error:?}"
        );
    }
    println!("dead letters: 2 stage messages nacked past the delivery limit, 2 runs failed");

    // Listed, for this key only.
    let out = cli(&env, &key, &["list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (d, job) in listed.iter().zip(&letters) {
        assert_eq!(d["job_id"], job.as_str());
        assert_eq!(d["stage"], STAGE);
        assert_eq!(d["state"], "open");
        assert_eq!(d["job_status"], "failed");
    }
    let ids: Vec<String> = listed.iter().map(|d| d["id"].to_string()).collect();
    let theirs = cli(&env, &other, &["list", "--json"]);
    assert_eq!(stdout(&theirs).trim(), "[]", "{theirs:?}");
    refused(cli(&env, &other, &["requeue", &ids[0]]), "404");

    // Requeue the first: the stage runs again once a worker serves it, and the job
    // completes with every stage succeeded.
    let out = cli(&env, &key, &["requeue", &ids[0]]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("requeued"), "{}", stdout(&out));
    env.spawn_worker(&["--stages", STAGE]).unwrap();
    wait_for_run(&db, &first, "succeeded").await;
    let done = env.wait_finished(&first, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (status, attempts, error) = run_of(&db, &first).await;
    assert_eq!((status.as_str(), attempts, error), ("succeeded", 1, None));
    let succeeded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stage_runs WHERE job_id = $1 AND status = 'succeeded'",
    )
    .bind(uuid::Uuid::parse_str(&first).unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(succeeded, 3, "preprocess, detect and report succeeded");
    let (_, result) = env.get(&format!("/v1/jobs/{first}/result")).await;
    assert!(result.get("detections").is_some(), "{result}");

    // Acting twice is refused; discard leaves the second job as it was.
    refused(cli(&env, &key, &["requeue", &ids[0]]), "already requeued");
    let out = cli(&env, &key, &["discard", &ids[1]]);
    assert!(out.status.success(), "{out:?}");
    let (_, job) = env.get(&format!("/v1/jobs/{second}")).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(run_of(&db, &second).await.0, "failed");
    let open = cli(&env, &key, &["list", "--json"]);
    assert_eq!(stdout(&open).trim(), "[]");
    let all = cli(&env, &key, &["list", "--state", "all", "--json"]);
    let all: Vec<Value> = serde_json::from_slice(&all.stdout).unwrap();
    let states: Vec<&str> = all.iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["requeued", "discarded"]);
    assert_eq!(all[0]["resolved_by"], "tests");

    // Counted in the dispatcher's metrics.
    let metrics = env.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "drawpipe_dead_letters_total{{stage=\"{STAGE}\"}} 2"
        )),
        "{metrics}"
    );
    println!(
        "dead letters: 1 requeued (job completed, detect ran once), 1 discarded (job stays failed)"
    );
}
