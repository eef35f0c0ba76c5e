//! Admission control through the real dispatcher: a deep queue refuses submissions
//! (503, Retry-After) while reads go on and nothing is lost; a key over its rate gets
//! 429 while another key is served; a request beyond the concurrency bound is answered
//! busy at once, and a request that outlives the time limit gets 408.

use std::time::{Duration, Instant};

use drawpipe_tests::{tiny_png, EnvOptions, TestEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn retry_after(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn post(env: &TestEnv, seed: u8) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(tiny_png(16, 16, seed)).file_name("t.png"),
        )
        .text("stages", "preprocess");
    env.http()
        .post(format!("{}/v1/jobs", env.api))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_queue_refuses_submissions_until_it_drains() {
    let mut env = TestEnv::start(EnvOptions {
        dispatcher_env: vec![("DRAWPIPE_MAX_QUEUE_DEPTH", "3".into())],
        ..Default::default()
    })
    .await
    .unwrap();
    // No worker yet: every accepted job waits in the preprocess queue.
    let mut accepted = 0;
    let mut refused = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    for seed in 0..=200u8 {
        let r = post(&env, seed).await;
        match r.status().as_u16() {
            202 => accepted += 1,
            503 => {
                refused = Some((
                    retry_after(&r),
                    r.json::<serde_json::Value>().await.unwrap(),
                ));
                break;
            }
            other => panic!("submission answered {other}"),
        }
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (wait, body) = refused.expect("a submission is refused once the queue is deep");
    assert!(accepted > 3, "refused after only {accepted} jobs");
    assert!(wait.is_some_and(|s| s >= 1), "no Retry-After: {wait:?}");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("preprocess queue holds"), "{msg}");
    // Reads go on, and the refused submission left nothing behind.
    let (code, list) = env.get("/v1/jobs").await;
    assert_eq!(code, 200);
    assert_eq!(list["jobs"].as_array().unwrap().len(), accepted);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&env.db().await)
        .await
        .unwrap();
    assert_eq!(rows, accepted as i64);

    // A worker drains the queue; submissions are accepted again.
    env.spawn_worker(&["--stages", "preprocess,report"])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = post(&env, 250).await;
        if r.status() == 202 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(
            Instant::now() < deadline,
            "still refused after the queue drained"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("admission: queue depth limit 3: accepted {accepted}, then refused until drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_and_another_key_is_served() {
    let env = TestEnv::start(EnvOptions {
        auth: true,
        dispatcher_env: vec![
            ("DRAWPIPE_RATE_LIMIT", "1".into()),
            ("DRAWPIPE_RATE_BURST", "3".into()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let b = env.create_key("tenant-b", false).unwrap();
    let a = env.http();
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let r = a.get(format!("{}/v1/jobs", env.api)).send().await.unwrap();
            if r.status() == 429 {
                assert!(
                    retry_after(&r).is_some_and(|s| s >= 1),
                    "429 without Retry-After"
                );
                let body: serde_json::Value = r.json().await.unwrap();
                assert!(
                    body["error"].as_str().unwrap().contains("rate limit"),
                    "{body}"
                );
                v.push(429);
            } else {
                v.push(r.status().as_u16());
            }
        }
        v
    };
    // A burst of 3, then refused (the bucket refills one a second: far slower than
    // four local requests).
    assert_eq!(codes, [200, 200, 200, 429]);
    let other = reqwest::Client::new()
        .get(format!("{}/v1/jobs", env.api))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another key shares no bucket");
    // Probes are not rate limited.
    for _ in 0..5 {
        assert_eq!(env.get("/healthz").await.0, 200);
    }
}

/// Sends the head of a POST whose body never comes, and returns the open socket.
async fn stalled_upload(api: &str) -> tokio::net::TcpStream {
    let addr = api.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/png\r\n\
         Content-Length: 100000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[0x89, b'P', b'N', b'G']).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_answers_at_once_and_a_stalled_request_times_out() {
    let env = TestEnv::start(EnvOptions {
        dispatcher_env: vec![
            ("DRAWPIPE_MAX_CONCURRENT_REQUESTS", "1".into()),
            ("DRAWPIPE_REQUEST_TIMEOUT_SECS", "2".into()),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut stalled = stalled_upload(&env.api).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The one slot is held by the stalled upload: answered busy, at once.
    let start = Instant::now();
    let r = env
        .http()
        .get(format!("{}/v1/jobs", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "busy was not immediate"
    );
    assert_eq!(retry_after(&r), Some(1));
    // Probes are outside the bound.
    assert_eq!(env.get("/healthz").await.0, 200);
    // The stalled upload ends with 408 once the limit passes…
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut answer))
        .await
        .expect("the stalled request was never answered")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    // …and frees its slot.
    let (code, _) = env.get("/v1/jobs").await;
    assert_eq!(code, 200);
}
