//! The HTTP layer's one error type: each variant has its status, and every error
//! answers `{"error": "<message>"}`. Internal detail (database errors) is logged,
//! never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::intake::SubmitError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// 429, with `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`: too much work already (requests in flight, queues).
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn job_not_found(id: &str) -> Self {
        ApiError::NotFound(format!("job {id} not found"))
    }

    pub fn too_large(max: usize) -> Self {
        ApiError::PayloadTooLarge(format!(
            "the upload exceeds the limit of {max} bytes; raise --max-upload-bytes to accept larger drawings"
        ))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(e).context("database query failed"))
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Empty | SubmitError::Stages(_) | SubmitError::Invalid(_) => {
                ApiError::BadRequest(e.to_string())
            }
            SubmitError::UnsupportedMedia(_) => ApiError::UnsupportedMediaType(e.to_string()),
            SubmitError::TooLarge { max, .. } => ApiError::too_large(max),
            SubmitError::Database(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let retry_after = match &self {
            ApiError::RateLimited {
                retry_after_secs, ..
            }
            | ApiError::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let mut res = (
            self.status(),
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}
