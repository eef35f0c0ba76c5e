//! The HTTP API: the router, its state and handlers. See `openapi.rs` for the
//! documented contract.
//!
//! Every answer is JSON (errors `{"error": ...}` through [`ApiError`]) except
//! `/healthz`, `/metrics`, the overlay PNG and the event stream. `/v1` requires a
//! bearer key unless auth is off; the probes, metrics and the OpenAPI document do not.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{
    DefaultBodyLimit, FromRequest, MatchedPath, Multipart, Path, Query, Request, State,
};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use drawpipe_core::trace::{self, TraceParent};
use drawpipe_core::{JobId, JobStatus, Stage, StageStatus};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use uuid::Uuid;

use crate::auth::{self, Auth, Caller};
use crate::error::ApiError;
use crate::intake::{self, Submission, Submitter};

/// Room for multipart framing and text fields on top of the upload limit.
const MULTIPART_SLACK: usize = 64 * 1024;
/// How often the event stream polls the database.
const EVENTS_POLL: Duration = Duration::from_millis(200);
const LIST_DEFAULT: i64 = 50;
const LIST_MAX: i64 = 500;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub submitter: Submitter,
    pub auth: std::sync::Arc<Auth>,
    /// The broker connection, for `/readyz`; `None` when there is none.
    pub broker: Option<drawpipe_core::mq::Broker>,
    /// Ends open event streams on shutdown.
    pub shutdown: CancellationToken,
    /// Concurrency, rate and queue-depth limits.
    pub admission: std::sync::Arc<crate::admission::Admission>,
    /// The longest a `/v1` request (the event stream aside) may take.
    pub request_timeout: Option<Duration>,
}

impl AppState {
    pub(crate) fn pool(&self) -> &PgPool {
        &self.submitter.pool
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let limit = state
        .submitter
        .max_upload_bytes
        .saturating_add(MULTIPART_SLACK);
    // Bounded in time and counted among the concurrent requests; the event stream,
    // open for a job's life, is neither.
    let mut bounded = Router::new()
        .route("/v1/jobs", get(list_jobs).post(create_job))
        .route("/v1/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/v1/jobs/{id}/result", get(job_result))
        .route("/v1/jobs/{id}/qc.csv", get(qc_csv))
        .route("/v1/jobs/{id}/overlay.png", get(crate::overlay::png))
        .route("/v1/jobs/{id}/overlay.svg", get(crate::overlay::svg))
        .route("/v1/jobs/{id}/page.png", get(crate::overlay::page_png))
        .route("/v1/corrections", get(crate::corrections::corrected_jobs))
        .route("/v1/dead-letters", get(crate::deadletter::list))
        .route(
            "/v1/dead-letters/{id}/{action}",
            axum::routing::post(crate::deadletter::resolve),
        )
        .route(
            "/v1/jobs/{id}/dimensions.xlsx",
            get(crate::viewer::dimensions_xlsx),
        )
        .route(
            "/v1/jobs/{id}/dimensions/{n}",
            axum::routing::patch(crate::corrections::correct_dimension),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::admission::admit,
        ));
    if let Some(t) = state.request_timeout {
        bounded = bounded.route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            t,
        ));
    }
    let v1 = bounded
        .route("/v1/jobs/{id}/events", get(job_events))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .merge(crate::viewer::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .merge(v1)
        .fallback(|| async { ApiError::NotFound("no such route; see /openapi.json".into()) })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            track_requests,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn track_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = req.method().to_string();
    let res = next.run(req).await;
    state
        .submitter
        .metrics
        .http_request(&method, &route, res.status().as_u16());
    res
}

pub(crate) fn parse_id(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("job {id} not found (job ids are UUIDs)")))
}

fn links(id: JobId) -> Value {
    json!({
        "self": format!("/v1/jobs/{id}"),
        "events": format!("/v1/jobs/{id}/events"),
        "result": format!("/v1/jobs/{id}/result"),
        "overlay": format!("/v1/jobs/{id}/overlay.png"),
    })
}

