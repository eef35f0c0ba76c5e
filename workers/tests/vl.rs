//! The `vl` stage against a local HTTP server that speaks the providers' documented
//! formats: the Anthropic Messages API (`POST /v1/messages`, `x-api-key` and
//! `anthropic-version` headers, a base64 image block, a forced tool call) and the
//! OpenAI Chat Completions API (`POST /v1/chat/completions`, bearer key, the image as
//! a data URL, a JSON-schema response format). The server refuses requests of the
//! wrong shape with 400, a wrong key with 401, and plays a script per test: 429 with
//! Retry-After, 500s, a stall past the timeout, an invalid answer. The paid APIs are
//! the one thing a test may replace; the stage, its driver and the report are real.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use drawpipe_core::limits::Limits;
use drawpipe_core::report::Report;
use drawpipe_core::{JobStatus, StagePlan};
use drawpipe_workers::local::Analyzer;
use drawpipe_workers::stages::contract::Engines;
use drawpipe_workers::stages::registry::Registry;
use drawpipe_workers::stages::vl::config::{Config, Kind, Provider, Secret};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789-very-secret";

/// What the server does with the next request.
#[derive(Clone)]
enum Step {
    Answer,
    Status(u16, Option<&'static str>),
    Stall(Duration),
    /// This text instead of the JSON answer (OpenAI: the message content; Anthropic:
    /// a text block instead of the tool call).
    Text(&'static str),
}

#[derive(Default)]
struct Mock {
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<(String, Value)>>,
    inflight: AtomicUsize,
    max_inflight: AtomicUsize,
}

fn task_of(schema: &Value) -> &'static str {
    let props = &schema["properties"];
    if props.get("dimensions").is_some() {
        "dimensions"
    } else if props.get("processes").is_some() {
        "processes"
    } else if props.get("checks").is_some() {
        "qc_checklist"
    } else {
        "info_block"
    }
}

/// The answers a model would give for Candle_holder.jpg: `Ø38 H12` as printed,
/// `Ø21,5±0,1` misread with ±0,2 (a conflict for the cross-check), and one
/// dimension `edocr` does not report.
fn answer(task: &str) -> Value {
    match task {
        "info_block" => {
            json!({"drawing_number": "CH-001", "title": "Candle holder", "material": "S235JR",
                               "revision": null, "scale": "1:1", "units": "mm", "company": null, "date": null, "sheet": "1/1"})
        }
        "dimensions" => json!({"dimensions": [
            {"text": "Ø38 H12", "value": 38.0, "upper": null, "lower": null, "fit": "H12", "kind": "diameter", "bbox": null},
            {"text": "Ø21,5±0,2", "value": 21.5, "upper": 0.2, "lower": -0.2, "fit": null, "kind": "diameter", "bbox": null},
            {"text": "R77", "value": 77.0, "upper": null, "lower": null, "fit": null, "kind": "radius", "bbox": [0.9, 0.9, 0.95, 0.95]},
        ]}),
        "processes" => json!({"processes": [
            {"process": "turning", "feature": "outer diameter", "reason": "part of revolution"},
            {"process": "drilling", "feature": "Ø38 H12 bore", "reason": "hole with a fit"},
        ]}),
        _ => json!({"checks": [
            {"characteristic": "bore diameter", "requirement": "Ø38 H12", "method": "plug gauge", "frequency": "every part"},
        ]}),
    }
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    (
        code,
        Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
    )
        .into_response()
}

struct Inflight<'a>(&'a Mock);
impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn play(mock: &Mock, route: &str, body: Value) -> Result<Option<&'static str>, Response> {
    mock.seen.lock().unwrap().push((route.into(), body));
    let n = mock.inflight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_inflight.fetch_max(n, Ordering::SeqCst);
    let _guard = Inflight(mock);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let step = mock
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Step::Answer);
    match step {
        Step::Answer => Ok(None),
        Step::Text(t) => Ok(Some(t)),
        Step::Stall(d) => {
            tokio::time::sleep(d).await;
            Ok(None)
        }
        Step::Status(code, retry_after) => {
            let mut r = error(code, "overloaded_error", "try again later");
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", s.parse().unwrap());
            }
            Err(r)
        }
    }
}

