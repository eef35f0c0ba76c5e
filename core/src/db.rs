//! PostgreSQL access shared by the dispatcher and the workers: migrations, job
//! insertion, stage claiming and settling, and the advance step that queues the
//! stages that just became ready.
//!
//! Invariants: every state change that must be followed by a message writes an
//! `outbox` row in the same transaction (the relay in `mq` publishes it); `advance`
//! runs under the job rows' locks, taken in id order, so two stages of one job that
//! finish together queue their successors exactly once.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::job::{JobId, StageStatus};
use crate::stage::{Stage, StagePlan};
use crate::topology;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The migrations this build has that the database lacks (by version); all of them
/// when the migrations table cannot be read (a database never migrated).
pub async fn missing_migrations(pool: &PgPool) -> Vec<i64> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect()
}

/// Brings the schema up to this build: applies the migrations when `migrate`, else
/// waits until something else (`drawpipe-dispatcher migrate`, a migration Job) has,
/// logging what it waits for every 10 s.
///
/// # Errors
/// A migration that fails.
pub async fn ensure_schema(
    pool: &PgPool,
    migrate: bool,
) -> Result<(), sqlx::migrate::MigrateError> {
    if migrate {
        return MIGRATOR.run(pool).await;
    }
    let mut waited = 0u32;
    loop {
        let missing = missing_migrations(pool).await;
        if missing.is_empty() {
            return Ok(());
        }
        if waited.is_multiple_of(20) {
            tracing::warn!(
                ?missing,
                "the database schema is behind this build; waiting for `drawpipe-dispatcher migrate`"
            );
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Opens a pool; `max` connections.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(opts)
        .await
}

/// Creates the database named in `url` when it does not exist (used by tests and
/// `migrate`), connecting to the server's `postgres` database to do it.
pub async fn ensure_database(url: &str) -> Result<(), sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    let Some(name) = opts.get_database().map(str::to_string) else {
        return Ok(());
    };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.database("postgres"))
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&sql).execute(&admin).await {
            // Another process may have created it meanwhile.
            let raced = e
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04" || c == "23505");
            if !raced {
                return Err(e);
            }
        }
    }
    admin.close().await;
    Ok(())
}

/// A job to insert, with its drawing.
pub struct NewJob<'a> {
    pub id: JobId,
    pub sha256: &'a str,
    pub media_type: &'a str,
    pub content: &'a [u8],
    pub filename: Option<&'a str>,
    pub requested: &'a [String],
    pub plan: &'a StagePlan,
    pub options: &'a Value,
    pub priority: i16,
    pub idempotency_key: Option<&'a str>,
    pub api_key_id: Option<i64>,
    pub source: &'a str,
}