// ---- submission ---------------------------------------------------------------

/// Names accepted as form fields (besides `file`) and query parameters.
const PARAMS: &str = "stages, priority, options, filename, idempotency_key";

/// Applies one text parameter (form field or query parameter) to `sub`.
pub fn apply_param(sub: &mut Submission, name: &str, value: &str) -> Result<(), ApiError> {
    let value = value.trim();
    let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
    match name {
        "stages" => sub.stages = some(value),
        "priority" => {
            sub.priority = if value.is_empty() {
                None
            } else {
                Some(intake::parse_priority(value)?)
            }
        }
        "options" => {
            sub.options = if value.is_empty() {
                None
            } else {
                Some(intake::parse_options(value)?)
            }
        }
        "filename" => sub.filename = some(value),
        "idempotency_key" => sub.idempotency_key = some(value),
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter '{other}'; expected {PARAMS}"
            )))
        }
    }
    Ok(())
}

/// Longest time spent swallowing the body of a refused request.
const DISCARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and drops what the client is still sending (for at most
/// [`DISCARD_TIMEOUT`], keeping nothing), so that it receives the refusal instead of
/// a reset connection.
pub async fn discard_body(req: Request) {
    let sends_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v != "0");
    if !sends_body {
        return;
    }
    let mut body = req.into_body().into_data_stream();
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn create_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    if let Err(e) = state.admission.check_depth() {
        discard_body(req).await;
        return Err(e);
    }
    let max = state.submitter.max_upload_bytes;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let allowed = if is_multipart {
        max.saturating_add(MULTIPART_SLACK)
    } else {
        max
    };
    if content_length(req.headers()).is_some_and(|n| n > allowed) {
        discard_body(req).await;
        return Err(ApiError::too_large(max));
    }
    let header_key = req.headers().get("idempotency-key").map(|v| {
        v.to_str().map(str::to_string).map_err(|_| {
            ApiError::BadRequest("the Idempotency-Key header is not visible ASCII".into())
        })
    });
    // The body is read before any field is judged: answering while the client
    // still sends makes it see a reset connection instead of the answer.
    let mut sub = Submission {
        link: req
            .headers()
            .get(trace::HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse),
        ..Default::default()
    };
    let mut fields: Vec<(String, String)> = query;
    if is_multipart {
        read_multipart(&mut sub, &mut fields, req, &state, max).await?;
    } else {
        sub.content = Bytes::from_request(req, &state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(max)
            } else {
                ApiError::BadRequest(format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
    }
    for (name, value) in &fields {
        apply_param(&mut sub, name, value)?;
    }
    if let Some(key) = header_key {
        sub.idempotency_key = Some(key?);
    }
    let s = state.submitter.submit(&sub, "http", caller.key).await?;
    let location = format!("/v1/jobs/{}", s.id);
    // The job's trace, for a client that wants to join its own spans to it.
    let traceparent = TraceParent::for_message(s.id, "submit", 0).to_string();
    if s.created {
        let body = json!({"id": s.id, "status": "queued", "stages": s.stages, "links": links(s.id), "duplicate": false});
        return Ok((
            StatusCode::ACCEPTED,
            [
                (header::LOCATION, location),
                (header::HeaderName::from_static(trace::HEADER), traceparent),
            ],
            Json(body),
        )
            .into_response());
    }
    let (status, stages): (String, Vec<String>) =
        sqlx::query_as("SELECT status, stages FROM jobs WHERE id = $1")
            .bind(s.id.0)
            .fetch_one(state.pool())
            .await?;
    let body = json!({"id": s.id, "status": status, "stages": stages, "links": links(s.id), "duplicate": true});
    Ok((StatusCode::OK, [(header::LOCATION, location)], Json(body)).into_response())
}

/// The `filename="…"` of a part's Content-Disposition whose bytes are not UTF-8
/// (an old client's Latin-1, say), decoded lossily: the multipart parser gives no
/// name for those.
fn raw_file_name(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_DISPOSITION)?.as_bytes();
    let key = b"filename=\"";
    let start = raw.windows(key.len()).position(|w| w == key)? + key.len();
    let len = raw[start..].iter().position(|&b| b == b'"')?;
    Some(String::from_utf8_lossy(&raw[start..start + len]).into_owned())
}

/// Reads a multipart body to its end: the drawing into `sub.content` (and its file
/// name), every text field into `fields`.
async fn read_multipart(
    sub: &mut Submission,
    fields: &mut Vec<(String, String)>,
    req: Request,
    state: &AppState,
    max: usize,
) -> Result<(), ApiError> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(max)
        } else {
            ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    let mut form = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    })?;
    let mut file = None;
    let mut unknown = None;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let file_name = field
                .file_name()
                .map(str::to_string)
                .or_else(|| raw_file_name(field.headers()))
                .filter(|n| !n.is_empty());
            file = Some(field.bytes().await.map_err(malformed)?);
            if !fields.iter().any(|(n, _)| n == "filename") {
                sub.filename = file_name;
            }
        } else {
            let text = field.text().await.map_err(malformed)?;
            if PARAMS.split(", ").any(|p| p == name) {
                fields.push((name, text));
            } else {
                unknown.get_or_insert(name);
            }
        }
    }
    if let Some(name) = unknown {
        return Err(ApiError::BadRequest(format!(
            "unknown form field '{name}'; expected file, {PARAMS}"
        )));
    }
    sub.content =
        file.ok_or_else(|| ApiError::BadRequest("missing form field 'file' (the drawing)".into()))?;
    Ok(())
}

