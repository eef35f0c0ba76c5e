//! Settles a batch in one transaction: stage results, page rasters, the job's end
//! with its report and result rows, retries, and the next stages' messages.

use std::collections::HashMap;

use drawpipe_core::db::{self, Settlement};
use drawpipe_core::{topology, JobId, Stage, StageStatus};
use serde_json::Value;
use uuid::Uuid;

use super::compute::{Finished, Outcome};
use super::Ctx;
use crate::stages::contract::TableRows;
use crate::stages::PageRaster;

pub(super) async fn settle_all(
    stage: Stage,
    outcomes: &[(JobId, Outcome, f64)],
    exhausted: &[db::Claim],
    attempts: &HashMap<JobId, u32>,
    ctx: &Ctx,
) -> anyhow::Result<()> {
    let mut settlements = Vec::new();
    let mut retries = Vec::new();
    for (job, outcome, ms) in outcomes {
        let mut used = "cpu".to_string();
        let (status, output, error) = match outcome {
            Outcome::Done { output, device, .. } => {
                used = device.clone();
                (StageStatus::Succeeded, Some(output.clone()), None)
            }
            Outcome::Invalid(msg) => (StageStatus::Failed, None, Some(msg.clone())),
            Outcome::Skipped(msg) => (StageStatus::Skipped, None, Some(msg.clone())),
            Outcome::Retry(msg) => {
                let next = attempts.get(job).copied().unwrap_or(1) + 1;
                if next > ctx.cfg.max_attempts {
                    let why = format!("gave up after {} attempts: {msg}", next - 1);
                    (StageStatus::Failed, None, Some(why))
                } else {
                    retries.push((*job, next, msg.clone()));
                    continue;
                }
            }
        };
        settlements.push(Settlement {
            job_id: *job,
            status,
            output,
            error,
            device: Some(used),
            duration_ms: Some(*ms),
        });
    }
    for c in exhausted {
        settlements.push(Settlement {
            job_id: c.job_id,
            status: StageStatus::Failed,
            output: None,
            error: Some(format!(
                "gave up after {} attempts (the worker kept dying or timing out on this input)",
                c.attempts - 1
            )),
            device: None,
            duration_ms: None,
        });
    }

    let mut tx = ctx.pool.begin().await?;
    let live = db::settle(&mut tx, stage, &settlements).await?;
    let live_set: std::collections::HashSet<JobId> = live.iter().copied().collect();
    let done = |j: &JobId| live_set.contains(j);
    match stage {
        Stage::Preprocess => {
            let pages: Vec<(JobId, &PageRaster)> = outcomes
                .iter()
                .filter(|(j, _, _)| done(j))
                .flat_map(|(j, o, _)| match o {
                    Outcome::Done { pages, .. } => pages.iter().map(|p| (*j, p)).collect(),
                    _ => vec![],
                })
                .collect();
            insert_pages(&mut tx, &pages).await?;
        }
        Stage::Report => {
            let reports: Vec<_> = outcomes
                .iter()
                .filter(|(j, _, _)| done(j))
                .filter_map(|(j, o, _)| match o {
                    Outcome::Done {
                        report: Some(r), ..
                    } => Some((*j, r)),
                    _ => None,
                })
                .collect();
            finish_jobs(&mut tx, &reports).await?;
            for (job, finished) in &reports {
                for table in &finished.rows {
                    insert_recordset(&mut tx, table, *job).await?;
                }
            }
            // A report that itself failed still ends the job.
            let failed: Vec<JobId> = settlements
                .iter()
                .filter(|s| s.status == StageStatus::Failed && done(&s.job_id))
                .map(|s| s.job_id)
                .collect();
            fail_jobs(&mut tx, &failed).await?;
        }
        _ => {}
    }
    db::retry_later(&mut tx, stage, &retries).await?;
    db::advance(&mut tx, &live).await?;
    tx.commit().await?;
    for st in settlements.iter().filter(|st| done(&st.job_id)) {
        let outcome = if st.status == StageStatus::Succeeded {
            "succeeded"
        } else {
            "failed"
        };
        ctx.metrics
            .outcome(stage.name(), outcome, st.device.as_deref(), st.duration_ms);
    }
    for _ in &retries {
        ctx.metrics.outcome(stage.name(), "retried", None, None);
    }
    Ok(())
}