/// Inserts drawing (once per content), job, its stage runs and the outbox rows for
/// the plan's roots in one statement. Returns the job id and whether it is new: with
/// an idempotency key the same API key used before, the existing job's id and `false`
/// (idempotency keys are scoped per API key).
pub async fn insert_job(pool: &PgPool, job: &NewJob<'_>) -> Result<(JobId, bool), sqlx::Error> {
    let roots: Vec<String> = job
        .plan
        .roots()
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    let stages = job.plan.names();
    let statuses: Vec<&str> = job
        .plan
        .stages()
        .iter()
        .map(|s| {
            if job.plan.roots().contains(s) {
                "queued"
            } else {
                "pending"
            }
        })
        .collect();
    let row = sqlx::query(
        r#"
        WITH d AS (
            INSERT INTO drawings (sha256, media_type, size_bytes, content)
            VALUES ($2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING
        ), j AS (
            INSERT INTO jobs (id, drawing_sha256, filename, requested_stages, stages, options,
                              priority, idempotency_key, api_key_id, source)
            VALUES ($1, $2, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT ((COALESCE(api_key_id, 0)), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id
        ), s AS (
            INSERT INTO stage_runs (job_id, stage, status, queued_at)
            SELECT j.id, u.stage, u.status, CASE WHEN u.status = 'queued' THEN now() END
            FROM j, unnest($8::text[], $14::text[]) AS u(stage, status)
        ), o AS (
            INSERT INTO outbox (job_id, exchange, routing_key, payload)
            SELECT j.id, '', 'drawpipe.stage.' || r || CASE WHEN $10 >= $16 THEN '.interactive' ELSE '' END,
                   jsonb_build_object('v', 1, 'job_id', j.id, 'stage', r, 'attempt', 1)
            FROM j, unnest($15::text[]) AS r
        )
        SELECT id FROM j
        "#,
    )
    .bind(job.id.0)
    .bind(job.sha256)
    .bind(job.media_type)
    .bind(job.content.len() as i64)
    .bind(job.content)
    .bind(job.filename)
    .bind(job.requested)
    .bind(&stages)
    .bind(job.options)
    .bind(job.priority)
    .bind(job.idempotency_key)
    .bind(job.api_key_id)
    .bind(job.source)
    .bind(&statuses)
    .bind(&roots)
    .bind(topology::INTERACTIVE_PRIORITY)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = row {
        return Ok((JobId(row.get(0)), true));
    }
    let existing: Uuid = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE idempotency_key = $1 AND COALESCE(api_key_id, 0) = COALESCE($2, 0)",
    )
    .bind(job.idempotency_key)
    .bind(job.api_key_id)
    .fetch_one(pool)
    .await?;
    Ok((JobId(existing), false))
}

/// Inserts several jobs without idempotency keys in one statement (one round trip,
/// one commit): their drawings (each content once), jobs, stage runs and root
/// outbox rows, as [`insert_job`] does for one. All or none are stored.
///
/// # Panics
/// When a job has an idempotency key: those go through [`insert_job`], which
/// answers with the earlier job.
pub async fn insert_jobs(pool: &PgPool, jobs: &[NewJob<'_>]) -> Result<(), sqlx::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    assert!(
        jobs.iter().all(|j| j.idempotency_key.is_none()),
        "insert_jobs takes jobs without idempotency keys"
    );
    let mut seen = std::collections::HashSet::new();
    let (mut d_sha, mut d_type, mut d_size, mut d_content) = (vec![], vec![], vec![], vec![]);
    let (mut s_job, mut s_stage, mut s_status) = (vec![], vec![], vec![]);
    let (mut o_job, mut o_stage, mut o_priority) = (vec![], vec![], vec![]);
    for job in jobs {
        if seen.insert(job.sha256) {
            d_sha.push(job.sha256);
            d_type.push(job.media_type);
            d_size.push(job.content.len() as i64);
            d_content.push(job.content);
        }
        let roots = job.plan.roots();
        for s in job.plan.stages() {
            s_job.push(job.id.0);
            s_stage.push(s.name());
            s_status.push(if roots.contains(s) {
                "queued"
            } else {
                "pending"
            });
        }
        for r in roots {
            o_job.push(job.id.0);
            o_stage.push(r.name());
            o_priority.push(job.priority);
        }
    }
    let json_list = |v: &[String]| Value::from(v.to_vec());
    sqlx::query(
        r#"
        WITH d AS (
            INSERT INTO drawings (sha256, media_type, size_bytes, content)
            SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::bytea[])
            ON CONFLICT (sha256) DO NOTHING
        ), j AS (
            INSERT INTO jobs (id, drawing_sha256, filename, requested_stages, stages, options,
                              priority, api_key_id, source)
            SELECT u.id, u.sha, u.filename,
                   ARRAY(SELECT jsonb_array_elements_text(u.requested)),
                   ARRAY(SELECT jsonb_array_elements_text(u.stages)),
                   u.options, u.priority, u.api_key_id, u.source
            FROM unnest($5::uuid[], $6::text[], $7::text[], $8::jsonb[], $9::jsonb[],
                        $10::jsonb[], $11::int2[], $12::int8[], $13::text[])
                 AS u(id, sha, filename, requested, stages, options, priority, api_key_id, source)
        ), s AS (
            INSERT INTO stage_runs (job_id, stage, status, queued_at)
            SELECT u.job_id, u.stage, u.status, CASE WHEN u.status = 'queued' THEN now() END
            FROM unnest($14::uuid[], $15::text[], $16::text[]) AS u(job_id, stage, status)
        )
        INSERT INTO outbox (job_id, exchange, routing_key, payload)
        SELECT u.job_id, '', 'drawpipe.stage.' || u.stage || CASE WHEN u.priority >= $20 THEN '.interactive' ELSE '' END,
               jsonb_build_object('v', 1, 'job_id', u.job_id, 'stage', u.stage, 'attempt', 1)
        FROM unnest($17::uuid[], $18::text[], $19::int2[]) AS u(job_id, stage, priority)
        "#,
    )
    .bind(&d_sha)
    .bind(&d_type)
    .bind(&d_size)
    .bind(&d_content)
    .bind(jobs.iter().map(|j| j.id.0).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.sha256).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.filename).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| json_list(j.requested)).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| json_list(&j.plan.names())).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.options.clone()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.api_key_id).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.source).collect::<Vec<_>>())
    .bind(&s_job)
    .bind(&s_stage)
    .bind(&s_status)
    .bind(&o_job)
    .bind(&o_stage)
    .bind(&o_priority)
    .bind(topology::INTERACTIVE_PRIORITY)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stage run a worker has taken on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub job_id: JobId,
    /// Attempts including this one.
    pub attempts: i32,
}

