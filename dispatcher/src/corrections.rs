//! `PATCH /v1/jobs/{id}/dimensions/{n}`: a person corrects what was read of
//! dimension `n` (its position in the report's `dimensions`): the text, the kind,
//! the value and its deviations or fit. In one transaction the correction is kept
//! (`corrections`: the reading before, the fields after, the key's name, the time),
//! the job's report shows the corrected fields with a `correction` object (who,
//! when, the original reading), the `dimensions` row is updated, and the cached
//! overlay is dropped so that it is drawn again. A second correction of the same
//! dimension starts from the first and keeps the first `original`.
//!
//! `GET /v1/corrections`: the caller's jobs that hold corrections, oldest last
//! correction first, paged: what `drawpipe corrections export` walks to write them
//! as ground truth.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::{cursor_param, cut_page, encode_cursor, parse_id, parse_limit, AppState};
use crate::auth::Caller;
use crate::error::ApiError;

/// What `edocr` writes in a dimension's `kind`.
pub const KINDS: &[&str] = &[
    "linear",
    "diameter",
    "radius",
    "spherical_diameter",
    "spherical_radius",
    "angle",
    "chamfer",
    "thread",
    "roughness",
    "general_tolerance",
];

/// The fields a correction may set; at least one. `upper`, `lower` and `fit` may be
/// set to `null` to remove them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionCorrection {
    pub raw: Option<String>,
    pub kind: Option<String>,
    pub nominal: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    pub upper: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    pub lower: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    pub fit: Option<Option<String>>,
}

/// A field given (`null` included) is `Some`; one left out stays `None` (`default`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl DimensionCorrection {
    /// The fields set, as JSON; an error naming what is wrong.
    fn fields(&self) -> Result<Map<String, Value>, ApiError> {
        let mut m = Map::new();
        if let Some(raw) = &self.raw {
            let raw = raw.trim();
            if raw.is_empty() || raw.chars().count() > 200 {
                return Err(ApiError::BadRequest(
                    "raw must be 1 to 200 characters".into(),
                ));
            }
            m.insert("raw".into(), json!(raw));
        }
        if let Some(kind) = &self.kind {
            if !KINDS.contains(&kind.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "kind {kind:?} is not one of {}",
                    KINDS.join(", ")
                )));
            }
            m.insert("kind".into(), json!(kind));
        }
        for (name, v) in [
            ("nominal", self.nominal.map(Some)),
            ("upper", self.upper),
            ("lower", self.lower),
        ] {
            if let Some(v) = v {
                if v.is_some_and(|x| !x.is_finite()) {
                    return Err(ApiError::BadRequest(format!(
                        "{name} must be a finite number"
                    )));
                }
                m.insert(name.into(), json!(v));
            }
        }
        if let Some(fit) = &self.fit {
            m.insert("fit".into(), json!(fit));
        }
        if m.is_empty() {
            return Err(ApiError::BadRequest(
                "nothing to correct: give one or more of raw, kind, nominal, upper, lower, fit"
                    .into(),
            ));
        }
        Ok(m)
    }
}

