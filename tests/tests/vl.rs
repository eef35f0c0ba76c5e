//! `vl` through the queue: a worker configured from the environment for an
//! OpenAI-compatible server (a local one here, speaking the Chat Completions
//! format) answers through RabbitMQ and stores `vl_results` rows; a worker with no
//! provider ends the stage `skipped` and the job still completes.

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use drawpipe_tests::{fixture, EnvOptions, TestEnv};
use serde_json::{json, Value};

async fn completions(Json(body): Json<Value>) -> Json<Value> {
    let image = body["messages"][0]["content"][1]["image_url"]["url"]
        .as_str()
        .unwrap_or_default();
    let answer = if image.starts_with("data:image/png;base64,")
        && body["response_format"]["type"] == "json_schema"
    {
        json!({"drawing_number": "CH-001", "title": "Candle holder", "material": "S235JR",
               "revision": null, "scale": null, "units": "mm", "company": null, "date": null, "sheet": null})
    } else {
        json!({"error": "malformed request"})
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.to_string()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960},
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vl_answers_through_the_queue_and_is_skipped_without_a_provider() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = Router::new().route("/v1/chat/completions", post(completions));
        axum::serve(listener, app).await.unwrap();
    });
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let vl_env = [
        ("DRAWPIPE_VL_PROVIDER", "openai-compatible".to_string()),
        ("DRAWPIPE_VL_MODEL", "local-vl".to_string()),
        ("DRAWPIPE_VL_BASE_URL", format!("http://{addr}")),
    ];
    let pid = env
        .spawn_worker_with_env(&["--pool", "cpu"], &vl_env)
        .unwrap();
    let bytes = std::fs::read(fixture("Candle_holder.jpg")).unwrap();
    let id = env
        .submit_with_options(
            bytes.clone(),
            "Candle_holder.jpg",
            "vl",
            &json!({"vl": {"tasks": ["info_block"]}}).to_string(),
        )
        .await;
    let body = env.wait_finished(&id, Duration::from_secs(120)).await;
    assert_eq!(body["status"], "completed", "{body}");
    let (code, result) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(code, 200, "{result}");
    let task = &result["vl"]["tasks"]["info_block"];
    assert_eq!(task["answer"]["material"], "S235JR", "{task}");
    let db = env.db().await;
    let row: (String, String, i32, i64, Value) = sqlx::query_as(
        "SELECT status, model, requests, input_tokens, answer FROM vl_results WHERE job_id = $1 AND task = 'info_block'",
    )
    .bind(id.parse::<uuid::Uuid>().unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (row.0.as_str(), row.1.as_str(), row.2, row.3),
        ("succeeded", "local-vl", 1, 900)
    );
    assert_eq!(row.4["drawing_number"], "CH-001");

    // The same job on a worker with no provider: skipped, with the reason; completed.
    assert!(env.stop_worker(pid, Duration::from_secs(10)));
    env.spawn_worker(&["--pool", "cpu"]).unwrap();
    let id = env.submit(bytes, "Candle_holder.jpg", "vl").await;
    let body = env.wait_finished(&id, Duration::from_secs(120)).await;
    assert_eq!(body["status"], "completed", "{body}");
    let (_, result) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(result["stages"]["vl"]["status"], "skipped", "{result}");
    let why = result["stages"]["vl"]["error"].as_str().unwrap();
    assert!(why.contains("no vl provider is configured"), "{why}");
    assert!(result.get("vl").is_none());
}
