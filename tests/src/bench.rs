//! `drawpipe-bench`: pushes jobs of stages `preprocess,report` on a small PNG (or of
//! `--stages` on a `--file`) through the real dispatcher, RabbitMQ, workers and
//! PostgreSQL, and prints jobs/s and submit-to-completed latency.
//!
//! Run: `cargo run --release -p drawpipe-tests --bin drawpipe-bench -- --jobs 2000`;
//! the ocr stage's worker batches: `... -- --jobs 24 --file
//! tests/fixtures/drawings/BM_part.jpg --stages ocr --worker-args "--gpu-batch-max 4"`.
//! A load run: `... -- --duration-secs 60 --rate 1500` submits at a steady rate for
//! that long (whatever the pipeline keeps up with: queues grow when it does not),
//! probes the dispatcher's `/healthz` every 20 ms meanwhile, and adds the probe's
//! latency, the deepest backlog seen and each process's peak RSS to the figures.
//! It creates its own database and vhost and removes them afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use drawpipe_tests::{tiny_png, EnvOptions, TestEnv};
use sqlx::Row;

#[derive(Parser)]
struct Args {
    /// Jobs to push (default 2000).
    #[arg(long, default_value_t = 2000)]
    jobs: usize,
    /// Concurrent HTTP submitters (default 64).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Worker processes (default 1).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// PNG side in pixels (default 64).
    #[arg(long, default_value_t = 64)]
    size: u32,
    /// Upload as multipart/form-data instead of a raw body.
    #[arg(long)]
    multipart: bool,
    /// Submit this file instead of a generated PNG.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// The jobs' stages (default preprocess,report).
    #[arg(long, default_value = "preprocess,report")]
    stages: String,
    /// Extra arguments for each worker, e.g. "--batch-max 64".
    #[arg(long, default_value = "")]
    worker_args: String,
    /// A load run: submit at `--rate` for this many seconds instead of `--jobs`.
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Jobs per second in a load run (default 1000).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
}

/// What the load run's observers saw while it lasted.
#[derive(Default)]
struct Observed {
    /// `/healthz` answer times, ms; and the probes that failed.
    health_ms: Vec<f64>,
    health_failed: usize,
    /// The most stage runs queued at once.
    deepest: i64,
    /// Peak resident memory per process name, KiB.
    peak_rss_kib: std::collections::BTreeMap<String, u64>,
}

/// Resident memory (VmRSS, KiB) of each process whose name starts with one of `names`.
fn rss_by_process(names: &[&str]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let Some(name) = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .map(str::trim)
        else {
            continue;
        };
        if !names.iter().any(|n| name.starts_with(n)) {
            continue;
        }
        let kib = drawpipe_tests::status_kib(&status, "VmRSS").unwrap_or(0);
        // PostgreSQL runs a process per connection: its largest one stands for it.
        let key = if name.starts_with("postgres") {
            "postgres (largest process)".to_string()
        } else {
            format!("{name}[{}]", e.file_name().to_string_lossy())
        };
        out.push((key, kib));
    }
    out
}

/// Probes `/healthz` every 20 ms and samples the backlog and memory every 250 ms
/// until `stop`.
async fn observe(
    api: String,
    db: sqlx::PgPool,
    stop: tokio_util::sync::CancellationToken,
) -> Observed {
    let mut seen = Observed::default();
    let http = reqwest::Client::new();
    let mut probe = tokio::time::interval(Duration::from_millis(20));
    let mut sample = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = stop.cancelled() => return seen,
            _ = probe.tick() => {
                let t = Instant::now();
                let ok = http
                    .get(format!("{api}/healthz"))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    seen.health_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    seen.health_failed += 1;
                }
            }
            _ = sample.tick() => {
                if let Ok(n) = sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM stage_runs WHERE status = 'queued'",
                )
                .fetch_one(&db)
                .await
                {
                    seen.deepest = seen.deepest.max(n);
                }
                for (name, kib) in rss_by_process(&["drawpipe", "postgres", "beam.smp"]) {
                    let e = seen.peak_rss_kib.entry(name).or_default();
                    *e = (*e).max(kib);
                }
            }
        }
    }
}