// ---- reading jobs ------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    status: String,
    filename: Option<String>,
    source: String,
    priority: i16,
    stages: Vec<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str =
    "id, status, filename, source, priority, stages, error, created_at, started_at, finished_at";

impl JobRow {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "status": self.status, "filename": self.filename, "source": self.source,
            "priority": self.priority, "stages": self.stages, "error": self.error,
            "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
        })
    }
}

#[derive(sqlx::FromRow, Clone)]
struct RunRow {
    stage: String,
    status: String,
    attempts: i32,
    worker: Option<String>,
    device: Option<String>,
    queued_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<f64>,
    error: Option<String>,
    updated_at: DateTime<Utc>,
}

/// A job's stage runs in pipeline order.
async fn fetch_runs(pool: &PgPool, id: JobId) -> Result<Vec<RunRow>, sqlx::Error> {
    let mut runs: Vec<RunRow> = sqlx::query_as(
        "SELECT stage, status, attempts, worker, device, queued_at, started_at, finished_at, duration_ms, error, updated_at \
         FROM stage_runs WHERE job_id = $1",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    runs.sort_by_key(|r| r.stage.parse::<Stage>().map_or(usize::MAX, |s| s as usize));
    Ok(runs)
}

/// The job, when `caller` may see it; another tenant's job is "not found".
async fn fetch_job(pool: &PgPool, id: JobId, caller: &Caller) -> Result<JobRow, ApiError> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND ($2::bigint IS NULL OR api_key_id = $2)"
    ))
    .bind(id.0)
    .bind(caller.tenant())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::job_not_found(&id.to_string()))
}

async fn get_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let job = fetch_job(state.pool(), id, &caller).await?;
    let runs = fetch_runs(state.pool(), id).await?;
    let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE job_id = $1")
        .bind(id.0)
        .fetch_one(state.pool())
        .await?;
    let mut body = job.to_json();
    body["stages"] = runs
        .iter()
        .map(|r| {
            json!({
                "stage": r.stage, "status": r.status, "attempts": r.attempts, "worker": r.worker,
                "device": r.device, "queued_at": r.queued_at, "started_at": r.started_at,
                "finished_at": r.finished_at, "duration_ms": r.duration_ms, "error": r.error,
            })
        })
        .collect();
    body["pages"] = pages.into();
    body["links"] = links(id);
    Ok(Json(body))
}