/// `INSERT INTO table (job_id, cols…) SELECT $1, cols… FROM jsonb_to_recordset($2)`.
async fn insert_recordset(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    rows: &TableRows,
    job: JobId,
) -> Result<(), sqlx::Error> {
    let names = rows.column_names().join(", ");
    let (table, columns) = (rows.table, rows.columns);
    let sql = format!(
        "INSERT INTO {table} (job_id, {names}) SELECT $1, {names} FROM jsonb_to_recordset($2) AS r({columns}) \
         ON CONFLICT DO NOTHING"
    );
    sqlx::query(&sql)
        .bind(job.0)
        .bind(Value::Array(rows.rows.clone()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_pages(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    pages: &[(JobId, &PageRaster)],
) -> Result<(), sqlx::Error> {
    if pages.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = pages.iter().map(|(j, _)| j.0).collect();
    let idx: Vec<i32> = pages.iter().map(|(_, p)| p.info.index as i32).collect();
    let w: Vec<i32> = pages.iter().map(|(_, p)| p.info.width as i32).collect();
    let h: Vec<i32> = pages.iter().map(|(_, p)| p.info.height as i32).collect();
    let dpi: Vec<Option<f32>> = pages.iter().map(|(_, p)| p.info.dpi).collect();
    let png: Vec<&[u8]> = pages.iter().map(|(_, p)| p.png.as_slice()).collect();
    sqlx::query(
        "INSERT INTO pages (job_id, page_index, width, height, dpi, raster_png) \
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::real[], $6::bytea[]) \
         ON CONFLICT (job_id, page_index) DO UPDATE SET width = EXCLUDED.width, height = EXCLUDED.height, \
         dpi = EXCLUDED.dpi, raster_png = EXCLUDED.raster_png",
    )
    .bind(&ids)
    .bind(&idx)
    .bind(&w)
    .bind(&h)
    .bind(&dpi)
    .bind(&png)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks jobs finished with their report and writes their events.
async fn finish_jobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    reports: &[(JobId, &Finished)],
) -> Result<(), sqlx::Error> {
    if reports.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reports.iter().map(|(j, _)| j.0).collect();
    let statuses: Vec<&str> = reports.iter().map(|(_, r)| r.status.as_str()).collect();
    let docs: Vec<String> = reports.iter().map(|(_, r)| r.report.to_string()).collect();
    let errors: Vec<Option<&str>> = reports.iter().map(|(_, r)| r.error.as_deref()).collect();
    sqlx::query(
        r#"
        WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, status, report, error)),
        u AS (
            UPDATE jobs j SET status = v.status, report = v.report::jsonb, error = v.error,
                   finished_at = now(), updated_at = now()
            FROM v WHERE j.id = v.id -- coalesce: driven by the ids, see db::claim
              AND coalesce(j.status IN ('queued', 'running'), false)
            RETURNING j.id, j.status, j.error
        )
        INSERT INTO outbox (job_id, exchange, routing_key, payload)
        SELECT u.id, 'drawpipe.events', 'job.' || u.id || '.' || u.status,
               jsonb_build_object('v', 1, 'job_id', u.id, 'kind', u.status, 'status', u.status,
                                  'error', u.error, 'at', now())
        FROM u
        "#,
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&docs)
    .bind(&errors)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn fail_jobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    jobs: &[JobId],
) -> Result<(), sqlx::Error> {
    for job in jobs {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', error = coalesce(error, 'report stage failed'), \
             finished_at = now(), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(job.0)
        .execute(&mut **tx)
        .await?;
        let event = db::job_event(*job, "failed", "failed", Some("report stage failed"));
        db::insert_outbox(
            tx,
            Some(*job),
            topology::EVENTS_EXCHANGE,
            &format!("job.{job}.failed"),
            &event,
        )
        .await?;
    }
    Ok(())
}