/// CPU seconds (user + system) used so far by processes whose name starts with
/// each prefix, read from /proc; a process that exited since is not counted.
fn cpu_by_process(prefixes: &[&str]) -> Vec<f64> {
    let tick = 100.0; // USER_HZ on Linux
    let mut out = vec![0.0; prefixes.len()];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(l), Some(r)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[l + 1..r];
        let f: Vec<&str> = stat[r + 2..].split_whitespace().collect();
        let (Some(u), Some(s)) = (f.get(11), f.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / tick;
        if let Some(i) = prefixes
            .iter()
            .position(|p| name == *p || (p.ends_with('*') && name.starts_with(&p[..p.len() - 1])))
        {
            out[i] += secs;
        }
    }
    out
}

const PROCS: [&str; 5] = [
    "drawpipe-dispat*",
    "drawpipe",
    "postgres",
    "beam.smp",
    "drawpipe-bench",
];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut env = TestEnv::start(EnvOptions::default()).await?;
    let wargs: Vec<&str> = args.worker_args.split_whitespace().collect();
    for _ in 0..args.workers {
        env.spawn_worker(&wargs)?;
    }
    let db = env.db().await;
    let png = match &args.file {
        Some(f) => std::fs::read(f)?,
        None => tiny_png(args.size, args.size, 7),
    };
    let stages: Arc<str> = args.stages.as_str().into();
    let env = Arc::new(env);

    // Warm-up: connections, caches, first compile of statements (and models).
    let warm = if args.file.is_some() { 2 } else { 20 };
    for _ in 0..warm {
        let id = env.submit(png.clone(), "w.png", &stages).await;
        env.wait_finished(&id, Duration::from_secs(300)).await;
    }
    sqlx::query("TRUNCATE jobs CASCADE").execute(&db).await?;

    let cpu_before = cpu_by_process(&PROCS);
    let stop = tokio_util::sync::CancellationToken::new();
    let observer = args
        .duration_secs
        .map(|_| tokio::spawn(observe(env.api.clone(), db.clone(), stop.clone())));
    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // A load run paces job i to start + i / rate and ends at the duration.
    let pace = args
        .duration_secs
        .map(|d| (Duration::from_secs(d), args.rate.max(0.001)));
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let env = env.clone();
        let next = next.clone();
        let png = png.clone();
        let n = args.jobs;
        let multipart = args.multipart;
        let stages = stages.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match pace {
                    Some((duration, rate)) => {
                        let due = Duration::from_secs_f64(i as f64 / rate);
                        if due >= duration {
                            break;
                        }
                        tokio::time::sleep_until((start + due).into()).await;
                    }
                    None if i >= n => break,
                    None => {}
                }
                if multipart {
                    env.submit(png.clone(), "bench.png", &stages).await;
                } else {
                    env.submit_raw(png.clone(), &stages).await;
                }
                sent += 1;
            }
            sent
        }));
    }
    let mut jobs = 0;
    for t in tasks {
        jobs += t.await?;
    }
    let submitted = start.elapsed();
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status IN ('completed', 'partial', 'failed', 'cancelled')")
            .fetch_one(&db)
            .await?;
        if done as usize >= jobs {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(900),
            "only {done} of {jobs} jobs finished in 900 s"
        );
        // The figures come from the rows' timestamps; this poll only ends the wait
        // (a count over a large table: not too often, it loads PostgreSQL).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu_after = cpu_by_process(&PROCS);
    stop.cancel();
    let observed = match observer {
        Some(o) => Some(o.await?),
        None => None,
    };
    let rows = sqlx::query(
        "SELECT status, (extract(epoch FROM finished_at - created_at) * 1000)::float8, \
         extract(epoch FROM (SELECT max(finished_at) - min(created_at) FROM jobs))::float8 FROM jobs",
    )
    .fetch_all(&db)
    .await?;
    let count = |status: &str| {
        rows.iter()
            .filter(|r| r.get::<String, _>(0) == status)
            .count()
    };
    let completed = count("completed");
    let (partial, failed, cancelled) = (count("partial"), count("failed"), count("cancelled"));
    let mut lat: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.try_get::<f64, _>(1).ok())
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let span: f64 = rows
        .first()
        .and_then(|r| r.try_get::<f64, _>(2).ok())
        .unwrap_or(f64::NAN);
    println!(
        "jobs: {jobs} (completed {completed}, partial {partial}, failed {failed}, cancelled {cancelled}), stages {stages}, {} ({} bytes)",
        args.file
            .as_ref()
            .map_or(format!("{}x{} PNG", args.size, args.size), |f| f
                .display()
                .to_string()),
        png.len()
    );
    println!(
        "workers: {} process(es) {:?}; submitters: {}",
        args.workers, args.worker_args, args.concurrency
    );
    println!(
        "submit rate (HTTP 202s): {:.0} jobs/s over {:.2} s",
        jobs as f64 / submitted.as_secs_f64(),
        submitted.as_secs_f64()
    );
    // Only completed jobs count: a failed or cancelled job did not do the work.
    let rate = completed as f64 / span;
    // Whole drawings take seconds each: give those runs per hour, not `0 jobs/s`.
    let shown = if rate < 10.0 {
        format!(
            "{rate:.3} jobs/s ({:.0} per hour, {:.2} s each)",
            rate * 3600.0,
            1.0 / rate.max(1e-9)
        )
    } else {
        format!("{rate:.0} jobs/s")
    };
    println!(
        "throughput (completed jobs, first created → last finished): {shown} over {:.2} s",
        span
    );
    println!(
        "submit-to-completed latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    let total: f64 = cpu_before.iter().zip(&cpu_after).map(|(b, a)| a - b).sum();
    println!(
        "cpu seconds during the run (share): {}",
        PROCS
            .iter()
            .zip(cpu_before.iter().zip(&cpu_after))
            .map(|(n, (b, a))| format!(
                "{} {:.2} ({:.0}%)",
                n.trim_end_matches('*'),
                a - b,
                100.0 * (a - b) / total
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Per completed job, split by owner: drawpipe's own processes (dispatcher and
    // workers), PostgreSQL, RabbitMQ; the bench's client apart.
    let used = |names: &[&str]| -> f64 {
        PROCS
            .iter()
            .zip(cpu_before.iter().zip(&cpu_after))
            .filter(|(n, _)| names.contains(n))
            .map(|(_, (b, a))| a - b)
            .sum()
    };
    let per_job = |secs: f64| 1000.0 * secs / completed.max(1) as f64;
    println!(
        "cpu per completed job, ms: drawpipe {:.2}  postgresql {:.2}  rabbitmq {:.2}  (bench client {:.2}; all {:.2})",
        per_job(used(&["drawpipe-dispat*", "drawpipe"])),
        per_job(used(&["postgres"])),
        per_job(used(&["beam.smp"])),
        per_job(used(&["drawpipe-bench"])),
        per_job(total)
    );
    if let Some(mut o) = observed {
        o.health_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "load run: {:.0} jobs/s asked for {} s; deepest backlog {} stage runs queued",
            args.rate,
            args.duration_secs.unwrap_or(0),
            o.deepest
        );
        println!(
            "/healthz while it ran: {} probes, {} failed; ms p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
            o.health_ms.len() + o.health_failed,
            o.health_failed,
            percentile(&o.health_ms, 0.5),
            percentile(&o.health_ms, 0.95),
            percentile(&o.health_ms, 0.99),
            o.health_ms.last().copied().unwrap_or(f64::NAN)
        );
        println!(
            "peak RSS, MiB: {}",
            o.peak_rss_kib
                .iter()
                .map(|(n, k)| format!("{n} {:.0}", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