/// The opaque keyset cursor of `GET /v1/jobs`: the last row's (created_at, id).
pub fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}_{id}", created_at.timestamp_micros()))
}

/// Inverse of [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "invalid cursor {cursor:?}; pass the next_cursor of a previous page"
        ))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// The `cursor` query parameter, decoded, when given.
pub fn cursor_param(
    q: &HashMap<String, String>,
) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
    q.get("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(c))
        .transpose()
}

/// The first `limit` of `rows` (fetched with `LIMIT limit + 1`) and, when there
/// were more, the key to continue after the last of them (`key`: its cursor).
pub fn cut_page<T, K>(rows: &[T], limit: i64, key: impl Fn(&T) -> K) -> (&[T], Option<K>) {
    let page = &rows[..rows.len().min(limit as usize)];
    let next = page.last().filter(|_| rows.len() as i64 > limit).map(key);
    (page, next)
}

/// Parses `limit`: default 50, 1 to 500.
pub fn parse_limit(limit: Option<&str>) -> Result<i64, ApiError> {
    match limit.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(LIST_DEFAULT),
        Some(l) => match l.parse::<i64>() {
            Ok(n @ 1..=LIST_MAX) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "limit {l:?} is out of range; use 1 to {LIST_MAX}"
            ))),
        },
    }
}

async fn list_jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let status = match q.get("status").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<JobStatus>()
                .map_err(ApiError::BadRequest)?
                .as_str(),
        ),
        None => None,
    };
    let after = cursor_param(&q)?;
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE ($1::text IS NULL OR status = $1) \
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid)) \
           AND ($5::bigint IS NULL OR api_key_id = $5) \
           AND ($6::text IS NULL OR strpos(lower(filename), lower($6)) > 0) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit + 1)
    .bind(caller.tenant())
    .bind(q.get("q").map(|s| s.trim()).filter(|s| !s.is_empty()))
    .fetch_all(state.pool())
    .await?;
    let (page, next) = cut_page(&rows, limit, |r| encode_cursor(r.created_at, r.id));
    Ok(Json(
        json!({"jobs": page.iter().map(JobRow::to_json).collect::<Vec<_>>(), "next_cursor": next}),
    ))
}

async fn job_result(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let row: Option<(String, Option<Value>)> = sqlx::query_as(
        "SELECT status, report FROM jobs WHERE id = $1 AND ($2::bigint IS NULL OR api_key_id = $2)",
    )
    .bind(id.0)
    .bind(caller.tenant())
    .fetch_optional(state.pool())
    .await?;
    let (status, report) = row.ok_or_else(|| ApiError::job_not_found(&id.to_string()))?;
    let terminal = status
        .parse::<JobStatus>()
        .is_ok_and(JobStatus::is_terminal);
    match report {
        Some(r) if terminal => Ok(Json(r)),
        _ if terminal => Err(ApiError::Conflict(format!(
            "job {id} is {status} and produced no result"
        ))),
        _ => Err(ApiError::Conflict(format!(
            "job {id} is {status}; the result is ready when it completes"
        ))),
    }
}

