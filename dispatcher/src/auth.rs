//! Bearer-key authentication for `/v1`.
//!
//! A key is checked against `api_keys` once, then its hash is cached for
//! [`CACHE_TTL`]: a revoked key is refused within that time. The lookup that fills
//! the cache also stamps `last_used_at`, so the stamp is at most one TTL stale and
//! requests do not write to the database. Every `/v1` request carries a [`Caller`]
//! extension (with no key id when auth is off).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::api::AppState;
use crate::error::ApiError;
use crate::keys;

/// How long a validated key is trusted without asking the database.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Cache size at which expired entries are swept.
const SWEEP_AT: usize = 10_000;

pub const MISSING_KEY: &str =
    "missing API key: send 'Authorization: Bearer <key>'; create one with 'drawpipe-dispatcher keys create NAME'";
pub const INVALID_KEY: &str = "invalid or revoked API key";

/// Who made a request: the `api_keys.id`, or `None` when auth is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Option<i64>);

pub struct Auth {
    pool: PgPool,
    disabled: bool,
    /// key hash → (key id, when validated).
    cache: Mutex<HashMap<String, (i64, Instant)>>,
}

impl Auth {
    pub fn new(pool: PgPool, disabled: bool) -> Self {
        Auth {
            pool,
            disabled,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Checks the request's headers.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for a missing, unknown or revoked key.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.disabled {
            return Ok(Caller(None));
        }
        let key = bearer(headers).ok_or_else(|| ApiError::Unauthorized(MISSING_KEY.into()))?;
        if !keys::is_well_formed(key) {
            return Err(ApiError::Unauthorized(INVALID_KEY.into()));
        }
        let hash = keys::hash(key);
        if let Some((id, at)) = self.cache.lock().unwrap().get(&hash) {
            if at.elapsed() < CACHE_TTL {
                return Ok(Caller(Some(*id)));
            }
        }
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE api_keys SET last_used_at = now() WHERE key_sha256 = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let mut cache = self.cache.lock().unwrap();
        let Some(id) = id else {
            cache.remove(&hash);
            return Err(ApiError::Unauthorized(INVALID_KEY.into()));
        };
        if cache.len() >= SWEEP_AT {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        cache.insert(hash, (id, Instant::now()));
        Ok(Caller(Some(id)))
    }
}

/// The key of an `Authorization: Bearer <key>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// Middleware for `/v1`: refuses unauthenticated requests, attaches the [`Caller`].
pub async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match state.auth.authenticate(req.headers()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            crate::api::discard_body(req).await;
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_bearer_headers() {
        struct Case {
            header: Option<&'static str>,
            want: Option<&'static str>,
        }
        let cases = [
            Case {
                header: Some("Bearer dp_abc"),
                want: Some("dp_abc"),
            },
            Case {
                header: Some("bearer   dp_abc "),
                want: Some("dp_abc"),
            },
            Case {
                header: Some("Basic dXNlcjpwYXNz"),
                want: None,
            },
            Case {
                header: Some("Bearer"),
                want: None,
            },
            Case {
                header: Some("Bearer "),
                want: None,
            },
            Case {
                header: None,
                want: None,
            },
        ];
        for c in cases {
            let mut h = HeaderMap::new();
            if let Some(v) = c.header {
                h.insert(AUTHORIZATION, HeaderValue::from_static(v));
            }
            assert_eq!(bearer(&h), c.want, "{:?}", c.header);
        }
    }
}