async fn messages(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return error(401, "authentication_error", "invalid x-api-key");
    }
    let image = &body["messages"][0]["content"][0];
    let shape_ok = headers.get("anthropic-version").is_some()
        && body["model"].is_string()
        && body["max_tokens"].is_u64()
        && image["type"] == "image"
        && image["source"]["type"] == "base64"
        && image["source"]["media_type"] == "image/png"
        && image["source"]["data"]
            .as_str()
            .is_some_and(|d| d.len() > 100)
        && body["tool_choice"]["type"] == "tool"
        && body["tools"][0]["input_schema"]["type"] == "object";
    if !shape_ok {
        return error(400, "invalid_request_error", "malformed request");
    }
    let task = task_of(&body["tools"][0]["input_schema"]);
    let content = match play(&mock, "anthropic", body.clone()).await {
        Err(r) => return r,
        Ok(Some(text)) => json!([{"type": "text", "text": text}]),
        Ok(None) => {
            json!([{"type": "tool_use", "id": "toolu_01", "name": "answer", "input": answer(task)}])
        }
    };
    Json(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": body["model"],
        "content": content, "stop_reason": "tool_use",
        "usage": {"input_tokens": 1500, "output_tokens": 200},
    }))
    .into_response()
}

async fn completions(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {KEY}") {
        return error(401, "invalid_request_error", "Incorrect API key provided");
    }
    let content = &body["messages"][0]["content"];
    let shape_ok = body["model"].is_string()
        && content[0]["type"] == "text"
        && content[1]["type"] == "image_url"
        && content[1]["image_url"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("data:image/png;base64,"))
        && body["response_format"]["type"] == "json_schema"
        && body["response_format"]["json_schema"]["schema"]["type"] == "object";
    if !shape_ok {
        return error(400, "invalid_request_error", "malformed request");
    }
    let task = task_of(&body["response_format"]["json_schema"]["schema"]);
    let text = match play(&mock, "openai", body.clone()).await {
        Err(r) => return r,
        Ok(Some(text)) => text.to_string(),
        Ok(None) => answer(task).to_string(),
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
    }))
    .into_response()
}

/// A server on a free port, on its own thread and runtime.
fn serve(script: Vec<Step>) -> (SocketAddr, Arc<Mock>) {
    let mock = Arc::new(Mock {
        script: Mutex::new(script.into()),
        ..Mock::default()
    });
    let state = mock.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/v1/messages", post(messages))
                .route("/v1/chat/completions", post(completions))
                .with_state(state);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), mock)
}

fn provider(kind: Kind, addr: SocketAddr, key: &str) -> Provider {
    let mut p = Provider::new(
        "test",
        kind,
        Some(&format!("http://{addr}")),
        Secret::new(key),
    )
    .unwrap();
    p.backoff_base_secs = 0.05;
    p.max_retries = 2;
    p.timeout_secs = 5.0;
    p.input_usd_per_mtok = 3.0;
    p.output_usd_per_mtok = 15.0;
    p
}

fn analyze(p: Provider, stages: &[&str], options: Value) -> Report {
    let engines = Engines::default().with_vl(Config::single(p, "test-model"));
    let analyzer = Analyzer::new(Registry::builtin().clone(), engines, Limits::default());
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/drawings/Candle_holder.jpg"
    ))
    .unwrap();
    analyzer.analyze(
        &bytes,
        &StagePlan::parse(&stages.join(",")).unwrap(),
        &options,
    )
}

fn one_task(task: &str) -> Value {
    json!({"vl": {"tasks": [task]}})
}

