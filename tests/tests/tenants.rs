//! Tenants: a job belongs to the key that submitted it. Another key gets 404 for it on
//! every route, its idempotency keys are its own, an admin key sees everything, and a
//! revoked key is refused on its next request.

use drawpipe_tests::{tiny_png, EnvOptions, TestEnv};
use reqwest::StatusCode;
use serde_json::Value;

fn client(key: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

async fn submit(api: &str, key: &str, idem: &str, seed: u8) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(tiny_png(32, 32, seed)).file_name("t.png"),
        )
        .text("stages", "preprocess");
    let r = client(key)
        .post(format!("{api}/v1/jobs"))
        .header("Idempotency-Key", idem)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn list(client: &reqwest::Client, api: &str) -> Value {
    let r = client.get(format!("{api}/v1/jobs")).send().await.unwrap();
    r.json().await.unwrap()
}

async fn status_of(req: reqwest::RequestBuilder) -> StatusCode {
    req.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_cannot_see_or_touch_a_job() {
    let env = TestEnv::start(EnvOptions {
        auth: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let api = env.api.clone();
    let a = env.api_key.clone().unwrap();
    let b = env.create_key("tenant-b", false).unwrap();
    let ops = env.create_key("ops", true).unwrap();

    let (code, job) = submit(&api, &a, "order-1", 1).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();

    let other = client(&b);
    for path in ["", "/result", "/overlay.png", "/events"] {
        let code = status_of(other.get(format!("{api}/v1/jobs/{id}{path}"))).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "GET {path} with another key");
    }
    let code = status_of(other.delete(format!("{api}/v1/jobs/{id}"))).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "cancel with another key");
    let listed = list(&other, &api).await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 0, "{listed}");
    let mine = client(&a)
        .get(format!("{api}/v1/jobs/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    let mine: Value = mine.json().await.unwrap();
    assert_ne!(
        mine["status"], "cancelled",
        "the other key's cancel changed nothing"
    );

    // The same idempotency key from another key is another job; from the same key, the same.
    let (code, theirs) = submit(&api, &b, "order-1", 2).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{theirs}");
    assert_ne!(theirs["id"], job["id"]);
    let (code, again) = submit(&api, &a, "order-1", 3).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["id"], job["id"]);
    assert_eq!(again["duplicate"], true);

    // An admin key sees every tenant's jobs.
    let admin = client(&ops);
    let code = status_of(admin.get(format!("{api}/v1/jobs/{id}"))).await;
    assert_eq!(code, StatusCode::OK);
    let all = list(&admin, &api).await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2, "{all}");

    // Revoked: refused on the very next request.
    let code = status_of(other.get(format!("{api}/v1/jobs"))).await;
    assert_eq!(code, StatusCode::OK);
    let out = env
        .dispatcher_cmd()
        .args(["keys", "revoke", "tenant-b"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let code = status_of(other.get(format!("{api}/v1/jobs"))).await;
    assert_eq!(
        code,
        StatusCode::UNAUTHORIZED,
        "a revoked key is refused at once"
    );
}