/// The inspection plan as CSV, in the column order of a first-article inspection
/// report: balloon, characteristic, nominal, tolerance, limits, method (then the
/// sampling and the text as read).
async fn qc_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let job = fetch_job(state.pool(), id, &caller).await?;
    type Item = (
        i32,
        String,
        Option<f64>,
        String,
        String,
        Option<f64>,
        Option<f64>,
        String,
        String,
        String,
    );
    let items: Vec<Item> = sqlx::query_as(
        "SELECT balloon, characteristic, nominal, unit, tolerance, lower_limit, upper_limit, method, \
         sampling, raw FROM qc_items WHERE job_id = $1 ORDER BY item_index",
    )
    .bind(id.0)
    .fetch_all(state.pool())
    .await?;
    let finished = job
        .status
        .parse::<JobStatus>()
        .is_ok_and(JobStatus::is_terminal);
    if items.is_empty() && !finished {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}; the inspection plan is ready when its `tolerance` stage has run",
            job.status
        )));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let write = |out: &mut csv::Writer<Vec<u8>>, row: &[&str]| {
        out.write_record(row)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("qc.csv")))
    };
    write(
        &mut out,
        &[
            "balloon",
            "characteristic",
            "nominal",
            "unit",
            "tolerance",
            "lower_limit",
            "upper_limit",
            "method",
            "sampling",
            "raw",
        ],
    )?;
    for (balloon, characteristic, nominal, unit, tolerance, lower, upper, method, sampling, raw) in
        &items
    {
        write(
            &mut out,
            &[
                &balloon.to_string(),
                characteristic,
                &num(*nominal),
                unit,
                tolerance,
                &num(*lower),
                &num(*upper),
                method,
                sampling,
                raw,
            ],
        )?;
    }
    let body = out
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("qc.csv: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-qc.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

async fn cancel_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    // Another tenant's job is not found, and stays as it is.
    fetch_job(state.pool(), id, &caller).await?;
    if drawpipe_core::db::cancel_job(state.pool(), id).await? {
        state.submitter.wake.notify_one();
        tracing::info!(job_id = %id, "job cancelled by request");
        return Ok(Json(json!({"id": id, "status": "cancelled"})));
    }
    let job = fetch_job(state.pool(), id, &caller).await?;
    Err(ApiError::Conflict(format!(
        "job {id} is already {}; only queued or running jobs can be cancelled",
        job.status
    )))
}

// ---- event stream ---------------------------------------------------------------

/// One `event: stage` of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StageEvent {
    pub stage: String,
    pub status: String,
    pub attempts: i32,
    pub at: Option<DateTime<Utc>>,
}

/// A stage run's state as the stream sees it.
#[derive(Debug, Clone)]
pub struct RunState {
    pub stage: String,
    pub status: String,
    pub attempts: i32,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The events that take a client from `seen` (stage → (status, attempts)) to
/// `runs`, updating `seen`. A run that finished between two polls without being
/// seen running gets a `running` event (at its `started_at`) first, so every
/// stage's start and end appear. `pending` is the starting point and never sent.
pub fn stage_events(
    seen: &mut HashMap<String, (String, i32)>,
    runs: &[RunState],
) -> Vec<StageEvent> {
    let mut out = Vec::new();
    for r in runs {
        let now = (r.status.clone(), r.attempts);
        let prev = seen.insert(r.stage.clone(), now.clone());
        if prev.as_ref() == Some(&now) || r.status == StageStatus::Pending.as_str() {
            continue;
        }
        let terminal = r
            .status
            .parse::<StageStatus>()
            .is_ok_and(StageStatus::is_terminal);
        let seen_running = prev.as_ref() == Some(&("running".to_string(), r.attempts));
        if terminal && !seen_running && r.started_at.is_some() {
            out.push(StageEvent {
                stage: r.stage.clone(),
                status: "running".into(),
                attempts: r.attempts,
                at: r.started_at,
            });
        }
        let at = match r.status.as_str() {
            "queued" => r.queued_at,
            "running" => r.started_at,
            _ => r.finished_at,
        };
        out.push(StageEvent {
            stage: r.stage.clone(),
            status: r.status.clone(),
            attempts: r.attempts,
            at: at.or(Some(r.updated_at)),
        });
    }
    out
}

struct Watcher {
    pool: PgPool,
    job: JobId,
    seen: HashMap<String, (String, i32)>,
    queue: VecDeque<Event>,
    first: bool,
    done: bool,
    shutdown: CancellationToken,
}

impl Watcher {
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            if !self.first {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(EVENTS_POLL) => {}
                }
            }
            self.first = false;
            if let Err(e) = self.poll().await {
                tracing::warn!(job_id = %self.job, error = %e, "event stream: poll failed; retrying");
            }
        }
    }

    async fn poll(&mut self) -> Result<(), sqlx::Error> {
        // The job first: when it is terminal, the runs read after it are final.
        let job: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT status, error FROM jobs WHERE id = $1")
                .bind(self.job.0)
                .fetch_optional(&self.pool)
                .await?;
        let runs: Vec<RunState> = fetch_runs(&self.pool, self.job)
            .await?
            .into_iter()
            .map(RunState::from)
            .collect();
        for e in stage_events(&mut self.seen, &runs) {
            let data = json!({"job_id": self.job, "stage": e.stage, "status": e.status, "attempts": e.attempts, "at": e.at});
            self.queue
                .push_back(Event::default().event("stage").data(data.to_string()));
        }
        match job {
            None => self.done = true,
            Some((status, error)) if is_terminal(&status) => {
                let data = json!({"job_id": self.job, "status": status, "error": error});
                self.queue
                    .push_back(Event::default().event("job").data(data.to_string()));
                self.done = true;
            }
            Some(_) => {}
        }
        Ok(())
    }
}