pub async fn correct_dimension(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, n)): Path<(String, usize)>,
    Json(body): Json<DimensionCorrection>,
) -> Result<Json<Value>, ApiError> {
    let job = parse_id(&id)?;
    let fields = body.fields()?;
    let mut tx = state.pool().begin().await?;
    let row: Option<(Option<Value>, String)> = sqlx::query_as(
        "SELECT report, status FROM jobs WHERE id = $1 AND ($2::bigint IS NULL OR api_key_id = $2) FOR UPDATE",
    )
    .bind(job.0)
    .bind(caller.tenant())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((report, status)) = row else {
        return Err(ApiError::job_not_found(&id));
    };
    let Some(mut report) = report else {
        return Err(ApiError::Conflict(format!(
            "job {id} has not finished (status {status}); correct it when it has"
        )));
    };
    let count = report["dimensions"].as_array().map_or(0, Vec::len);
    let Some(item) = report["dimensions"]
        .get_mut(n)
        .and_then(Value::as_object_mut)
    else {
        return Err(ApiError::NotFound(format!(
            "job {id} has {count} dimensions; there is no dimension {n}"
        )));
    };
    let by = caller.name(&mut *tx).await?;
    let at = Utc::now();
    // The reading as `edocr` made it: kept from the first correction on.
    let original = match item.get("correction") {
        Some(c) => c["original"].clone(),
        None => Value::Object(
            ["raw", "kind", "nominal", "upper", "lower", "fit"]
                .iter()
                .map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null)))
                .collect(),
        ),
    };
    for (k, v) in &fields {
        item.insert(k.clone(), v.clone());
    }
    item.insert(
        "correction".into(),
        json!({"by": by, "at": at, "original": original}),
    );
    let corrected = Value::Object(item.clone());
    sqlx::query(
        "INSERT INTO corrections (job_id, item, item_index, original, corrected, corrected_by, corrected_at) \
         VALUES ($1, 'dimension', $2, $3, $4, $5, $6)",
    )
    .bind(job.0)
    .bind(n as i32)
    .bind(&original)
    .bind(Value::Object(fields.clone()))
    .bind(&by)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE jobs SET report = $2, updated_at = now() WHERE id = $1")
        .bind(job.0)
        .bind(&report)
        .execute(&mut *tx)
        .await?;
    let d = &corrected;
    sqlx::query(
        "UPDATE dimensions SET raw = $3, kind = $4, nominal = $5, upper = $6, lower = $7, fit = $8 \
         WHERE job_id = $1 AND item_index = $2",
    )
    .bind(job.0)
    .bind(n as i32)
    .bind(d["raw"].as_str().unwrap_or(""))
    .bind(d["kind"].as_str().unwrap_or("linear"))
    .bind(d["nominal"].as_f64())
    .bind(d["upper"].as_f64())
    .bind(d["lower"].as_f64())
    .bind(d["fit"].as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE pages SET overlay_png = NULL WHERE job_id = $1")
        .bind(job.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(job_id = %job, item = n, by = %by, "dimension corrected");
    Ok(Json(corrected))
}

/// `GET /v1/corrections?since=T&limit=N&cursor=C`: the caller's jobs with at least
/// one correction (after `since`, RFC 3339, when given), ordered by their latest
/// correction, each with how many dimensions were corrected; `next_cursor` while
/// more remain.
pub async fn corrected_jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let since = match q.get("since").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "since {s:?} is not an RFC 3339 time (2026-12-05T10:00:00Z): {e}"
                    ))
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let after = cursor_param(&q)?;
    type Row = (uuid::Uuid, Option<String>, i64, chrono::DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT j.id, j.filename, c.items, c.last FROM jobs j \
         JOIN (SELECT job_id, count(DISTINCT item_index) AS items, max(corrected_at) AS last \
               FROM corrections GROUP BY job_id) c ON c.job_id = j.id \
         WHERE ($1::bigint IS NULL OR j.api_key_id = $1) \
           AND ($2::timestamptz IS NULL OR c.last > $2) \
           AND ($3::timestamptz IS NULL OR (c.last, j.id) > ($3::timestamptz, $4::uuid)) \
         ORDER BY c.last, j.id LIMIT $5",
    )
    .bind(caller.tenant())
    .bind(since)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit + 1)
    .fetch_all(state.pool())
    .await?;
    let (page, next) = cut_page(&rows, limit, |r| encode_cursor(r.3, r.0));
    let jobs: Vec<Value> = page
        .iter()
        .map(|(id, filename, items, last)| {
            json!({"id": id, "filename": filename, "corrected_dimensions": items, "last_corrected_at": last})
        })
        .collect();
    Ok(Json(json!({"jobs": jobs, "next_cursor": next})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Map<String, Value>, String> {
        let c: DimensionCorrection = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.fields().map_err(|e| e.to_string())
    }

    #[test]
    fn fields_set_and_cleared_and_errors_named() {
        let m = parse(json!({"raw": " Ø21,5±0,1 ", "nominal": 21.5, "fit": null})).unwrap();
        assert_eq!(m["raw"], "Ø21,5±0,1");
        assert_eq!(m["nominal"], 21.5);
        assert_eq!(m["fit"], Value::Null);
        assert!(!m.contains_key("upper"));
        assert!(parse(json!({})).unwrap_err().contains("nothing to correct"));
        assert!(parse(json!({"kind": "bolt"}))
            .unwrap_err()
            .contains("not one of"));
        assert!(parse(json!({"raw": ""}))
            .unwrap_err()
            .contains("raw must be"));
        assert!(parse(json!({"colour": "red"}))
            .unwrap_err()
            .contains("unknown field"));
    }
}