/// Marks `stage` of each job running (attempts + 1) where it is queued or running
/// and the job is neither finished nor cancelled; moves those jobs to `running`.
/// Jobs not returned need no work: done already, cancelled, or unknown.
///
/// Claim, settle and advance's writes are planned afresh on every run (unnamed
/// statements, `persistent(false)`). Prepared once per connection, PostgreSQL may keep
/// a generic plan after five runs; on a fresh database the first burst of jobs fixed
/// it while `stage_runs` held a handful of rows: a sequential scan of the table joined
/// row by row to the batch, which every batch then paid for each queued run until
/// autovacuum analysed the table (auto_explain under `drawpipe-bench --jobs 10000`:
/// one settle of 45 runs 0.94 s). A custom plan sees the table's current size.
///
/// The batch statements here (claim, settle, advance; and the workers' `finish_jobs`) are
/// driven by the ids they are
/// given: their status tests are written `coalesce(status IN (…), false)`, which no
/// index serves and the planner does not estimate from statistics. Written plainly,
/// the planner drove them from the `stage_runs_active` partial index (or the jobs'
/// status index) whenever the statistics said few runs were active: under a backlog
/// of 28,000 queued runs that plan visited every queued run for each batch, and one
/// settle of 128 runs took 4–8 s of PostgreSQL CPU (auto_explain, `drawpipe-bench
/// --duration-secs 25 --rate 1500`).
pub async fn claim(
    pool: &PgPool,
    stage: Stage,
    jobs: &[JobId],
    worker: &str,
) -> Result<Vec<Claim>, sqlx::Error> {
    let ids: Vec<Uuid> = jobs.iter().map(|j| j.0).collect();
    let rows = sqlx::query(
        r#"
        WITH c AS (
            UPDATE stage_runs sr
            SET status = 'running', attempts = sr.attempts + 1, worker = $3,
                started_at = now(), updated_at = now()
            FROM jobs j
            WHERE j.id = sr.job_id AND sr.job_id = ANY($1) AND sr.stage = $2
              AND coalesce(sr.status IN ('queued', 'running'), false)
              AND coalesce(j.status IN ('queued', 'running'), false)
            RETURNING sr.job_id, sr.attempts
        ), u AS (
            UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
            WHERE id IN (SELECT job_id FROM c) AND coalesce(status = 'queued', false)
        )
        SELECT job_id, attempts FROM c
        "#,
    )
    .persistent(false)
    .bind(&ids)
    .bind(stage.name())
    .bind(worker)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Claim {
            job_id: JobId(r.get(0)),
            attempts: r.get(1),
        })
        .collect())
}

/// How one stage run ended.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub job_id: JobId,
    pub status: StageStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub device: Option<String>,
    pub duration_ms: Option<f64>,
}