impl From<RunRow> for RunState {
    fn from(r: RunRow) -> Self {
        RunState {
            stage: r.stage,
            status: r.status,
            attempts: r.attempts,
            queued_at: r.queued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            updated_at: r.updated_at,
        }
    }
}

fn is_terminal(status: &str) -> bool {
    status
        .parse::<JobStatus>()
        .is_ok_and(JobStatus::is_terminal)
}

async fn job_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_id(&id)?;
    fetch_job(state.pool(), id, &caller).await?;
    let watcher = Watcher {
        pool: state.pool().clone(),
        job: id,
        seen: HashMap::new(),
        queue: VecDeque::new(),
        first: true,
        done: false,
        shutdown: state.shutdown.clone(),
    };
    let stream = futures::stream::unfold(watcher, |mut w| async move {
        w.next_event().await.map(|e| (Ok(e), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---- operations -------------------------------------------------------------------

async fn readyz(State(state): State<AppState>) -> Response {
    let db = match tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(state.pool()),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("database: {e}")),
        Err(_) => Err("database: no answer to SELECT 1 within 2 s".to_string()),
    };
    let amqp = match &state.broker {
        Some(b) => match b.down_reason() {
            None => Ok(()),
            Some(why) => Err(format!("amqp: {why} (reconnecting; submissions are kept)")),
        },
        None => Err("amqp: no broker connection".to_string()),
    };
    let label = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "failing" };
    let checks = json!({"database": label(&db), "amqp": label(&amqp)});
    let failures: Vec<String> = [db, amqp].into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": checks})),
        )
            .into_response()
    } else {
        let body =
            json!({"error": format!("not ready: {}", failures.join("; ")), "checks": checks});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .submitter
        .metrics
        .render(state.pool(), state.broker.as_ref())
        .await?;
    Ok((
        [(header::CONTENT_TYPE, drawpipe_core::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        for bad in [
            "",
            "!!!",
            "bm9wZQ",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("12_notauuid"),
        ] {
            let err = decode_cursor(bad).unwrap_err();
            assert!(
                matches!(&err, ApiError::BadRequest(m) if m.starts_with("invalid cursor")),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn limits() {
        struct Case {
            input: Option<&'static str>,
            want: Option<i64>,
        }
        let cases = [
            Case {
                input: None,
                want: Some(50),
            },
            Case {
                input: Some(""),
                want: Some(50),
            },
            Case {
                input: Some("1"),
                want: Some(1),
            },
            Case {
                input: Some("500"),
                want: Some(500),
            },
            Case {
                input: Some("501"),
                want: None,
            },
            Case {
                input: Some("0"),
                want: None,
            },
            Case {
                input: Some("ten"),
                want: None,
            },
        ];
        for c in cases {
            assert_eq!(parse_limit(c.input).ok(), c.want, "{:?}", c.input);
        }
    }

    #[test]
    fn params_apply_or_refuse() {
        struct Case {
            name: &'static str,
            value: &'static str,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case {
                name: "stages",
                value: "preprocess,report",
                want: Ok(()),
            },
            Case {
                name: "priority",
                value: " 4 ",
                want: Ok(()),
            },
            Case {
                name: "priority",
                value: "",
                want: Ok(()),
            },
            Case {
                name: "priority",
                value: "urgent",
                want: Err("priority \"urgent\" is not a whole number"),
            },
            Case {
                name: "options",
                value: "{\"a\":1}",
                want: Ok(()),
            },
            Case {
                name: "options",
                value: "{",
                want: Err("options are not valid JSON"),
            },
            Case {
                name: "filename",
                value: "a.png",
                want: Ok(()),
            },
            Case {
                name: "stage",
                value: "x",
                want: Err("unknown parameter 'stage'; expected stages,"),
            },
        ];
        for c in cases {
            let mut sub = Submission::default();
            let got = apply_param(&mut sub, c.name, c.value).map_err(|e| e.to_string());
            match (got, c.want) {
                (Ok(()), Ok(())) => {}
                (Err(g), Err(w)) => assert!(g.starts_with(w), "{}={}: {g:?}", c.name, c.value),
                (g, w) => panic!("{}={}: got {g:?}, want {w:?}", c.name, c.value),
            }
        }
        let mut sub = Submission::default();
        apply_param(&mut sub, "priority", "4").unwrap();
        apply_param(&mut sub, "stages", " ").unwrap();
        assert_eq!((sub.priority, sub.stages), (Some(4), None));
    }

    #[test]
    fn events_show_every_start_and_end() {
        let t = |s: i64| DateTime::from_timestamp(1_764_000_000 + s, 0);
        let run =
            |stage: &str, status: &str, attempts, started: Option<i64>, finished: Option<i64>| {
                RunState {
                    stage: stage.into(),
                    status: status.into(),
                    attempts,
                    queued_at: t(0),
                    started_at: started.and_then(t),
                    finished_at: finished.and_then(t),
                    updated_at: t(9).unwrap(),
                }
            };
        let names = |ev: &[StageEvent]| {
            ev.iter()
                .map(|e| format!("{}:{}", e.stage, e.status))
                .collect::<Vec<_>>()
        };
        let mut seen = HashMap::new();
        struct Step {
            runs: Vec<RunState>,
            want: Vec<&'static str>,
        }
        let steps = [
            Step {
                runs: vec![
                    run("preprocess", "queued", 0, None, None),
                    run("report", "pending", 0, None, None),
                ],
                want: vec!["preprocess:queued"],
            },
            Step {
                runs: vec![
                    run("preprocess", "running", 1, Some(1), None),
                    run("report", "pending", 0, None, None),
                ],
                want: vec!["preprocess:running"],
            },
            Step {
                // preprocess ends and report runs start to end between two polls.
                runs: vec![
                    run("preprocess", "succeeded", 1, Some(1), Some(2)),
                    run("report", "succeeded", 1, Some(3), Some(4)),
                ],
                want: vec!["preprocess:succeeded", "report:running", "report:succeeded"],
            },
            Step {
                runs: vec![
                    run("preprocess", "succeeded", 1, Some(1), Some(2)),
                    run("report", "succeeded", 1, Some(3), Some(4)),
                ],
                want: vec![],
            },
        ];
        for (i, s) in steps.iter().enumerate() {
            assert_eq!(names(&stage_events(&mut seen, &s.runs)), s.want, "step {i}");
        }
        // A skipped run never started: no synthetic start.
        let ev = stage_events(
            &mut HashMap::new(),
            &[run("vl", "skipped", 0, None, Some(5))],
        );
        assert_eq!(names(&ev), vec!["vl:skipped"]);
        assert_eq!(ev[0].at, t(5));
    }
}
