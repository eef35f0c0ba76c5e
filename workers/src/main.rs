//! `drawpipe`: analyse drawings in-process, run a worker, or talk to a dispatcher.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use drawpipe_core::{Pool, Stage, StagePlan};
use drawpipe_workers::{client::Client, local, runtime, stages::preprocess};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "drawpipe",
    version,
    about = "Read engineering drawings: analyse locally, run a worker, or talk to a dispatcher"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` (the default) or `json` (one object per line).
    #[arg(
        long,
        env = "DRAWPIPE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: drawpipe_core::logging::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse drawings in-process (no broker, no database) and print what was read:
    /// a short summary per drawing (the default), the full report JSON (`--json`), or
    /// the dimensions as CSV.
    Analyze {
        /// Drawings (PNG, JPEG, TIFF, BMP, PDF or DXF).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Comma-separated stages; default: every available stage.
        #[arg(long, default_value = "")]
        stages: String,
        /// Also write the full report, `<name>.json`, per drawing into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print: `table` (a summary), `json` (the full report) or `csv`
        /// (the dimensions).
        #[arg(long, value_enum, default_value = "table")]
        format: drawpipe_workers::summary::Format,
        /// Print the full report JSON (the same as `--format json`).
        #[arg(long)]
        json: bool,
        /// With `--out`: also write `<name>.stages.json`, every stage's full output
        /// (what the report leaves out too: the page layout, the lines that made no
        /// dimension and why, timings).
        #[arg(long, requires = "out")]
        stage_outputs: bool,
        /// Also draw what was read over each page into this folder:
        /// `<name>.overlay.png` (`<name>.p<N>.overlay.png` for page N of a multi-page
        /// drawing), dimensions labelled with value and tolerance, GD&T, detections.
        #[arg(long)]
        overlay: Option<PathBuf>,
    },
    /// Score the edocr stage against ground truth: every image in DIR with a
    /// `<stem>.csv` beside it (eDOCr2 format: 8 corner coordinates, then the text;
    /// `other_info` marks non-dimensions). Prints precision, recall, CER and the
    /// errors by kind; given several sets (`tune=DIR check=DIR`), also all of them
    /// side by side.
    Eval {
        /// `DIR` or `NAME=DIR`, one or more.
        #[arg(required = true)]
        dirs: Vec<String>,
        /// Read PDF pages from their pixels even where the PDF has a usable text layer
        /// (the raster-only figure, for comparison).
        #[arg(long)]
        raster_only: bool,
    },
    /// OCR errors with their true text, from CAD-exported PDFs: each page with a
    /// usable text layer is also read from its pixels, and the lines the pixels
    /// misread are written into DIR as training data for the callout recogniser
    /// (the page and eDOCr2 ground truth, `crops/`, `harvest.tsv`).
    Harvest {
        /// PDFs with a text layer (others are read and skipped).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Estimate what making a drawn part costs (in-process, no LLM): reads the drawing
    /// (up to the `tolerance` stage) and prints the breakdown for each quantity, every
    /// line with what it was computed from. Rates: the embedded rate card, or
    /// `DRAWPIPE_RATE_CARD=card.toml`.
    Estimate {
        file: PathBuf,
        /// Quantities to price besides the rate card's (1, 10, 100); repeatable.
        #[arg(long = "quantity", short = 'q')]
        quantities: Vec<u32>,
        /// Print the estimate as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Vectorise drawings for the `segment` stage and write each page graph as JSON
    /// (features, edges, bboxes, and labels from `<stem>.labels.png` beside the image
    /// when present): the training data of models/training/segment.
    SegmentGraph {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output folder: `<stem>.graph.json` per drawing.
        #[arg(long)]
        out: PathBuf,
    },
    /// Consume stage queues and run stages.
    Worker(WorkerArgs),
    /// Print, for each stage, the device it will use and why.
    Devices,
    /// Submit a drawing to a dispatcher.
    Submit {
        file: PathBuf,
        #[arg(long)]
        stages: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until the job finishes and print its result.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print a job's status and per-stage progress.
    Status {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print a finished job's report.
    Result {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// What people corrected through the dispatcher (viewer or PATCH).
    #[command(subcommand)]
    Corrections(CorrectionsCommand),
    /// Stage messages RabbitMQ gave up on (the worker kept dying on them): list them,
    /// run the stage again, or accept the failure.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCommand),
    /// Wait until a job finishes, then print its report.
    Wait {
        id: String,
        /// Give up after this many seconds (default 600).
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum CorrectionsCommand {
    /// Write every corrected page as eDOCr2 ground truth into DIR: `<name>.png` (the
    /// page as stored) and `<name>.csv` (8 corners and the text per dimension, the
    /// corrected text where a person changed it), plus `corrections.csv` (before,
    /// after, who, when). Score it with `drawpipe eval DIR`.
    Export {
        dir: PathBuf,
        /// Only jobs corrected after this time (RFC 3339, e.g. 2026-12-05T10:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Rows for the corrected dimensions only (training crops), not every
        /// dimension on a corrected page.
        #[arg(long)]
        only_corrected: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum DeadLettersCommand {
    /// One line per dead letter: id, job, stage, when, the job's status, the error.
    List {
        /// open (the default), requeued, discarded or all.
        #[arg(long, default_value = "open")]
        state: String,
        /// Print the JSON objects instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run the stage again: the run and the stages skipped because of it go back to
    /// pending and the job reopens.
    Requeue {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Accept the failure: the job stays as it is.
    Discard {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Args)]
struct ApiArgs {
    /// Dispatcher base URL (default http://127.0.0.1:8080).
    #[arg(
        long = "api",
        env = "DRAWPIPE_API",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// API key (default: none; the dispatcher then answers 401 unless it runs with --no-auth).
    #[arg(long = "api-key", env = "DRAWPIPE_API_KEY", hide_env_values = true)]
    key: Option<String>,
}

#[derive(clap::Args)]
struct WorkerArgs {
    /// Which pool's stages to consume: cpu, gpu or all (default all).
    #[arg(long, env = "DRAWPIPE_POOL", default_value = "all")]
    pool: String,
    /// Restrict to these comma-separated stages (default: every available stage of the pool).
    #[arg(long, env = "DRAWPIPE_STAGES")]
    stages: Option<String>,
    /// Batches in flight per stage (default 4).
    #[arg(long, env = "DRAWPIPE_CONCURRENCY", default_value_t = 4)]
    concurrency: usize,
    /// Most messages per batch for cpu-pool stages (default 128).
    #[arg(long, env = "DRAWPIPE_BATCH_MAX", default_value_t = 128)]
    batch_max: usize,
    /// Longest wait for a cpu-pool batch to fill, milliseconds (default 5).
    #[arg(long, env = "DRAWPIPE_BATCH_WAIT_MS", default_value_t = 5)]
    batch_wait_ms: u64,
    /// Most messages per batch for gpu-pool stages; 0 (the default): 4 when a
    /// gpu-pool model runs on CUDA, else 1. On the CPU, batches of 4 `ocr` jobs were no
    /// faster than single jobs (16 BM_part jobs: 17.1–17.4 s against 16.7–17.0 s) and
    /// raised p50 latency from 10.1–10.6 s to 14.7 s (`drawpipe-bench --file`).
    #[arg(long, env = "DRAWPIPE_GPU_BATCH_MAX", default_value_t = 0)]
    gpu_batch_max: usize,
    /// Longest wait for a gpu-pool batch to fill, milliseconds (default 20).
    #[arg(long, env = "DRAWPIPE_GPU_BATCH_WAIT_MS", default_value_t = 20)]
    gpu_batch_wait_ms: u64,
    /// Unacked messages per cpu-pool stage consumer (default 512); gpu-pool
    /// consumers hold gpu_batch_max × (concurrency + 1).
    #[arg(long, env = "DRAWPIPE_PREFETCH", default_value_t = 512)]
    prefetch: u16,
    /// Attempts per stage before it fails for good (default 5).
    #[arg(long, env = "DRAWPIPE_MAX_ATTEMPTS", default_value_t = 5)]
    max_attempts: u32,
    /// Seconds in-flight work gets to finish on SIGTERM/SIGINT (default 30).
    #[arg(long, env = "DRAWPIPE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    shutdown_grace_secs: u64,
    /// PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/drawpipe).
    #[arg(
        long,
        env = "DRAWPIPE_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/drawpipe"
    )]
    database_url: String,
    /// RabbitMQ URL (default amqp://guest:guest@127.0.0.1:5672/%2f).
    #[arg(
        long,
        env = "DRAWPIPE_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Serve Prometheus metrics (batch sizes, stage outcomes, compute time) on this
    /// address, e.g. 127.0.0.1:9464 (default: not served).
    #[arg(long, env = "DRAWPIPE_WORKER_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Apply the database migrations at start (default true); `false` waits until
    /// `drawpipe-dispatcher migrate` (a migration Job) has.
    #[arg(long, env = "DRAWPIPE_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set)]
    migrate_on_start: bool,
    /// PostgreSQL connections (default 8).
    #[arg(long, env = "DRAWPIPE_DB_MAX_CONNECTIONS", default_value_t = 8)]
    db_max_connections: u32,
    /// XGBoost device for `tolerance`: cpu, or cuda / cuda:N with an XGBoost built
    /// with CUDA (default cpu: its data is small).
    #[arg(long, env = "DRAWPIPE_TOLERANCE_DEVICE", default_value = "cpu")]
    tolerance_device: String,
    /// Arithmetic of the OCR recogniser and classifier (`ocr`, `edocr`): auto (bf16
    /// on OpenVINO where the CPU has native bf16, else f32), f32 or bf16 (default auto).
    #[arg(long, env = "DRAWPIPE_OCR_PRECISION", default_value = "auto")]
    ocr_precision: drawpipe_workers::stages::ocr::Precision,
    /// Arithmetic of the OCR text detector, as --ocr-precision (default f32: bf16 moves
    /// box edges by a few pixels).
    #[arg(long, env = "DRAWPIPE_OCR_DET_PRECISION", default_value = "f32")]
    ocr_det_precision: drawpipe_workers::stages::ocr::Precision,
    /// Arithmetic of the detector in `edocr`'s native-resolution sweep for text the
    /// page pass missed, as --ocr-precision (default auto: bf16 where the CPU has it;
    /// the sweep only adds boxes no page line covers).
    #[arg(long, env = "DRAWPIPE_OCR_SWEEP_PRECISION", default_value = "auto")]
    ocr_sweep_precision: drawpipe_workers::stages::ocr::Precision,
    /// Arithmetic of the `detect` stage's symbol detector: auto (bf16 on OpenVINO
    /// where the CPU has native bf16, else f32 on ONNX Runtime), f32 or bf16
    /// (default auto).
    #[arg(long, env = "DRAWPIPE_DETECT_PRECISION", default_value = "auto")]
    detect_precision: drawpipe_workers::stages::ocr::Precision,
}

impl WorkerArgs {
    fn into_config(self) -> anyhow::Result<runtime::WorkerConfig> {
        let pool: Option<Pool> = match self.pool.as_str() {
            "all" => None,
            "cpu" => Some(Pool::Cpu),
            "gpu" => Some(Pool::Gpu),
            other => anyhow::bail!("unknown pool '{other}'; expected cpu, gpu or all"),
        };
        let stages: Vec<Stage> = match &self.stages {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<Stage>()
                        .map_err(|e| anyhow::anyhow!("--stages: {e}"))
                })
                .collect::<anyhow::Result<_>>()?,
            None => Stage::available()
                .filter(|s| pool.is_none_or(|p| s.pool() == p))
                .collect(),
        };
        if let Some(s) = stages.iter().find(|s| !s.is_available()) {
            anyhow::bail!("--stages: stage {s} is not available in this build");
        }
        if stages.is_empty() {
            anyhow::bail!(
                "no stage to consume: pool {} has no available stage in this build (available: {})",
                self.pool,
                Stage::available()
                    .map(Stage::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "localhost".into());
        Ok(runtime::WorkerConfig {
            database_url: self.database_url,
            amqp_url: self.amqp_url,
            stages,
            concurrency: self.concurrency.max(1),
            batch_max: self.batch_max.max(1),
            batch_wait: Duration::from_millis(self.batch_wait_ms),
            gpu_batch_max: self.gpu_batch_max,
            gpu_batch_wait: Duration::from_millis(self.gpu_batch_wait_ms),
            prefetch: self.prefetch.max(1),
            max_attempts: self.max_attempts.max(1),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            db_max_connections: self.db_max_connections.max(2),
            name: format!("{}-{}", host.trim(), std::process::id()),
            metrics_listen: self.metrics_listen,
            migrate_on_start: self.migrate_on_start,
            tolerance_device: self.tolerance_device,
            ocr_precision: self.ocr_precision,
            ocr_det_precision: self.ocr_det_precision,
            ocr_sweep_precision: self.ocr_sweep_precision,
            detect_precision: self.detect_precision,
            limits: drawpipe_core::limits::Limits::from_env()
                .map_err(|e| anyhow::anyhow!("limits: {e}"))?,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = drawpipe_core::logging::init(cli.log_format, "info", "drawpipe");
    match cli.command {
        Command::Analyze {
            files,
            stages,
            out,
            format,
            json,
            stage_outputs,
            overlay,
        } => {
            use drawpipe_workers::summary::{self, Format};
            let format = if json { Format::Json } else { format };
            let plan = StagePlan::parse(&stages)?;
            let params = preprocess::Params::default();
            for dir in out.iter().chain(&overlay) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut failed = 0;
            for (i, file) in files.iter().enumerate() {
                let bytes = std::fs::read(file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let local::Analysis {
                    report,
                    runs,
                    pages,
                    peak_rss_mib,
                    load_ms,
                    wall_ms,
                } = local::analyze_bytes_in_full(&bytes, &plan, &params);
                // Stages with nothing to load (under half a millisecond) are not named.
                let loads: Vec<String> = load_ms
                    .iter()
                    .filter(|(_, ms)| *ms >= 0.5)
                    .map(|(stage, ms)| format!("{stage} {ms:.0} ms"))
                    .collect();
                if !loads.is_empty() {
                    eprintln!(
                        "models loaded (not in the stage times): {}",
                        loads.join(", ")
                    );
                }
                eprintln!(
                    "{}: analysed in {wall_ms:.0} ms (wall clock, model loading left out)",
                    file.display()
                );
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "drawing".into());
                if let Some(dir) = &overlay {
                    for p in &pages {
                        let page = drawpipe_core::overlay::Page {
                            index: p.info.index,
                            width: p.info.width,
                            height: p.info.height,
                        };
                        let png =
                            drawpipe_core::overlay::png(&report, page, Some(&p.png), u32::MAX)
                                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                        let name = if pages.len() == 1 {
                            format!("{stem}.overlay.png")
                        } else {
                            format!("{stem}.p{}.overlay.png", p.info.index)
                        };
                        let path = dir.join(name);
                        drawpipe_workers::write_file(&path, png)?;
                        eprintln!("{}: overlay -> {}", file.display(), path.display());
                    }
                }
                if report.status == drawpipe_core::JobStatus::Failed {
                    failed += 1;
                }
                let name = file
                    .file_name()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "drawing".into());
                let json = serde_json::to_string_pretty(&report)?;
                if let Some(dir) = &out {
                    let path = dir.join(format!("{stem}.json"));
                    drawpipe_workers::write_file(&path, &json)?;
                    if stage_outputs {
                        let outputs: serde_json::Map<String, serde_json::Value> = runs
                            .iter()
                            .filter_map(|r| Some((r.stage.name().to_string(), r.output.clone()?)))
                            .collect();
                        let path = dir.join(format!("{stem}.stages.json"));
                        drawpipe_workers::write_file(&path, serde_json::to_string(&outputs)?)?;
                    }
                    eprintln!(
                        "{}: {} -> {}",
                        file.display(),
                        report.status,
                        path.display()
                    );
                    if files.len() > 1 && format == Format::Table {
                        continue;
                    }
                }
                match format {
                    Format::Json => println!("{json}"),
                    Format::Csv => print!("{}", summary::csv(&name, &report, i == 0)),
                    Format::Table => {
                        print!("{}", summary::table(&name, &report));
                        let peaks: Vec<String> = peak_rss_mib
                            .iter()
                            .map(|(stage, mib)| format!("{stage} {mib:.0} MiB"))
                            .collect();
                        if !peaks.is_empty() {
                            println!("peak RSS after each stage: {}", peaks.join(", "));
                        }
                        if out.is_none() {
                            println!("(the full report: --json, or --out DIR)");
                        }
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!(
                    "{failed} of {} drawing(s) failed; see the report's stages for why",
                    files.len()
                );
            }
        }
        Command::Estimate {
            file,
            quantities,
            json,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let plan = StagePlan::parse("tolerance")?;
            let options = serde_json::json!({ "tolerance": { "quantities": quantities } });
            let report = local::Analyzer::shared().analyze(&bytes, &plan, &options);
            let Some(estimate) = report.extra.get("estimate") else {
                let why = report
                    .extra
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("no estimate in the report");
                anyhow::bail!("{}: {why}", file.display());
            };
            if json {
                println!("{}", serde_json::to_string_pretty(estimate)?);
            } else {
                print!("{}", drawpipe_workers::summary::estimate(estimate));
            }
        }
        Command::SegmentGraph { files, out } => {
            std::fs::create_dir_all(&out)?;
            tokio::task::spawn_blocking(move || segment_graphs(&files, &out)).await??;
        }
        Command::Eval { dirs, raster_only } => {
            use drawpipe_workers::stages::{edocr, ocr};
            let engine = std::sync::Arc::new(
                tokio::task::spawn_blocking(|| ocr::OcrEngine::load(&ocr::EngineConfig::default()))
                    .await?
                    .map_err(|e| anyhow::anyhow!("cannot load the ocr models: {e}"))?,
            );
            let mut sets = Vec::new();
            for arg in dirs {
                let (name, dir) = match arg.split_once('=') {
                    Some((n, d)) => (n.to_string(), PathBuf::from(d)),
                    None => (arg.clone(), PathBuf::from(&arg)),
                };
                let engine = engine.clone();
                let report = tokio::task::spawn_blocking(move || {
                    drawpipe_workers::eval::eval_dir(
                        &dir,
                        &engine,
                        &ocr::Params::default(),
                        &edocr::Params::default(),
                        !raster_only,
                    )
                })
                .await??;
                println!("== {name}\n{report}");
                sets.push((name, report));
            }
            if sets.len() > 1 {
                print!("{}", drawpipe_workers::eval::side_by_side(&sets));
            }
        }
        Command::Worker(args) => {
            let cfg = args.into_config()?;
            let shutdown = CancellationToken::new();
            tokio::spawn(signal_shutdown(shutdown.clone()));
            runtime::run(cfg, shutdown).await?;
        }
        Command::Devices => {
            // Measured, not assumed: the inference stages open their models on `auto`
            // and report what ONNX Runtime actually gave them.
            let ocr = tokio::task::spawn_blocking(|| {
                drawpipe_workers::stages::ocr::OcrEngine::load(&Default::default())
            })
            .await?;
            let (detect, segment, tolerance) = tokio::task::spawn_blocking(|| {
                use drawpipe_workers::ort_env::{models_dir, Device};
                use drawpipe_workers::stages::{detect, segment, tolerance};
                let m = models_dir();
                (
                    detect::DetectModel::load(&m, Device::Auto)
                        .map(|d| (d.device().to_string(), d.device_reason.clone())),
                    segment::SegmentModel::load(&m, Device::Auto)
                        .map(|d| (d.device().to_string(), d.device_reason.clone())),
                    tolerance::ToleranceModel::load(&tolerance::model_dir(&m), "cpu").map(|t| {
                        (
                            t.device().to_string(),
                            "XGBoost on the CPU by default (small data); --tolerance-device cuda with a CUDA XGBoost".to_string(),
                        )
                    }),
                )
            })
            .await?;
            let shown = |r: &Result<(String, String), drawpipe_core::StageError>| match r {
                Ok((d, why)) => (d.clone(), why.clone()),
                Err(e) => ("-".to_string(), format!("cannot load: {e}")),
            };
            println!("{:<12} {:<5} {:<8} reason", "stage", "pool", "device");
            for s in Stage::ALL {
                let (device, reason) = match s {
                    Stage::Ocr | Stage::Edocr => match &ocr {
                        Ok(e) => (e.device().to_string(), e.device_reason().to_string()),
                        Err(e) => ("-".into(), format!("cannot load: {e}")),
                    },
                    Stage::Detect => shown(&detect),
                    Stage::Segment => shown(&segment),
                    Stage::Tolerance => shown(&tolerance),
                    s if s.is_available() => (
                        "cpu".into(),
                        "no inference: decoding, CLAHE and merging run on the CPU".into(),
                    ),
                    _ => ("-".into(), "not available in this build".into()),
                };
                println!(
                    "{:<12} {:<5} {:<8} {reason}",
                    s.name(),
                    s.pool().to_string(),
                    device
                );
            }
            println!(
                "{:<12} {:<5} {:<8} links no inference code (HTTP, intake, relay, reaper)",
                "dispatcher", "cpu", "cpu"
            );
        }
        Command::Submit {
            file,
            stages,
            idempotency_key,
            wait,
            api,
        } => {
            let c = Client::new(&api.url, api.key);
            let resp = c
                .submit(&file, stages.as_deref(), idempotency_key.as_deref())
                .await?;
            let id = resp["id"]
                .as_str()
                .context("the dispatcher's answer has no job id")?
                .to_string();
            if wait {
                c.wait(&id, Duration::from_secs(600)).await?;
                println!("{}", serde_json::to_string_pretty(&c.result(&id).await?)?);
            } else {
                println!("{id}");
            }
        }
        Command::Status { id, api } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Client::new(&api.url, api.key).status(&id).await?)?
            );
        }
        Command::Result { id, api } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Client::new(&api.url, api.key).result(&id).await?)?
            );
        }
        Command::Harvest { files, out } => {
            use drawpipe_workers::stages::ocr;
            let found = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let engine = ocr::OcrEngine::load(&ocr::EngineConfig::default())
                    .map_err(|e| anyhow::anyhow!("cannot load the ocr models: {e}"))?;
                drawpipe_workers::harvest::harvest(&files, &engine, &ocr::Params::default(), &out)
                    .map(|h| (h, out))
            })
            .await??;
            let (h, out) = found;
            let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
            for e in &h.errors {
                *kinds.entry(e.kind).or_default() += 1;
            }
            println!(
                "{} page(s) with a text layer; {} line(s) with a digit compared: {} read right, {} misread ({}); written to {}",
                h.pages,
                h.compared,
                h.agreeing,
                h.errors.len(),
                kinds
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                out.display()
            );
        }
        Command::Corrections(CorrectionsCommand::Export {
            dir,
            since,
            only_corrected,
            api,
        }) => {
            let c = Client::new(&api.url, api.key);
            let done = drawpipe_workers::export::export(&c, &dir, since.as_deref(), only_corrected)
                .await?;
            println!(
                "{} corrected dimension(s) from {} job(s): {} page(s), {} truth row(s) in {} \
                 (score with `drawpipe eval {}`)",
                done.corrections,
                done.jobs,
                done.pages,
                done.rows,
                dir.display(),
                dir.display()
            );
        }
        Command::DeadLetters(cmd) => dead_letters(cmd).await?,
        Command::Wait {
            id,
            timeout_secs,
            api,
        } => {
            let c = Client::new(&api.url, api.key);
            c.wait(&id, Duration::from_secs(timeout_secs)).await?;
            println!("{}", serde_json::to_string_pretty(&c.result(&id).await?)?);
        }
    }
    Ok(())
}

async fn signal_shutdown(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested: stopping consumers, finishing in-flight work");
    token.cancel();
}

/// `drawpipe segment-graph`: one graph JSON per drawing, in parallel.
fn segment_graphs(files: &[PathBuf], out: &std::path::Path) -> anyhow::Result<()> {
    use drawpipe_workers::stages::segment;
    use opencv::prelude::*;
    let read = |p: &std::path::Path| -> anyhow::Result<(Vec<u8>, usize, usize)> {
        let m =
            opencv::imgcodecs::imread(&p.to_string_lossy(), opencv::imgcodecs::IMREAD_GRAYSCALE)?;
        anyhow::ensure!(!m.empty(), "cannot read {}", p.display());
        Ok((
            m.data_bytes()?.to_vec(),
            m.cols() as usize,
            m.rows() as usize,
        ))
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            return Ok(());
                        };
                        let (gray, w, h) = read(file)?;
                        let stem = file
                            .file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .to_string();
                        let labels_path = file.with_file_name(format!("{stem}.labels.png"));
                        let labels = if labels_path.is_file() {
                            let (l, lw, lh) = read(&labels_path)?;
                            anyhow::ensure!(
                                (lw, lh) == (w, h),
                                "{} is not {w}x{h}",
                                labels_path.display()
                            );
                            Some(l)
                        } else {
                            None
                        };
                        let g = segment::vectorise::vectorise(&gray, w, h);
                        let json = segment::training_graph(&g, labels.as_deref());
                        std::fs::write(
                            out.join(format!("{stem}.graph.json")),
                            serde_json::to_vec(&json)?,
                        )?;
                        eprintln!(
                            "{}: {} components, {} edges",
                            file.display(),
                            g.components.len(),
                            g.edges.len()
                        );
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("graph worker panicked"))
    })
}

/// `drawpipe dead-letters list|requeue|discard`.
async fn dead_letters(cmd: DeadLettersCommand) -> anyhow::Result<()> {
    match cmd {
        DeadLettersCommand::List { state, json, api } => {
            list_dead_letters(&Client::new(&api.url, api.key), &state, json).await
        }
        DeadLettersCommand::Requeue { ids, api } => {
            resolve_dead_letters(&Client::new(&api.url, api.key), &ids, "requeue").await
        }
        DeadLettersCommand::Discard { ids, api } => {
            resolve_dead_letters(&Client::new(&api.url, api.key), &ids, "discard").await
        }
    }
}

/// One line per dead letter (or the JSON objects), the count on stderr.
async fn list_dead_letters(c: &Client, state: &str, json: bool) -> anyhow::Result<()> {
    let letters = c.dead_letters(state).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&letters)?);
        return Ok(());
    }
    for d in &letters {
        println!(
            "{}\t{}\t{}\t{}\tjob {}\t{}\t{}",
            d["id"],
            d["job_id"].as_str().unwrap_or(""),
            d["stage"].as_str().unwrap_or(""),
            d["dead_at"].as_str().unwrap_or(""),
            d["job_status"].as_str().unwrap_or(""),
            d["state"].as_str().unwrap_or(""),
            d["error"].as_str().unwrap_or(""),
        );
    }
    eprintln!("{} dead letter(s) ({state})", letters.len());
    Ok(())
}

/// `action` (requeue or discard) on each of `ids`; an error when any was refused.
async fn resolve_dead_letters(c: &Client, ids: &[i64], action: &str) -> anyhow::Result<()> {
    let mut failed = 0;
    for &id in ids {
        match c.resolve_dead_letter(id, action).await {
            Ok(d) => println!(
                "{id}\t{}\tjob {}\t{}",
                d["state"].as_str().unwrap_or(""),
                d["job_id"].as_str().unwrap_or(""),
                d["stage"].as_str().unwrap_or("")
            ),
            Err(e) => {
                eprintln!("dead letter {id}: {e:#}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} dead letter(s) left as they were ({action} refused)");
    }
    Ok(())
}