/// Records the outcome of `stage` for each job (only where the run is still live:
/// a cancelled job's late result is dropped). Returns the jobs whose run was
/// recorded. Planned afresh on every run, as [`claim`] says why.
pub async fn settle(
    tx: &mut Transaction<'_, Postgres>,
    stage: Stage,
    items: &[Settlement],
) -> Result<Vec<JobId>, sqlx::Error> {
    if items.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.job_id.0).collect();
    let statuses: Vec<&str> = items.iter().map(|i| i.status.as_str()).collect();
    let outputs: Vec<Option<String>> = items
        .iter()
        .map(|i| i.output.as_ref().map(Value::to_string))
        .collect();
    let errors: Vec<Option<&str>> = items.iter().map(|i| i.error.as_deref()).collect();
    let devices: Vec<Option<&str>> = items.iter().map(|i| i.device.as_deref()).collect();
    let durations: Vec<Option<f64>> = items.iter().map(|i| i.duration_ms).collect();
    let rows = sqlx::query(
        r#"
        UPDATE stage_runs sr
        SET status = v.status, output = v.output::jsonb, error = v.error, device = v.device,
            duration_ms = v.duration_ms, finished_at = now(), updated_at = now()
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
             AS v(job_id, status, output, error, device, duration_ms)
        WHERE sr.job_id = v.job_id AND sr.stage = $7
          AND coalesce(sr.status IN ('queued', 'running'), false)
        RETURNING sr.job_id
        "#,
    )
    .persistent(false)
    .bind(&ids)
    .bind(&statuses)
    .bind(&outputs)
    .bind(&errors)
    .bind(&devices)
    .bind(&durations)
    .bind(stage.name())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| JobId(r.get(0))).collect())
}

/// Puts runs back to `queued` with their last error and writes a retry message
/// (attempt + 1) through the delay exchange, which returns it after the backoff.
pub async fn retry_later(
    tx: &mut Transaction<'_, Postgres>,
    stage: Stage,
    items: &[(JobId, u32, String)],
) -> Result<(), sqlx::Error> {
    for (job, next_attempt, error) in items {
        let priority: Option<i16> = sqlx::query_scalar(
            "WITH u AS (UPDATE stage_runs SET status = 'queued', error = $3, updated_at = now() \
                        WHERE job_id = $1 AND stage = $2 AND status = 'running') \
             SELECT priority FROM jobs WHERE id = $1",
        )
        .bind(job.0)
        .bind(stage.name())
        .bind(error)
        .fetch_optional(&mut **tx)
        .await?;
        let msg = crate::message::StageMessage::new(*job, stage, *next_attempt);
        let key = topology::retry_key(stage, *next_attempt, priority.unwrap_or(0));
        insert_outbox(
            tx,
            Some(*job),
            topology::DELAY_EXCHANGE,
            &key,
            &serde_json::to_value(msg).unwrap(),
        )
        .await?;
    }
    Ok(())
}

pub async fn insert_outbox(
    tx: &mut Transaction<'_, Postgres>,
    job: Option<JobId>,
    exchange: &str,
    routing_key: &str,
    payload: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (job_id, exchange, routing_key, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(job.map(|j| j.0))
    .bind(exchange)
    .bind(routing_key)
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues the stages of `jobs` whose dependencies have all finished, and skips the
/// ones whose dependencies failed. Takes the jobs' row locks. Returns how many
/// messages it wrote to the outbox. Its write is planned afresh on every run, as
/// [`claim`] says why.
pub async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    jobs: &[JobId],
) -> Result<usize, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<Uuid> = jobs.iter().map(|j| j.0).collect();
    ids.sort();
    ids.dedup();
    let job_rows = sqlx::query(
        "SELECT id, stages FROM jobs WHERE id = ANY($1) AND coalesce(status IN ('queued', 'running'), false) \
         ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    if job_rows.is_empty() {
        // Every job is finished or cancelled: nothing moves.
        return Ok(0);
    }
    let run_rows =
        sqlx::query("SELECT job_id, stage, status FROM stage_runs WHERE job_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
    let mut runs: HashMap<Uuid, HashMap<Stage, StageStatus>> = HashMap::new();
    for r in run_rows {
        let (Ok(stage), Ok(status)) = (
            r.get::<String, _>(1).parse::<Stage>(),
            r.get::<String, _>(2).parse(),
        ) else {
            continue;
        };
        runs.entry(r.get(0)).or_default().insert(stage, status);
    }

    let (mut upd_job, mut upd_stage, mut upd_status, mut upd_error) =
        (vec![], vec![], vec![], vec![]);
    for row in job_rows {
        let id: Uuid = row.get(0);
        let names: Vec<String> = row.get(1);
        let Ok(plan) = StagePlan::from_names(&names) else {
            continue;
        };
        let Some(status) = runs.get_mut(&id) else {
            continue;
        };
        for (stage, new, error) in next_steps(&plan, status) {
            upd_job.push(id);
            upd_stage.push(stage.name().to_string());
            upd_status.push(new.as_str().to_string());
            upd_error.push(error);
        }
    }
    if upd_job.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        r#"
        WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(job_id, stage, status, error)),
        u AS (
            UPDATE stage_runs sr
            SET status = v.status, error = v.error, updated_at = now(),
                queued_at = CASE WHEN v.status = 'queued' THEN now() ELSE sr.queued_at END,
                finished_at = CASE WHEN v.status = 'skipped' THEN now() ELSE sr.finished_at END
            FROM v WHERE sr.job_id = v.job_id AND sr.stage = v.stage
        )
        INSERT INTO outbox (job_id, exchange, routing_key, payload)
        SELECT v.job_id, '', 'drawpipe.stage.' || v.stage || CASE WHEN j.priority >= $5 THEN '.interactive' ELSE '' END,
               jsonb_build_object('v', 1, 'job_id', v.job_id, 'stage', v.stage, 'attempt', 1)
        FROM v JOIN jobs j ON j.id = v.job_id WHERE v.status = 'queued'
        "#,
    )
    .persistent(false)
    .bind(&upd_job)
    .bind(&upd_stage)
    .bind(&upd_status)
    .bind(&upd_error)
    .bind(topology::INTERACTIVE_PRIORITY)
    .execute(&mut **tx)
    .await?;
    Ok(upd_status.iter().filter(|s| *s == "queued").count())
}