/// Anthropic, every task, beside `edocr` and `tolerance`: four validated answers,
/// tokens and cost summed, and the cross-check in the report.
#[test]
fn anthropic_answers_every_task_and_the_report_cross_checks_dimensions() {
    let (addr, mock) = serve(vec![]);
    let r = analyze(
        provider(Kind::Anthropic, addr, KEY),
        &["preprocess", "edocr", "tolerance", "vl"],
        json!({}),
    );
    assert_eq!(r.status, JobStatus::Completed, "{:?}", r.stages);
    let vl = &r.extra["vl"];
    for task in ["info_block", "dimensions", "processes", "qc_checklist"] {
        assert_eq!(
            vl["tasks"][task]["status"], "succeeded",
            "{task}: {}",
            vl["tasks"][task]
        );
        assert_eq!(vl["tasks"][task]["requests"], 1);
    }
    assert_eq!(vl["tasks"]["info_block"]["answer"]["material"], "S235JR");
    assert_eq!(vl["usage"]["input_tokens"], 4 * 1500);
    let cost = vl["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 4.0 * (1500.0 * 3.0 + 200.0 * 15.0) / 1e6).abs() < 1e-9,
        "{cost}"
    );
    // The image went downscaled to Anthropic's 1568 px.
    assert!(
        vl["image_width"]
            .as_u64()
            .unwrap()
            .max(vl["image_height"].as_u64().unwrap())
            <= 1568
    );
    // Cross-check: Ø38 H12 agreed, Ø21,5±0,1 in conflict with ±0,2, R77 vl only.
    let dims = r.extra["dimensions"].as_array().unwrap();
    let by_raw = |raw: &str| {
        dims.iter()
            .find(|d| d["raw"] == raw)
            .unwrap_or_else(|| panic!("no {raw}"))
    };
    assert_eq!(by_raw("Ø38 H12")["agreement"], "agreed");
    assert_eq!(by_raw("Ø21,5±0,1")["agreement"], "conflict");
    let cc = &vl["crosscheck"];
    assert_eq!(cc["conflict"], 1);
    assert_eq!(cc["agreed"], 1);
    assert_eq!(cc["vl_only"][0]["text"], "R77");
    assert_eq!(cc["edocr_only"].as_u64().unwrap() as usize, dims.len() - 2);
    // The QC plan and the estimate are there beside it.
    assert!(r.extra["qc"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["raw"] == "Ø38 H12" && q["vl_agrees"] == true));
    assert!(r.extra["estimate"]["quantities"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));
    assert_eq!(mock.seen.lock().unwrap().len(), 4);
    // The report's vl, qc and estimate keys, for the closing note.
    let keys = json!({"vl": vl, "qc": r.extra["qc"], "estimate": r.extra["estimate"],
                      "dimensions_crosschecked": dims.iter().map(|d| json!({"raw": d["raw"], "agreement": d["agreement"], "confidence": d["confidence"]})).collect::<Vec<_>>()});
    if let Ok(dir) = std::env::var("DRAWPIPE_VL_REPORT_OUT") {
        std::fs::write(
            format!("{dir}/vl-report.json"),
            serde_json::to_string_pretty(&keys).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn a_429_is_retried_after_the_delay_the_provider_asks() {
    let (addr, mock) = serve(vec![Step::Status(429, Some("1"))]);
    let start = Instant::now();
    let r = analyze(
        provider(Kind::Openai, addr, KEY),
        &["preprocess", "vl"],
        one_task("info_block"),
    );
    let t = &r.extra["vl"]["tasks"]["info_block"];
    assert_eq!(t["status"], "succeeded", "{t}");
    assert_eq!(t["requests"], 2);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(mock.seen.lock().unwrap().len(), 2);
}

#[test]
fn five_hundreds_are_retried_to_the_limit_then_the_stage_fails_and_the_job_is_partial() {
    let (addr, mock) = serve(vec![Step::Status(500, None); 10]);
    let r = analyze(
        provider(Kind::Anthropic, addr, KEY),
        &["preprocess", "vl"],
        one_task("processes"),
    );
    assert_eq!(
        mock.seen.lock().unwrap().len(),
        3,
        "1 request + max_retries 2"
    );
    assert_eq!(r.status, JobStatus::Partial);
    let err = r.stages["vl"].error.clone().unwrap();
    assert!(
        err.contains("gave up after 3 requests") && err.contains("HTTP 500"),
        "{err}"
    );
}

#[test]
fn a_stalled_provider_times_out_and_is_retried() {
    let (addr, mock) = serve(vec![Step::Stall(Duration::from_secs(3))]);
    let mut p = provider(Kind::Openai, addr, KEY);
    p.timeout_secs = 0.5;
    let r = analyze(p, &["preprocess", "vl"], one_task("qc_checklist"));
    let t = &r.extra["vl"]["tasks"]["qc_checklist"];
    assert_eq!(t["status"], "succeeded", "{t}");
    assert_eq!(t["requests"], 2);
    assert_eq!(mock.seen.lock().unwrap().len(), 2);
    // With every try stalled, the error says so.
    let (addr, _) = serve(vec![Step::Stall(Duration::from_secs(3)); 3]);
    let mut p = provider(Kind::Openai, addr, KEY);
    p.timeout_secs = 0.5;
    let r = analyze(p, &["preprocess", "vl"], one_task("qc_checklist"));
    let err = r.stages["vl"].error.clone().unwrap();
    assert!(err.contains("no answer within 0.5 s"), "{err}");
}

#[test]
fn an_invalid_answer_is_asked_again_once_and_a_fenced_one_is_repaired() {
    let (addr, mock) = serve(vec![Step::Text("I think the drawing number is CH-001.")]);
    let r = analyze(
        provider(Kind::OpenaiCompatible, addr, KEY),
        &["preprocess", "vl"],
        one_task("info_block"),
    );
    let t = &r.extra["vl"]["tasks"]["info_block"];
    assert_eq!(t["status"], "succeeded", "{t}");
    assert_eq!(t["asked_again"], true);
    assert_eq!(t["raw"].as_array().unwrap().len(), 2);
    assert_eq!(t["raw"][0], "I think the drawing number is CH-001.");
    let seen = mock.seen.lock().unwrap();
    let second = seen[1].1["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(second.contains("previous answer was not valid"), "{second}");
    drop(seen);

    let fenced = "```json\n{\"checks\": [{\"characteristic\": \"bore\", \"requirement\": \"Ø38 H12\", \"method\": null, \"frequency\": null}]}\n```";
    let (addr, _) = serve(vec![Step::Text(fenced)]);
    let r = analyze(
        provider(Kind::Anthropic, addr, KEY),
        &["preprocess", "vl"],
        one_task("qc_checklist"),
    );
    let t = &r.extra["vl"]["tasks"]["qc_checklist"];
    assert_eq!(
        (
            t["status"].as_str(),
            t["repaired"].as_bool(),
            t["requests"].as_u64()
        ),
        (Some("succeeded"), Some(true), Some(1)),
        "{t}"
    );
    assert_eq!(t["answer"]["checks"][0]["requirement"], "Ø38 H12");

    // An answer that breaks the schema twice fails the task, saying why.
    let bad = "{\"drawing_number\": 7, \"colour\": \"red\"}";
    let (addr, _) = serve(vec![Step::Text(bad), Step::Text(bad)]);
    let r = analyze(
        provider(Kind::OpenaiCompatible, addr, KEY),
        &["preprocess", "vl"],
        one_task("info_block"),
    );
    let err = r.stages["vl"].error.clone().unwrap();
    assert!(err.contains("invalid twice"), "{err}");
}

#[test]
fn a_wrong_key_fails_at_once_with_an_error_that_does_not_echo_it() {
    for kind in [Kind::Anthropic, Kind::Openai] {
        let (addr, mock) = serve(vec![]);
        let wrong = "sk-test-WRONG-key-4242424242";
        let r = analyze(
            provider(kind, addr, wrong),
            &["preprocess", "vl"],
            one_task("info_block"),
        );
        assert_eq!(
            mock.seen.lock().unwrap().len(),
            0,
            "a 401 reaches no answer"
        );
        let err = r.stages["vl"].error.clone().unwrap();
        assert!(
            err.contains("refused the API key (HTTP 401)"),
            "{kind:?}: {err}"
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains(wrong) && !text.contains("4242424242"),
            "{kind:?}: the key leaked"
        );
        assert_eq!(r.status, JobStatus::Partial);
    }
    // A hosted provider without a key is refused when the configuration is read.
    let err = Config::from_toml("[providers.a]\nkind = \"anthropic\"\n[tasks]\ninfo_block = { provider = \"a\", model = \"m\" }")
        .unwrap_err();
    assert!(err.contains("no API key"), "{err}");
}

#[test]
fn a_providers_concurrency_limit_holds_across_the_tasks() {
    let (addr, mock) = serve(vec![]);
    let mut p = provider(Kind::Anthropic, addr, KEY);
    p.max_concurrency = 1;
    let r = analyze(p, &["preprocess", "vl"], json!({}));
    assert_eq!(r.extra["vl"]["tasks"].as_object().unwrap().len(), 4);
    assert_eq!(mock.max_inflight.load(Ordering::SeqCst), 1);
    let (addr, mock) = serve(vec![]);
    let r = analyze(
        provider(Kind::Anthropic, addr, KEY),
        &["preprocess", "vl"],
        json!({}),
    );
    assert_eq!(r.extra["vl"]["tasks"].as_object().unwrap().len(), 4);
    assert!(
        mock.max_inflight.load(Ordering::SeqCst) > 1,
        "tasks run side by side"
    );
}
