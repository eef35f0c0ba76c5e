//! Bearer-key authentication for `/v1`, and the tenant a request acts for.
//!
//! Every request looks its key up (one indexed read), so a revoked key is refused at
//! once by every dispatcher; `last_used_at` is stamped at most every
//! [`STAMP_EVERY`], so requests rarely write. Every `/v1` request carries a [`Caller`]
//! extension: the key's id and whether it is an admin key (with auth off: no key, and
//! every job visible).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::api::AppState;
use crate::error::ApiError;
use crate::keys;

/// How stale `api_keys.last_used_at` may be.
pub const STAMP_EVERY: Duration = Duration::from_secs(30);

pub const MISSING_KEY: &str =
    "missing API key: send 'Authorization: Bearer <key>'; create one with 'drawpipe-dispatcher keys create NAME'";
pub const INVALID_KEY: &str = "invalid or revoked API key";

/// Who made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The `api_keys.id`, or `None` when auth is off.
    pub key: Option<i64>,
    /// An admin key (or auth off): sees and acts on every tenant's jobs.
    pub admin: bool,
}

impl Caller {
    /// Whose jobs this caller may see: `None` for all (admin, or auth off), else the
    /// key's own. Bind it as `$n::bigint` in `($n IS NULL OR api_key_id = $n)`.
    pub fn tenant(&self) -> Option<i64> {
        if self.admin {
            None
        } else {
            self.key
        }
    }

    /// The key's name, for who-did-what columns.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn name<'e, E: sqlx::PgExecutor<'e>>(&self, db: E) -> Result<String, sqlx::Error> {
        match self.key {
            Some(k) => {
                sqlx::query_scalar("SELECT name FROM api_keys WHERE id = $1")
                    .bind(k)
                    .fetch_one(db)
                    .await
            }
            None => Ok("anonymous (auth off)".into()),
        }
    }
}

pub struct Auth {
    pool: PgPool,
    disabled: bool,
}

impl Auth {
    pub fn new(pool: PgPool, disabled: bool) -> Self {
        Auth { pool, disabled }
    }

    /// Checks the request's headers.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for a missing, unknown or revoked key.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.disabled {
            return Ok(Caller {
                key: None,
                admin: true,
            });
        }
        let key = bearer(headers).ok_or_else(|| ApiError::Unauthorized(MISSING_KEY.into()))?;
        if !keys::is_well_formed(key) {
            return Err(ApiError::Unauthorized(INVALID_KEY.into()));
        }
        let row: Option<(i64, bool)> = sqlx::query_as(
            "WITH k AS (SELECT id, admin, last_used_at FROM api_keys \
                        WHERE key_sha256 = $1 AND revoked_at IS NULL), \
                  s AS (UPDATE api_keys SET last_used_at = now() FROM k \
                        WHERE api_keys.id = k.id \
                          AND (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2))) \
             SELECT id, admin FROM k",
        )
        .bind(keys::hash(key))
        .bind(STAMP_EVERY.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        let (id, admin) = row.ok_or_else(|| ApiError::Unauthorized(INVALID_KEY.into()))?;
        Ok(Caller {
            key: Some(id),
            admin,
        })
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