/// The pure part of [`advance`]: which pending stages of one job move now, to what,
/// and why. Updates `status` in place.
pub fn next_steps(
    plan: &StagePlan,
    status: &mut HashMap<Stage, StageStatus>,
) -> Vec<(Stage, StageStatus, Option<String>)> {
    let mut out = Vec::new();
    loop {
        let mut changed = false;
        for &s in plan.stages() {
            if status.get(&s) != Some(&StageStatus::Pending) {
                continue;
            }
            let deps = plan.deps_of(s);
            let st = |d: &Stage| status.get(d).copied().unwrap_or(StageStatus::Pending);
            let failed_dep = deps
                .iter()
                .filter(|d| !s.soft_deps().contains(d))
                .find(|d| {
                    matches!(
                        st(d),
                        StageStatus::Failed | StageStatus::Skipped | StageStatus::Cancelled
                    )
                });
            let next = if s == Stage::Report {
                deps.iter()
                    .all(|d| st(d).is_terminal())
                    .then_some((StageStatus::Queued, None))
            } else if let Some(d) = failed_dep {
                Some((
                    StageStatus::Skipped,
                    Some(format!("skipped: stage {d} did not succeed")),
                ))
            } else if deps.iter().all(|d| {
                st(d) == StageStatus::Succeeded
                    || (s.soft_deps().contains(d) && st(d).is_terminal())
            }) {
                Some((StageStatus::Queued, None))
            } else {
                None
            };
            if let Some((new, why)) = next {
                status.insert(s, new);
                out.push((s, new, why));
                changed = true;
            }
        }
        if !changed {
            return out;
        }
    }
}

