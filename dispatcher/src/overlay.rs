//! `GET /v1/jobs/{id}/overlay.png?page=N` and `overlay.svg?page=N`: the page with
//! what was read drawn on it ([`drawpipe_core::overlay`]: no OpenCV here, the SVG is
//! text and resvg renders it). The PNG of a finished job is rendered once, on first
//! request, and kept in `pages.overlay_png`; while the job runs the page is drawn
//! with nothing on it yet and not kept.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use drawpipe_core::overlay::{self, Page};
use drawpipe_core::report::Report;
use drawpipe_core::JobId;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{parse_id, AppState};
use crate::auth::Caller;
use crate::error::ApiError;

/// The longer side of a rendered overlay PNG, pixels (an A3 page at 300 DPI is 4961).
const MAX_SIDE: u32 = 4000;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// 0-based page index (default 0).
    pub page: Option<u32>,
}

/// What the overlay is drawn from, or the PNG kept from an earlier request.
enum Source {
    Cached(Vec<u8>),
    Draw {
        job: JobId,
        /// `None` while the job runs.
        report: Option<Report>,
        page: Page,
        raster: Vec<u8>,
    },
}

/// Reads page `index` of the caller's job `id` once: the kept PNG when `png` and
/// there is one (the raster and report are then not read), else the raster, the
/// page size and the report.
async fn load(
    state: &AppState,
    id: &str,
    caller: &Caller,
    index: u32,
    png: bool,
) -> Result<Source, ApiError> {
    let id = parse_id(id)?;
    type Row = (
        Option<Value>,
        String,
        Option<Vec<u8>>,
        Option<i32>,
        Option<i32>,
        Option<Vec<u8>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT CASE WHEN kept IS NULL THEN j.report END, j.status, \
                CASE WHEN kept IS NULL THEN p.raster_png END, p.width, p.height, kept \
         FROM jobs j LEFT JOIN pages p ON p.job_id = j.id AND p.page_index = $3 \
         CROSS JOIN LATERAL (SELECT CASE WHEN $4 THEN p.overlay_png END AS kept) k \
         WHERE j.id = $1 AND ($2::bigint IS NULL OR j.api_key_id = $2)",
    )
    .bind(id.0)
    .bind(caller.tenant())
    .bind(index as i32)
    .bind(png)
    .fetch_optional(state.pool())
    .await?;
    let Some((report, status, raster, width, height, kept)) = row else {
        return Err(ApiError::job_not_found(&id.to_string()));
    };
    let (Some(width), Some(height)) = (width, height) else {
        return Err(no_page(id, index, &status));
    };
    if let Some(kept) = kept {
        return Ok(Source::Cached(kept));
    }
    let report = match report {
        Some(v) => Some(serde_json::from_value(v).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!(
                "job {id}: stored report does not parse: {e}"
            ))
        })?),
        None => None,
    };
    Ok(Source::Draw {
        job: id,
        report,
        page: Page {
            index,
            width: width as u32,
            height: height as u32,
        },
        raster: raster.unwrap_or_default(),
    })
}

/// 404 for a page the job does not have (yet, while it runs).
fn no_page(id: JobId, index: u32, status: &str) -> ApiError {
    ApiError::NotFound(if status == "queued" || status == "running" {
        format!("page {index} of job {id} is not rendered yet (status {status})")
    } else {
        format!("job {id} has no page {index}")
    })
}

/// While a job runs: its page with nothing on it yet.
fn placeholder() -> Report {
    serde_json::from_value(serde_json::json!({
        "job_id": uuid::Uuid::nil(), "status": "running",
        "drawing": {"sha256": "", "media_type": "", "bytes": 0}, "stages": {}
    }))
    .expect("a fixed report parses")
}

/// `body` as `content_type`: cacheable by the client for a minute once the job has
/// finished, not at all while it runs.
fn respond(content_type: &'static str, finished: bool, body: impl IntoResponse) -> Response {
    let cache = if finished {
        "private, max-age=60"
    } else {
        "no-store"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

pub async fn png(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let index = q.page.unwrap_or(0);
    let (job, report, page, raster) = match load(&state, &id, &caller, index, true).await? {
        // Only a finished job's overlay is kept.
        Source::Cached(png) => return Ok(respond("image/png", true, png)),
        Source::Draw {
            job,
            report,
            page,
            raster,
        } => (job, report, page, raster),
    };
    let finished = report.is_some();
    let report = report.unwrap_or_else(placeholder);
    let png =
        tokio::task::spawn_blocking(move || overlay::png(&report, page, Some(&raster), MAX_SIDE))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(|e| ApiError::Internal(e.into()))?;
    if finished {
        sqlx::query("UPDATE pages SET overlay_png = $3 WHERE job_id = $1 AND page_index = $2")
            .bind(job.0)
            .bind(index as i32)
            .bind(&png)
            .execute(state.pool())
            .await?;
    }
    Ok(respond("image/png", finished, png))
}

pub async fn svg(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let Source::Draw {
        report,
        page,
        raster,
        ..
    } = load(&state, &id, &caller, q.page.unwrap_or(0), false).await?
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "overlay.svg: load returned a kept PNG"
        )));
    };
    let finished = report.is_some();
    let doc = overlay::svg(&report.unwrap_or_else(placeholder), page, Some(&raster));
    Ok(respond("image/svg+xml", finished, doc))
}

/// `GET /v1/jobs/{id}/page.png?page=N`: page N as `preprocess` stored it, the pixel
/// frame of every box in the report (what `drawpipe corrections export` writes
/// beside the ground truth).
pub async fn page_png(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let index = q.page.unwrap_or(0);
    let id = parse_id(&id)?;
    let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT j.status, p.raster_png FROM jobs j \
         LEFT JOIN pages p ON p.job_id = j.id AND p.page_index = $3 \
         WHERE j.id = $1 AND ($2::bigint IS NULL OR j.api_key_id = $2)",
    )
    .bind(id.0)
    .bind(caller.tenant())
    .bind(index as i32)
    .fetch_optional(state.pool())
    .await?;
    let Some((status, raster)) = row else {
        return Err(ApiError::job_not_found(&id.to_string()));
    };
    let Some(raster) = raster else {
        return Err(no_page(id, index, &status));
    };
    // A stored page does not change.
    Ok(respond("image/png", true, raster))
}
