//! Drawings submitted over HTTP reach `completed` with the right rows; idempotency,
//! cancellation and SSE progress.

use std::time::Duration;

use drawpipe_tests::{fixture, EnvOptions, TestEnv};
use futures::StreamExt;
use serde_json::Value;
use sqlx::Row;

/// A fixture drawing: file, media type, page sizes.
type Drawing = (&'static str, &'static str, &'static [(i32, i32)]);

pub const DRAWINGS: [Drawing; 3] = [
    ("example_dwg.png", "image/png", &[(3308, 2339)]),
    ("Candle_holder.jpg", "image/jpeg", &[(1653, 2339)]),
    (
        "two_pages.pdf",
        "application/pdf",
        &[(2481, 3508), (2481, 3508)],
    ),
];

/// Checks the rows a completed `preprocess,report` job leaves.
pub async fn assert_completed_rows(env: &TestEnv, id: &str, media: &str, pages: &[(i32, i32)]) {
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let job = sqlx::query("SELECT j.status, d.media_type, j.report, j.finished_at IS NOT NULL FROM jobs j JOIN drawings d ON d.sha256 = j.drawing_sha256 WHERE j.id = $1")
        .bind(uuid)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(job.get::<String, _>(0), "completed");
    assert_eq!(job.get::<String, _>(1), media);
    assert!(job.get::<bool, _>(3));
    let runs = sqlx::query(
        "SELECT stage, status, attempts FROM stage_runs WHERE job_id = $1 ORDER BY stage",
    )
    .bind(uuid)
    .fetch_all(&db)
    .await
    .unwrap();
    let runs: Vec<(String, String, i32)> = runs
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (stage, status, attempts) in &runs {
        assert_eq!(status, "succeeded", "{stage}");
        assert!(*attempts >= 1, "{stage}");
    }
    let rows = sqlx::query("SELECT page_index, width, height, length(raster_png) FROM pages WHERE job_id = $1 ORDER BY page_index")
        .bind(uuid)
        .fetch_all(&db)
        .await
        .unwrap();
    let got: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(1), r.get(2))).collect();
    assert_eq!(got, pages, "page sizes of {id}");
    for r in &rows {
        assert!(r.get::<i32, _>(3) > 1000, "raster stored");
    }
    let report: Value = job.get(2);
    assert_eq!(report["status"], "completed");
    assert_eq!(report["pages"].as_array().unwrap().len(), pages.len());
    assert_eq!(report["pages"][0]["width"], pages[0].0);
    assert_eq!(report["drawing"]["media_type"], media);
    assert_eq!(report["stages"]["preprocess"]["status"], "succeeded");
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE job_id = $1")
        .bind(uuid)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(outbox, 0, "outbox drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_jobs_complete_with_rows_and_result() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    let mut ids = vec![];
    for (name, media, pages) in DRAWINGS {
        let id = env
            .submit(
                std::fs::read(fixture(name)).unwrap(),
                name,
                "preprocess,report",
            )
            .await;
        ids.push((id, media, pages));
    }
    for (id, media, pages) in &ids {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{body}");
        assert_completed_rows(&env, id, media, pages).await;
        let (code, result) = env.get(&format!("/v1/jobs/{id}/result")).await;
        assert_eq!(code, 200);
        assert_eq!(result["job_id"], id.as_str());
        assert_eq!(result["pages"].as_array().unwrap().len(), pages.len());
    }
    // Listing shows them, newest first, filterable by status.
    let (code, list) = env.get("/v1/jobs?status=completed&limit=2").await;
    assert_eq!(code, 200, "{list}");
    let items = list["jobs"].as_array().expect("jobs array");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], ids[2].0.as_str());
    // The summary view people query.
    let db = env.db().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM job_summary WHERE status = 'completed' AND stages_succeeded = 2",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_idempotency_key_gives_one_job() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let bytes = std::fs::read(fixture("example_dwg.png")).unwrap();
    let (c1, b1) = env
        .submit_bytes(bytes.clone(), "a.png", Some("preprocess"), Some("order-17"))
        .await;
    let (c2, b2) = env
        .submit_bytes(bytes, "a.png", Some("preprocess"), Some("order-17"))
        .await;
    assert_eq!(c1, 202, "{b1}");
    assert!(c2 == 200 || c2 == 202, "{b2}");
    assert_eq!(b1["id"], b2["id"]);
    let db = env.db().await;
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM stage_runs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(outbox, 2, "one set of stage runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_job_stops() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    // No worker yet: the job waits in the queue, then is cancelled.
    let id = env
        .submit(
            std::fs::read(fixture("Candle_holder.jpg")).unwrap(),
            "c.jpg",
            "preprocess",
        )
        .await;
    let resp = env
        .http()
        .delete(format!("{}/v1/jobs/{id}", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let again = env
        .http()
        .delete(format!("{}/v1/jobs/{id}", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status().as_u16(),
        409,
        "a finished job cannot be cancelled again"
    );
    // A worker now receives the message and must not compute.
    env.spawn_worker(&[]).unwrap();
    let other = env
        .submit(
            std::fs::read(fixture("example_dwg.png")).unwrap(),
            "e.png",
            "preprocess",
        )
        .await;
    let body = env.wait_finished(&other, Duration::from_secs(60)).await;
    assert_eq!(body["status"], "completed");
    let body = env.wait_finished(&id, Duration::from_secs(5)).await;
    assert_eq!(body["status"], "cancelled");
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let rows = sqlx::query("SELECT stage, status, attempts FROM stage_runs WHERE job_id = $1")
        .bind(uuid)
        .fetch_all(&db)
        .await
        .unwrap();
    for r in rows {
        assert_eq!(r.get::<String, _>(1), "cancelled");
        assert_eq!(r.get::<i32, _>(2), 0, "no attempt was made");
    }
    let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE job_id = $1")
        .bind(uuid)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(pages, 0);
    let (code, _) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_ne!(code, 200, "a cancelled job has no result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_shows_each_stage_start_and_end() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let id = env
        .submit(
            std::fs::read(fixture("example_dwg.png")).unwrap(),
            "e.png",
            "preprocess,report",
        )
        .await;
    let resp = env
        .http()
        .get(format!("{}/v1/jobs/{id}/events", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    env.spawn_worker(&[]).unwrap();
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains("event: job") && text.trim_end().ends_with('}') {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("SSE stream ends with the job event");
    let events: Vec<(String, Value)> = text
        .split("\n\n")
        .filter_map(|block| {
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))?
                .trim()
                .to_string();
            let data = block.lines().find_map(|l| l.strip_prefix("data:"))?.trim();
            Some((event, serde_json::from_str(data).ok()?))
        })
        .collect();
    for stage in ["preprocess", "report"] {
        let statuses: Vec<&str> = events
            .iter()
            .filter(|(e, d)| e == "stage" && d["stage"] == stage)
            .filter_map(|(_, d)| d["status"].as_str())
            .collect();
        let start = statuses.iter().position(|s| *s == "running");
        let end = statuses.iter().position(|s| *s == "succeeded");
        assert!(
            start.is_some() && end.is_some() && start < end,
            "{stage}: {statuses:?}\n{text}"
        );
    }
    let last = events.last().unwrap();
    assert_eq!(last.0, "job");
    assert_eq!(last.1["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocr_job_stores_text_lines() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    let bytes = std::fs::read(fixture("Candle_holder.jpg")).unwrap();
    let id = env.submit(bytes, "Candle_holder.jpg", "ocr").await;
    let body = env.wait_finished(&id, Duration::from_secs(300)).await;
    assert_eq!(body["status"], "completed", "{body}");
    let ocr = body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "ocr")
        .unwrap()
        .clone();
    assert_eq!(ocr["status"], "succeeded");
    assert_eq!(ocr["device"], "cpu");
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let rows = sqlx::query("SELECT text, confidence, polygon, x, y, width, height FROM text_lines WHERE job_id = $1 ORDER BY line_index")
        .bind(uuid)
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(rows.len() >= 15, "{} lines", rows.len());
    let texts: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    // The part number and the title from the title block (read in full) and the
    // height dimension `38`, whose ground-truth box is 149,1062–182,1109.
    assert!(texts.iter().any(|t| t.contains("2022001")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("Ljushållare")), "{texts:?}");
    let found_38 = rows.iter().any(|r| {
        let (t, x, y, w, h): (String, f32, f32, f32, f32) =
            (r.get(0), r.get(3), r.get(4), r.get(5), r.get(6));
        t.trim() == "38"
            && (x - 149.0).abs() < 12.0
            && (y - 1062.0).abs() < 12.0
            && (x + w - 182.0).abs() < 12.0
            && (y + h - 1109.0).abs() < 12.0
    });
    assert!(
        found_38,
        "the dimension 38 at its ground-truth box: {texts:?}"
    );
    for r in &rows {
        let poly: Vec<f32> = r.get(2);
        assert_eq!(poly.len(), 8);
        let c: f32 = r.get(1);
        assert!((0.0..=1.0).contains(&c));
    }
    let (_, report) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(report["text"].as_array().unwrap().len(), rows.len());
    assert!(report.get("_timings").is_none());
}

/// Three `ocr` jobs queued before the worker starts reach it as one batch (it waits
/// up to 2 s to fill a batch of 4) and are read with fused inference: all three
/// ocr runs carry the batch's one duration, and the two jobs of the same drawing
/// store the same lines as each other, as reading alone does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocr_jobs_in_one_batch_are_read_fused_and_alike() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let candle = std::fs::read(fixture("Candle_holder.jpg")).unwrap();
    let bm = std::fs::read(fixture("BM_part.jpg")).unwrap();
    let ids = [
        env.submit(candle.clone(), "Candle_holder.jpg", "ocr").await,
        env.submit(bm, "BM_part.jpg", "ocr").await,
        env.submit(candle, "Candle_holder.jpg", "ocr").await,
    ];
    env.spawn_worker(&["--gpu-batch-max", "4", "--gpu-batch-wait-ms", "2000"])
        .unwrap();
    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(300)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let db = env.db().await;
    let uuids: Vec<uuid::Uuid> = ids.iter().map(|i| i.parse().unwrap()).collect();
    let durations: Vec<f64> = sqlx::query_scalar(
        "SELECT duration_ms FROM stage_runs WHERE stage = 'ocr' AND job_id = ANY($1)",
    )
    .bind(&uuids)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(durations.len(), 3);
    assert!(
        durations.iter().all(|d| *d > 0.0 && *d == durations[0]),
        "one fused batch charges each job its wall time: {durations:?}"
    );
    let lines = |id: uuid::Uuid| {
        let db = db.clone();
        async move {
            sqlx::query_as::<_, (String, Vec<f32>)>(
                "SELECT text, polygon FROM text_lines WHERE job_id = $1 ORDER BY line_index",
            )
            .bind(id)
            .fetch_all(&db)
            .await
            .unwrap()
        }
    };
    let (a, b, c) = (
        lines(uuids[0]).await,
        lines(uuids[1]).await,
        lines(uuids[2]).await,
    );
    assert!(a.len() >= 40, "{} lines", a.len());
    assert_eq!(a, c, "the same drawing in one batch reads alike");
    assert!(
        b.len() >= 40 && b != a,
        "BM_part reads its own {} lines",
        b.len()
    );
    assert!(a.iter().any(|(t, _)| t.contains("2022001")), "{a:?}");
}

/// The overlay through the API: a PNG at the page's size with each dimension's box
/// drawn in the dimension colour on its left edge (blue, half-way down; or red,
/// dashed, at its corner when it is to be reviewed), the title block found in `layout`, and the SVG with one mark per dimension
/// that names its row.
async fn assert_overlay(env: &TestEnv, id: &str, report: &serde_json::Value) {
    let http = env.http();
    let res = http
        .get(format!("{}/v1/jobs/{id}/overlay.png", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
        .read_info()
        .unwrap();
    let mut px = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut px).unwrap();
    assert_eq!((info.width, info.height), (1653, 2339));
    let step = info.line_size / info.width as usize;
    let at = |x: u32, y: u32| {
        let o = y as usize * info.line_size + x as usize * step;
        (px[o], px[o + 1], px[o + 2])
    };
    let dims = report["dimensions"].as_array().unwrap();
    for d in dims {
        let b: Vec<f64> = serde_json::from_value(d["bbox"].clone()).unwrap();
        let x = b[0].round() as u32;
        // A box to review is dashed from its top-left corner: look at the first dash.
        let (y, colour) = if d["confidence"].as_f64().unwrap() < 0.9 {
            (b[1].round() as u32, (230, 0, 0))
        } else {
            ((b[1] + b[3] / 2.0).round() as u32, (0, 100, 255))
        };
        assert_eq!(at(x, y), colour, "the box of {} at ({x}, {y})", d["raw"]);
    }
    assert!(
        report["layout"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "title_block"),
        "{}",
        report["layout"]
    );
    let svg = env.get_text(&format!("/v1/jobs/{id}/overlay.svg")).await;
    assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    assert_eq!(svg.matches(r#"data-kind="dimensions""#).count(), dims.len());
    // No page 5.
    let res = http
        .get(format!("{}/v1/jobs/{id}/overlay.png?page=5", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edocr_and_tolerance_job_stores_dimensions_title_block_and_predictions() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    let bytes = std::fs::read(fixture("Candle_holder.jpg")).unwrap();
    // `tolerance` pulls in edocr, ocr and preprocess.
    let id = env.submit(bytes, "Candle_holder.jpg", "tolerance").await;
    let body = env.wait_finished(&id, Duration::from_secs(600)).await;
    assert_eq!(body["status"], "completed", "{body}");
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let dims = sqlx::query(
        "SELECT raw, kind, nominal, upper, lower, fit FROM dimensions WHERE job_id = $1",
    )
    .bind(uuid)
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(dims.len() >= 10, "{} dimensions", dims.len());
    type Row = (
        String,
        String,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<String>,
    );
    let dims: Vec<Row> = dims
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
    assert!(
        dims.iter()
            .any(|d| d.1 == "diameter" && close(d.2, 21.5) && close(d.3, 0.1) && close(d.4, -0.1)),
        "Ø21,5±0,1 as a diameter 21.5 +0.1/-0.1: {dims:?}"
    );
    assert!(
        dims.iter().any(|d| d.1 == "diameter"
            && close(d.2, 38.0)
            && d.5.as_deref() == Some("H12")
            && close(d.3, 0.25)
            && close(d.4, 0.0)),
        "Ø38H12 with its ISO 286 deviations: {dims:?}"
    );
    let number: Option<String> =
        sqlx::query_scalar("SELECT drawing_number FROM title_blocks WHERE job_id = $1")
            .bind(uuid)
            .fetch_optional(&db)
            .await
            .unwrap()
            .flatten();
    assert_eq!(number.as_deref(), Some("2022001"));
    let (_, report) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(report["dimensions"].as_array().unwrap().len(), dims.len());
    assert_eq!(report["title_block"]["drawing_number"], "2022001");
    assert!(report.get("_regions").is_none());
    assert_overlay(&env, &id, &report).await;

    // The tolerance prediction, from those dimensions: the largest diameter read is
    // Ø42 and the tightest tolerance Ø21,5±0,1's 0.2 mm; no process was given and the
    // part is rotational, so turning; the material "SS 1914" (a Swedish steel) matches steel.
    let t = sqlx::query(
        "SELECT flatness_mm, cylindricity_mm, position_mm, perpendicularity_mm, manufacturability, \
         difficulty, assemblability, material, material_source, process, process_source, features \
         FROM tolerance_predictions WHERE job_id = $1",
    )
    .bind(uuid)
    .fetch_one(&db)
    .await
    .unwrap();
    let features: serde_json::Value = t.get(11);
    assert_eq!(features["tightest_tolerance_mm"], 0.2, "{features}");
    assert!(
        features["largest_diameter_mm"].as_f64().unwrap() >= 38.0,
        "{features}"
    );
    assert_eq!(
        (t.get::<String, _>(9), t.get::<String, _>(10)),
        ("turning".into(), "default".into())
    );
    assert_eq!(
        (t.get::<String, _>(7), t.get::<String, _>(8)),
        ("steel".into(), "title_block".into())
    );
    for i in 0..4 {
        let v: f64 = t.get(i);
        // Turning a ~40 mm steel part: form and position in the hundredths of a mm.
        assert!((0.002..0.2).contains(&v), "column {i}: {v}");
    }
    let m: f64 = t.get(4);
    assert!((0.0..=1.0).contains(&m));
    assert_eq!(
        t.get::<String, _>(5),
        report["tolerances"]["manufacturability"]["difficulty"]
            .as_str()
            .unwrap()
    );
    assert_eq!(report["tolerances"]["process"]["name"], "turning");

    // The inspection plan: Ø21,5±0,1 measured 21.4–21.6, Ø38 H12 38.000–38.250
    // with a plug gauge; in the report, the table and the FAI-ordered CSV alike.
    let qc = report["qc"].as_array().expect("the report's qc key");
    let item = |raw: &str| {
        qc.iter()
            .find(|i| i["raw"].as_str().unwrap().replace(' ', "") == raw)
            .unwrap_or_else(|| panic!("no QC item for {raw}: {qc:?}"))
            .clone()
    };
    let fit = item("Ø38H12");
    assert_eq!(
        (fit["lower_limit"].as_f64(), fit["upper_limit"].as_f64()),
        (Some(38.0), Some(38.25))
    );
    assert!(
        fit["method"].as_str().unwrap().starts_with("plug gauge"),
        "{fit}"
    );
    let sym = item("Ø21,5±0,1");
    assert_eq!(
        (sym["lower_limit"].as_f64(), sym["upper_limit"].as_f64()),
        (Some(21.4), Some(21.6))
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM qc_items WHERE job_id = $1")
        .bind(uuid)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows as usize, qc.len());
    let csv = env
        .http()
        .get(format!("{}/v1/jobs/{id}/qc.csv", env.api))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("balloon,characteristic,nominal,unit,tolerance,lower_limit,upper_limit,method,sampling,raw")
    );
    assert!(
        csv.lines()
            .any(|l| l.contains(",diameter,38,mm,H12 (+0.25/0),38,38.25,plug gauge")),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), qc.len() + 1);

    // The estimate: at the rate card's quantities, each breakdown summing to its price,
    // the setup shared so that a part costs less in a larger batch; stored per quantity.
    let quantities = report["estimate"]["quantities"]
        .as_array()
        .expect("the estimate");
    let prices: Vec<(u64, f64, f64)> = quantities
        .iter()
        .map(|q| {
            let lines: f64 = q["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["amount"].as_f64().unwrap())
                .sum();
            let unit = q["unit_price"].as_f64().unwrap();
            assert!(
                (lines - unit).abs() < 0.005,
                "breakdown {lines} vs {unit}: {q}"
            );
            (
                q["quantity"].as_u64().unwrap(),
                unit,
                q["total"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(prices.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 10, 100]);
    assert!(
        prices[0].1 > prices[1].1 && prices[1].1 > prices[2].1,
        "{prices:?}"
    );
    let stored: Vec<(i32, f64)> =
        sqlx::query_as("SELECT quantity, total FROM estimates WHERE job_id = $1 ORDER BY quantity")
            .bind(uuid)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(stored.len(), 3);
    assert!((stored[2].1 - prices[2].2).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_job_stores_per_page_class_counts() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&["--stages", "preprocess,segment,report"])
        .unwrap();
    let bytes = std::fs::read(fixture("BM_part.jpg")).unwrap();
    // By default the report carries the counts only; the component list on request.
    let counts_only = env.submit(bytes.clone(), "BM_part.jpg", "segment").await;
    let id = env
        .submit_with_options(
            bytes,
            "BM_part.jpg",
            "segment",
            r#"{"segment": {"components": true}}"#,
        )
        .await;
    let body = env.wait_finished(&id, Duration::from_secs(300)).await;
    assert_eq!(body["status"], "completed", "{body}");
    env.wait_finished(&counts_only, Duration::from_secs(300))
        .await;
    let (_, small) = env.get(&format!("/v1/jobs/{counts_only}/result")).await;
    assert!(small["segments"][0]["components"].as_u64().unwrap() > 500);
    assert!(
        small["segments"][0].get("items").is_none(),
        "{}",
        small["segments"][0]
    );
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let row = sqlx::query(
        "SELECT page_index, components, edges, average_degree, contour, text, dimension \
         FROM segments WHERE job_id = $1",
    )
    .bind(uuid)
    .fetch_one(&db)
    .await
    .unwrap();
    let (components, edges): (i32, i32) = (row.get(1), row.get(2));
    let (contour, text, dimension): (i32, i32, i32) = (row.get(4), row.get(5), row.get(6));
    assert_eq!(row.get::<i32, _>(0), 0);
    assert!(components > 500, "{components} components");
    assert_eq!(contour + text + dimension, components);
    // Every class is present and none swallows the page.
    for k in [contour, text, dimension] {
        assert!(
            k > 0 && k * 10 < components * 9,
            "{contour}/{text}/{dimension}"
        );
    }
    let degree: f32 = row.get(3);
    assert!((degree - 2.0 * edges as f32 / components as f32).abs() < 1e-3);
    let (_, report) = env.get(&format!("/v1/jobs/{id}/result")).await;
    let page = &report["segments"][0];
    assert_eq!(page["components"], components);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), components as usize);
    assert!(items
        .iter()
        .all(|i| i["bbox"].as_array().unwrap().len() == 4
            && ["contour", "text", "dimension"].contains(&i["class"].as_str().unwrap())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_job_stores_detections() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&["--stages", "preprocess,detect,report"])
        .unwrap();
    let bytes = std::fs::read(fixture("BM_part.jpg")).unwrap();
    let id = env
        .submit_with_options(
            bytes,
            "BM_part.jpg",
            "detect",
            r#"{"detect": {"confidence": 0.25}}"#,
        )
        .await;
    let body = env.wait_finished(&id, Duration::from_secs(300)).await;
    assert_eq!(body["status"], "completed", "{body}");
    let db = env.db().await;
    let uuid: uuid::Uuid = id.parse().unwrap();
    let rows = sqlx::query(
        "SELECT class_id, class_name, confidence, x, y, width, height FROM detections \
         WHERE job_id = $1 ORDER BY item_index",
    )
    .bind(uuid)
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(rows.len() >= 5, "{} detections", rows.len());
    let (w, h) = (3308.0f32, 2339.0f32);
    let mut dimension_like = 0;
    for r in &rows {
        let (class_id, name, conf): (i32, String, f32) = (r.get(0), r.get(1), r.get(2));
        let (x, y, bw, bh): (f32, f32, f32, f32) = (r.get(3), r.get(4), r.get(5), r.get(6));
        assert!((0..14).contains(&class_id));
        assert!((0.25..=1.0).contains(&conf), "{conf}");
        assert!(
            x >= 0.0 && y >= 0.0 && bw > 0.0 && bh > 0.0 && x + bw <= w + 1.0 && y + bh <= h + 1.0
        );
        assert!(!name.is_empty());
        if class_id <= 6 {
            dimension_like += 1;
        }
    }
    assert!(dimension_like >= 5, "{dimension_like} dimension detections");
    let (_, report) = env.get(&format!("/v1/jobs/{id}/result")).await;
    assert_eq!(report["detections"].as_array().unwrap().len(), rows.len());
}

/// README command 1's output: a short summary a person can read, with the dimensions
/// the drawing carries; the full report on `--json`.
#[test]
fn analyze_prints_a_short_summary_and_json_on_request() {
    let bin = drawpipe_tests::bin_dir().join("drawpipe");
    let file = drawpipe_tests::fixture("Candle_holder.jpg");
    let out = std::process::Command::new(&bin)
        .arg("analyze")
        .arg(&file)
        .env("DRAWPIPE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() < 60, "{text}");
    assert!(text.starts_with("Candle_holder.jpg: completed"), "{text}");
    let row = text
        .lines()
        .find(|l| l.contains("Ø21,5±0,1"))
        .unwrap_or_else(|| panic!("no Ø21,5±0,1 row in\n{text}"));
    assert!(
        row.contains("diameter") && row.contains("+0.1") && row.contains("-0.1"),
        "{row}"
    );
    // The inspection plan and the estimate, in short.
    assert!(
        text.lines()
            .any(|l| l.contains("Ø38 H12") && l.contains("38 – 38.25") && l.contains("plug gauge")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("estimate: ") && l.contains("each for 100")),
        "{text}"
    );
    // With --overlay, the page with what was read drawn on it, at the page's size.
    let overlays = std::env::temp_dir().join(format!("drawpipe-overlay-{}", std::process::id()));
    let out = std::process::Command::new(&bin)
        .args(["analyze", "--json", "--stages", "edocr", "--overlay"])
        .arg(&overlays)
        .arg(&file)
        .env("DRAWPIPE_LOG", "warn")
        .output()
        .unwrap();
    let png = std::fs::read(overlays.join("Candle_holder.overlay.png")).unwrap();
    let _ = std::fs::remove_dir_all(&overlays);
    assert_eq!(&png[1..4], b"PNG");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1653, 2339));
    assert!(matches!(png[25], 2 | 6), "a colour (RGB or RGBA) image");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["raw"] == "Ø21,5±0,1" && d["source"] == "ocr"));
}

/// A DXF upload through the queue: sniffed as DXF, its DIMENSION entities read into
/// `dimensions` rows from the file's own text (`source` text_layer), its ATTRIBs into
/// the `title_blocks` row, a page raster stored for the stages that need pixels, and
/// a hole table's sizes stored with their column (`table_column`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dxf_job_stores_the_files_own_dimensions_and_title_block() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    let dir = drawpipe_tests::workspace().join("tests/fixtures/dxf");
    let dims = std::fs::read(dir.join("dimension.dxf")).unwrap();
    let tb = std::fs::read(dir.join("title_block.dxf")).unwrap();
    let holes = std::fs::read(dir.join("hole_table.dxf")).unwrap();
    let a = env.submit(dims, "dimension.dxf", "edocr").await;
    let b = env.submit(tb, "title_block.dxf", "edocr").await;
    let c = env.submit(holes, "hole_table.dxf", "edocr").await;
    let db = env.db().await;
    for id in [&a, &b, &c] {
        let body = env.wait_finished(id, Duration::from_secs(300)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let uuid = |id: &str| id.parse::<uuid::Uuid>().unwrap();
    let media: String = sqlx::query_scalar(
        "SELECT d.media_type FROM jobs j JOIN drawings d ON d.sha256 = j.drawing_sha256 WHERE j.id = $1",
    )
    .bind(uuid(&a))
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(media, "image/vnd.dxf");
    let mut rows: Vec<(String, f64, Option<f64>, String)> =
        sqlx::query_as("SELECT raw, nominal, upper, source FROM dimensions WHERE job_id = $1")
            .bind(uuid(&a))
            .fetch_all(&db)
            .await
            .unwrap();
    rows.sort_by(|x, y| x.0.cmp(&y.0));
    let raws: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(raws, ["20.0", "42.5", "45.0°", "R5.0", "Ø12.00±0.02"]);
    assert_eq!(rows[4].2, Some(0.02));
    assert!(rows.iter().all(|r| r.3 == "text_layer"), "{rows:?}");
    let pages: i64 = sqlx::query_scalar("SELECT count(*) FROM pages WHERE job_id = $1")
        .bind(uuid(&a))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(pages, 1);
    let (number, material): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT drawing_number, material FROM title_blocks WHERE job_id = $1")
            .bind(uuid(&b))
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(number.as_deref(), Some("DP-0042"));
    assert_eq!(material.as_deref(), Some("EN AW-6082"));
    // A hole table's sizes are rows with their column's header.
    let mut columns: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT raw, table_column FROM dimensions WHERE job_id = $1")
            .bind(uuid(&c))
            .fetch_all(&db)
            .await
            .unwrap();
    columns.sort();
    let col = |raw: &str, c: Option<&str>| (raw.to_string(), c.map(str::to_string));
    assert_eq!(
        columns,
        [
            col("12.5", Some("X LOC")),
            col("25", None),
            col("40", Some("X LOC")),
            col("8", Some("Y LOC")),
            col("8", Some("Y LOC")),
            col("Ø6.6", Some("SIZE")),
            col("Ø6.6", Some("SIZE")),
        ]
    );
}

/// Concurrent submissions, which the dispatcher stores in batches (group commit),
/// each get their own job, stage runs and result, and a drawing sent by several of
/// them is stored once (how the batches fell is not observed here). A job the
/// database refuses inside a batch given to `store_batch` fails alone, and a NUL in
/// the options is refused at the door with 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_are_stored_together_and_a_refused_job_fails_alone() {
    use drawpipe_dispatcher::batch;
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    // 48 submissions at once, of 12 distinct drawings.
    let env_ref = &env;
    let ids: Vec<String> = futures::future::join_all((0..48u8).map(|i| async move {
        env_ref
            .submit_raw(
                drawpipe_tests::tiny_png(32, 24, i % 12),
                "preprocess,report",
            )
            .await
    }))
    .await;
    for id in &ids {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let db = env.db().await;
    let (jobs, runs, drawings): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM stage_runs WHERE status = 'succeeded'), \
         (SELECT count(*) FROM drawings)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((jobs, runs, drawings), (48, 96, 12));

    // A batch with a job PostgreSQL refuses (jsonb cannot hold U+0000; the HTTP and
    // AMQP intake refuse it first, so it is built here): the other two are stored
    // and complete; the refused one is not stored at all.
    let plan = drawpipe_core::StagePlan::parse("preprocess,report").unwrap();
    let job = |n: u8, options: Value| {
        let content = drawpipe_tests::tiny_png(16, 16, 100 + n);
        batch::Job {
            id: drawpipe_core::JobId::new(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content)),
            media_type: "image/png",
            content: bytes::Bytes::from(content),
            filename: Some(format!("batch-{n}.png")),
            requested: vec!["preprocess".into()],
            plan: plan.clone(),
            options,
            priority: 0,
            idempotency_key: None,
            api_key_id: None,
            source: "http".into(),
        }
    };
    let jobs = [
        job(1, serde_json::json!({})),
        job(2, serde_json::json!({"vl": {"prompt": "a\u{0}b"}})),
        job(3, serde_json::json!({})),
    ];
    let results = batch::store_batch(&db, &jobs).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let refused = results[1].as_ref().expect_err("the NUL job is refused");
    assert!(
        matches!(refused, sqlx::Error::Database(_)),
        "the database's own refusal: {refused}"
    );
    for j in [&jobs[0], &jobs[2]] {
        let body = env
            .wait_finished(&j.id.to_string(), Duration::from_secs(120))
            .await;
        assert_eq!(body["status"], "completed", "{body}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = $1")
        .bind(jobs[1].id.0)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    // Over HTTP the same options are a client error, not a database failure.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(drawpipe_tests::tiny_png(8, 8, 7)).file_name("n.png"),
        )
        .text("options", r#"{"vl": {"prompt": "a\u0000b"}}"#);
    let resp = env
        .http()
        .post(format!("{}/v1/jobs", env.api))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.to_string().contains("NUL character"),
        "the reason is given: {body}"
    );
}