/// Cancels a job that has not finished. Returns false when it was already finished
/// (or does not exist).
pub async fn cancel_job(pool: &PgPool, job: JobId) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE jobs SET status = 'cancelled', error = 'cancelled by request', finished_at = now(), updated_at = now() \
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
    )
    .bind(job.0)
    .fetch_optional(&mut *tx)
    .await?;
    if done.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE stage_runs SET status = 'cancelled', finished_at = now(), updated_at = now() \
         WHERE job_id = $1 AND status IN ('pending', 'queued', 'running')",
    )
    .bind(job.0)
    .execute(&mut *tx)
    .await?;
    let event = job_event(job, "cancelled", "cancelled", Some("cancelled by request"));
    insert_outbox(
        &mut tx,
        Some(job),
        topology::EVENTS_EXCHANGE,
        &format!("job.{job}.cancelled"),
        &event,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The JSON of a [`crate::message::JobEvent`].
pub fn job_event(job: JobId, kind: &str, status: &str, error: Option<&str>) -> Value {
    serde_json::to_value(crate::message::JobEvent {
        v: crate::message::VERSION,
        job_id: job,
        kind: kind.to_string(),
        status: status.to_string(),
        error: error.map(str::to_string),
        at: chrono::Utc::now(),
    })
    .expect("job event serialises")
}

/// Re-drives stage runs that have made no progress for `stale_after`: writes a fresh
/// message for each (the stage's idempotent handling makes duplicates harmless).
/// Returns how many were re-driven.
pub async fn reap_stale(
    pool: &PgPool,
    stale_after: std::time::Duration,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query(
        r#"
        WITH stale AS (
            SELECT sr.job_id, sr.stage, sr.attempts, j.priority FROM stage_runs sr JOIN jobs j ON j.id = sr.job_id
            WHERE sr.status IN ('queued', 'running') AND sr.updated_at < now() - make_interval(secs => $1)
              AND j.status IN ('queued', 'running')
            ORDER BY sr.updated_at LIMIT $2
            FOR UPDATE OF sr SKIP LOCKED
        ), u AS (
            UPDATE stage_runs sr SET status = 'queued', updated_at = now(),
                   error = 'no progress for ' || $1::int || ' s; re-driven by the reaper'
            FROM stale WHERE sr.job_id = stale.job_id AND sr.stage = stale.stage
        )
        INSERT INTO outbox (job_id, exchange, routing_key, payload)
        SELECT job_id, '', 'drawpipe.stage.' || stage || CASE WHEN priority >= $3 THEN '.interactive' ELSE '' END,
               jsonb_build_object('v', 1, 'job_id', job_id, 'stage', stage, 'attempt', attempts + 1)
        FROM stale
        "#,
    )
    .bind(stale_after.as_secs_f64())
    .bind(limit)
    .bind(topology::INTERACTIVE_PRIORITY)
    .execute(pool)
    .await?;
    Ok(res.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str]) -> StagePlan {
        StagePlan::from_names(names).unwrap()
    }

    #[test]
    fn next_steps_queue_ready_and_skip_blocked() {
        use StageStatus::*;
        struct Case {
            plan: StagePlan,
            status: Vec<(Stage, StageStatus)>,
            want: Vec<(Stage, StageStatus)>,
        }
        let cases = [
            Case {
                plan: plan(&["preprocess", "report"]),
                status: vec![(Stage::Preprocess, Succeeded), (Stage::Report, Pending)],
                want: vec![(Stage::Report, Queued)],
            },
            Case {
                plan: plan(&["preprocess", "report"]),
                status: vec![(Stage::Preprocess, Running), (Stage::Report, Pending)],
                want: vec![],
            },
            Case {
                plan: plan(&[
                    "preprocess",
                    "detect",
                    "ocr",
                    "edocr",
                    "tolerance",
                    "report",
                ]),
                status: vec![
                    (Stage::Preprocess, Succeeded),
                    (Stage::Detect, Succeeded),
                    (Stage::Ocr, Failed),
                    (Stage::Edocr, Pending),
                    (Stage::Tolerance, Pending),
                    (Stage::Report, Pending),
                ],
                want: vec![
                    (Stage::Edocr, Skipped),
                    (Stage::Tolerance, Skipped),
                    (Stage::Report, Queued),
                ],
            },
            // `detect` is a soft dependency of `edocr`: waited for, not required.
            Case {
                plan: plan(&["preprocess", "detect", "ocr", "edocr", "report"]),
                status: vec![
                    (Stage::Preprocess, Succeeded),
                    (Stage::Detect, Failed),
                    (Stage::Ocr, Succeeded),
                    (Stage::Edocr, Pending),
                    (Stage::Report, Pending),
                ],
                want: vec![(Stage::Edocr, Queued)],
            },
            Case {
                plan: plan(&["preprocess", "detect", "ocr", "edocr", "report"]),
                status: vec![
                    (Stage::Preprocess, Succeeded),
                    (Stage::Detect, Running),
                    (Stage::Ocr, Succeeded),
                    (Stage::Edocr, Pending),
                    (Stage::Report, Pending),
                ],
                want: vec![],
            },
            Case {
                plan: plan(&["preprocess", "detect", "ocr", "report"]),
                status: vec![
                    (Stage::Preprocess, Succeeded),
                    (Stage::Detect, Pending),
                    (Stage::Ocr, Pending),
                    (Stage::Report, Pending),
                ],
                want: vec![(Stage::Detect, Queued), (Stage::Ocr, Queued)],
            },
        ];
        for c in cases {
            let mut st: HashMap<_, _> = c.status.into_iter().collect();
            let got: Vec<_> = next_steps(&c.plan, &mut st)
                .into_iter()
                .map(|(s, n, _)| (s, n))
                .collect();
            assert_eq!(got, c.want);
        }
    }
}
