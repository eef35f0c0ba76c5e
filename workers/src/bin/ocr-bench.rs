//! `drawpipe-ocr-bench`: times the `ocr` stage against the Python `rapidocr` package
//! on the same images, the same model files and the same thread budget, in one run,
//! and prints images/s for each, their ratio, text-line agreement and where our time
//! goes. `tools/ocr-bench.sh` sets up rapidocr's virtualenv and runs this.
//!
//! Both sides decode each image as 8-bit grayscale once, outside the timing, then run
//! one warm-up and `--runs` timed passes; a time is the mean of those passes. rapidocr
//! runs in a subprocess (`tools/rapidocr_bench.py --serve`, one JSON line per call)
//! that the bench drives so that its passes alternate with ours: the two never run at
//! the same time, and whatever else loads the machine weighs on both alike.
//!
//! Where the time goes, on both sides: our stage reports its det/cls/rec model calls
//! and everything else; rapidocr_bench.py times every `InferenceSession.run` call
//! by model, and the rest of rapidocr's call is its own Python and OpenCV.
//!
//! Agreement: a line of one side is matched when the other has a line with the same
//! text (spaces ignored) whose bbox has IoU ≥ 0.5 with it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use drawpipe_workers::ort_env::{self, Device};
use drawpipe_workers::stages::ocr::{
    self, EngineConfig, GrayPage, OcrEngine, Params, Precision, Timings,
};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

/// Benchmarks the `ocr` stage against rapidocr on the same images and models.
#[derive(Parser, Debug)]
#[command(name = "drawpipe-ocr-bench")]
struct Config {
    /// Images to read (default: the three fixture drawings in tests/fixtures/drawings/).
    images: Vec<PathBuf>,
    /// Where our models run: auto, cpu or cuda:N (default cpu).
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// Our arithmetic: auto, f32 (ONNX Runtime, rapidocr's) or bf16 (OpenVINO, CPUs
    /// with native bf16) (default auto: bf16 where the CPU has it).
    #[arg(long, default_value = "auto")]
    precision: Precision,
    /// Our detector's arithmetic, as --precision (default f32).
    #[arg(long, default_value = "f32")]
    det_precision: Precision,
    /// Intra-op threads for every model, both sides (default 2).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed passes per image after one warm-up (default 3).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Only time our stage.
    #[arg(long)]
    skip_rapidocr: bool,
    /// Python with rapidocr installed (default .venv-bench/bin/python, from tools/ocr-bench.sh).
    #[arg(long, default_value = ".venv-bench/bin/python")]
    python: PathBuf,
    /// The rapidocr timing script (default tools/rapidocr_bench.py).
    #[arg(long, default_value = "tools/rapidocr_bench.py")]
    rapidocr_script: PathBuf,
    /// rapidocr settings: `matched` (our detector input size, crops from the full
    /// page) or `stock` (rapidocr's defaults) (default matched).
    #[arg(long, default_value = "matched")]
    rapidocr_mode: String,
    /// Our detector's longer-side limit, pixels (default: `Params`' default).
    #[arg(long)]
    det_limit_side_len: Option<u32>,
    /// Our recogniser batch size (default: `Params`' default).
    #[arg(long)]
    rec_batch_size: Option<usize>,
    /// Lines per recogniser inference, changing no reading (default: `Params`'
    /// default, the batch size).
    #[arg(long)]
    rec_infer_batch: Option<usize>,
    /// Our recogniser's narrowest input, pixels (default: `Params`' default).
    #[arg(long)]
    rec_min_width: Option<u32>,
    /// Our single-threaded recogniser lanes: 0 one per thread on the CPU, 1 none
    /// (default: `Params`' default).
    #[arg(long)]
    rec_lanes: Option<usize>,
    /// Disable our angle classifier.
    #[arg(long)]
    no_cls: bool,
    /// Also measure throughput with this many lanes per side (0: skip): each lane is
    /// one engine (ours) or one rapidocr process (theirs) with threads / lanes
    /// intra-op threads, lanes read different images at once, the same thread budget.
    /// Phases alternate, ours then rapidocr's, `--runs` times; each phase reads every
    /// image `--lanes` times (default 0).
    #[arg(long, default_value_t = 0)]
    lanes: usize,
    /// Also time our fused inference (the worker's batches): every image as one
    /// fused call against one call per image, alternating, `--runs` times; prints
    /// images/s for both and whether the fused call read the same lines.
    #[arg(long)]
    fused: bool,
    /// Also write the results as JSON here (used by tools/gpu-check.sh).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Idle time before each timed call, outside the timing: after a run, ONNX Runtime's
/// and OpenVINO's worker threads spin for a while, and would steal the cores from
/// the other side's call that follows at once.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(250);

/// The header rapidocr_bench.py prints in `--serve` mode.
#[derive(Deserialize)]
struct RapidHeader {
    rapidocr: String,
    onnxruntime: String,
    mode: String,
}

/// One rapidocr call on one image.
#[derive(Deserialize)]
struct RapidCall {
    seconds: f64,
    /// Seconds inside ONNX Runtime's `run`, by model role (det, cls, rec).
    #[serde(default)]
    model_seconds: std::collections::BTreeMap<String, f64>,
    lines: Vec<RapidLine>,
}

impl RapidCall {
    /// rapidocr's time in milliseconds: its model calls, and the rest of the call.
    fn timings(&self) -> Timings {
        let ms = |role: &str| 1e3 * self.model_seconds.get(role).copied().unwrap_or(0.0);
        let (det_ms, cls_ms, rec_ms) = (ms("det"), ms("cls"), ms("rec"));
        Timings {
            det_ms,
            cls_ms,
            rec_ms,
            other_ms: 1e3 * self.seconds - det_ms - cls_ms - rec_ms,
        }
    }
}

#[derive(Deserialize)]
struct RapidLine {
    text: String,
    polygon: Vec<[f32; 2]>,
}

/// One image's results, for the JSON summary.
#[derive(Serialize)]
struct ImageResult {
    image: String,
    width: i32,
    height: i32,
    /// Our seconds per timed pass.
    ours_s: Vec<f64>,
    ours_lines: usize,
    /// Our mean breakdown over the timed passes, milliseconds.
    timings: Timings,
    rapidocr_s: Option<Vec<f64>>,
    /// rapidocr's mean breakdown over the timed passes, milliseconds (`other_ms`:
    /// outside its model calls).
    rapidocr_timings: Option<Timings>,
    rapidocr_lines: Option<usize>,
    /// Fraction of rapidocr's lines we read too, and of ours rapidocr reads.
    agree_theirs_in_ours: Option<f64>,
    agree_ours_in_theirs: Option<f64>,
    /// Lines only one side read, `[x, y, w, h]`.
    differences: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    command: String,
    device: String,
    device_reason: String,
    threads: usize,
    runs: usize,
    ours_images_per_s: f64,
    rapidocr_images_per_s: Option<f64>,
    images: Vec<ImageResult>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = Config::parse();
    if cfg.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if !matches!(cfg.rapidocr_mode.as_str(), "matched" | "stock") {
        bail!(
            "unknown --rapidocr-mode '{}'; expected matched or stock",
            cfg.rapidocr_mode
        );
    }
    if cfg.images.is_empty() {
        let dir = ort_env::models_dir().join("../tests/fixtures/drawings");
        cfg.images = ["example_dwg.png", "Candle_holder.jpg", "BM_part.jpg"]
            .iter()
            .map(|f| dir.join(f))
            .collect();
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!("command: {command}");

    let mut params = Params::default();
    let mut engine_config = EngineConfig {
        device: cfg.device,
        precision: cfg.precision,
        det_precision: cfg.det_precision,
        threads: cfg.threads,
        ..EngineConfig::default()
    };
    if let Some(side) = cfg.det_limit_side_len {
        params.det_limit_side_len = side;
    }
    if let Some(b) = cfg.rec_batch_size {
        params.rec_batch_size = b;
    }
    if let Some(b) = cfg.rec_infer_batch {
        params.rec_infer_batch = b;
    }
    if let Some(w) = cfg.rec_min_width {
        params.rec_min_width = w;
    }
    if let Some(n) = cfg.rec_lanes {
        engine_config.rec_lanes = n;
    }
    if cfg.no_cls {
        params.use_angle_cls = false;
    }

    let t = Instant::now();
    let engine = OcrEngine::load(&engine_config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = ort_env::init()?;
    let (device, device_reason) = (
        engine.device().to_string(),
        engine.device_reason().to_string(),
    );
    println!(
        "ours: device {}, det {:?}, cls and rec {:?} ({}), onnx runtime {}, {} intra-op threads, loaded in {:.2} s",
        engine.device(),
        engine.det_precision(),
        engine.precision(),
        engine.device_reason(),
        rt.dylib.display(),
        cfg.threads,
        t.elapsed().as_secs_f64()
    );
    println!(
        "ours: detector {:?} {} px, rec batch {} min width {}, angle cls {}, {} timed runs after 1 warm-up",
        params.det_limit_type,
        params.det_limit_side_len,
        params.rec_batch_size,
        params.rec_min_width,
        params.use_angle_cls,
        cfg.runs
    );

    let mut rapid = if cfg.skip_rapidocr {
        None
    } else {
        let r = Rapid::start(&cfg)?;
        println!(
            "rapidocr: {} on onnxruntime {} (Python), mode {}, {} intra/inter-op threads, same model files",
            r.header.rapidocr, r.header.onnxruntime, r.header.mode, cfg.threads
        );
        Some(r)
    };
    println!(
        "per image: one warm-up each, then {} timed runs alternating ours and rapidocr's",
        cfg.runs
    );

    let mut results = Vec::new();
    for path in &cfg.images {
        let img = read_gray(path)?;
        let page = GrayPage {
            index: 0,
            image: &img,
        };
        let ocr_err = |e| anyhow::anyhow!("ocr on {}: {e}", path.display());
        ocr::run(&params, &engine, &page).map_err(ocr_err)?;
        if let Some(r) = rapid.as_mut() {
            r.read(path)?;
        }
        let (mut ours_s, mut theirs_s) = (Vec::new(), Vec::new());
        let mut sum = Timings::default();
        let mut theirs_sum = Timings::default();
        let (mut ours, mut theirs) = (Vec::new(), None);
        for _ in 0..cfg.runs {
            std::thread::sleep(SETTLE);
            let t = Instant::now();
            let out = ocr::run(&params, &engine, &page).map_err(ocr_err)?;
            ours_s.push(t.elapsed().as_secs_f64());
            add(&mut sum, &out.timings, 1.0 / cfg.runs as f64);
            ours = out.lines;
            if let Some(r) = rapid.as_mut() {
                std::thread::sleep(SETTLE);
                let call = r.read(path)?;
                theirs_s.push(call.seconds);
                add(&mut theirs_sum, &call.timings(), 1.0 / cfg.runs as f64);
                theirs = Some(call.lines);
            }
        }
        let mut res = ImageResult {
            image: name(path),
            width: img.cols(),
            height: img.rows(),
            ours_s,
            ours_lines: ours.len(),
            timings: sum,
            rapidocr_s: None,
            rapidocr_timings: None,
            rapidocr_lines: None,
            agree_theirs_in_ours: None,
            agree_ours_in_theirs: None,
            differences: Vec::new(),
        };
        if let Some(theirs) = theirs {
            let theirs: Vec<(String, [f32; 4])> = theirs
                .iter()
                .filter(|l| l.polygon.len() == 4)
                .map(|l| {
                    let p = [l.polygon[0], l.polygon[1], l.polygon[2], l.polygon[3]];
                    (l.text.clone(), ocr::bbox_of(&p))
                })
                .collect();
            let ours: Vec<(String, [f32; 4])> =
                ours.iter().map(|l| (l.text.clone(), l.bbox)).collect();
            res.rapidocr_s = Some(theirs_s);
            res.rapidocr_timings = Some(theirs_sum);
            res.rapidocr_lines = Some(theirs.len());
            res.agree_theirs_in_ours = Some(agreement(&theirs, &ours));
            res.agree_ours_in_theirs = Some(agreement(&ours, &theirs));
            for (who, of, among) in [
                ("rapidocr only", &theirs, &ours),
                ("ours only", &ours, &theirs),
            ] {
                for (text, b) in unmatched(of, among) {
                    res.differences.push(format!(
                        "{who}: {text:?} at [{:.0}, {:.0}, {:.0}, {:.0}]",
                        b[0], b[1], b[2], b[3]
                    ));
                }
            }
        }
        eprintln!(
            "{}: ours {:.2} s, rapidocr {} s",
            res.image,
            mean(&res.ours_s),
            res.rapidocr_s
                .as_deref()
                .map_or("-".into(), |s| format!("{:.2}", mean(s)))
        );
        results.push(res);
    }
    drop(rapid);
    let throughput = if cfg.lanes > 0 {
        Some(throughput(&cfg, &params, &engine_config)?)
    } else {
        None
    };

    let fused = if cfg.fused {
        Some(fused(&cfg, &params, &engine)?)
    } else {
        None
    };

    let ours_total: f64 = results.iter().map(|r| mean(&r.ours_s)).sum();
    let rapid_total: Option<f64> = (!cfg.skip_rapidocr).then(|| {
        results
            .iter()
            .map(|r| mean(r.rapidocr_s.as_deref().unwrap_or_default()))
            .sum()
    });
    print_table(&results, ours_total, rapid_total);
    if let Some((ours, theirs)) = throughput {
        println!(
            "throughput, {} lanes × {} thread(s): ours {:.3} images/s{}",
            cfg.lanes,
            (cfg.threads / cfg.lanes).max(1),
            ours,
            theirs.map_or(String::new(), |t| format!(
                ", rapidocr {t:.3} images/s, ratio {:.2}×",
                ours / t
            ))
        );
    }

    if let Some(f) = &fused {
        println!(
            "fused, {} images per call: {:.3} images/s against {:.3} one call per image ({:.2}×), {} runs; fused read the same lines: {}",
            cfg.images.len(),
            f.fused_images_per_s,
            f.single_images_per_s,
            f.fused_images_per_s / f.single_images_per_s,
            cfg.runs,
            if f.same_lines { "yes" } else { "NO" }
        );
    }

    if let Some(path) = &cfg.json {
        let summary = Summary {
            command,
            device,
            device_reason,
            threads: cfg.threads,
            runs: cfg.runs,
            ours_images_per_s: results.len() as f64 / ours_total,
            rapidocr_images_per_s: rapid_total.map(|t| results.len() as f64 / t),
            images: results,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// rapidocr_bench.py in `--serve` mode: one image path per line in, one JSON line out.
struct Rapid {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    header: RapidHeader,
}

impl Rapid {
    fn start(cfg: &Config) -> Result<Self> {
        Self::start_with(cfg, cfg.threads)
    }

    fn start_with(cfg: &Config, threads: usize) -> Result<Self> {
        if !cfg.python.exists() {
            bail!(
                "{} not found; tools/ocr-bench.sh creates the rapidocr virtualenv (or pass --skip-rapidocr)",
                cfg.python.display()
            );
        }
        let models = ort_env::models_dir().join("ppocr");
        let mut cmd = Command::new(&cfg.python);
        cmd.arg(&cfg.rapidocr_script)
            .arg("--serve")
            .arg("--models")
            .arg(&models)
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--mode")
            .arg(&cfg.rapidocr_mode)
            .arg("--det-limit-side-len")
            .arg(
                cfg.det_limit_side_len
                    .unwrap_or(Params::default().det_limit_side_len)
                    .to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if threads == cfg.threads {
            println!("rapidocr command: {cmd:?}");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("running {}", cfg.python.display()))?;
        let stdin = child.stdin.take().context("rapidocr stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("rapidocr stdout")?);
        let header = read_json(&mut stdout).context("rapidocr_bench.py header")?;
        Ok(Rapid {
            child,
            stdin,
            stdout,
            header,
        })
    }

    fn read(&mut self, path: &Path) -> Result<RapidCall> {
        writeln!(self.stdin, "{}", path.display())?;
        self.stdin.flush()?;
        read_json(&mut self.stdout).with_context(|| format!("rapidocr on {}", path.display()))
    }
}

impl Drop for Rapid {
    fn drop(&mut self) {
        // The script is idle between calls; nothing to flush.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json<T: serde::de::DeserializeOwned>(r: &mut impl BufRead) -> Result<T> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        bail!("rapidocr_bench.py exited early (its error is above)");
    }
    serde_json::from_str(&line).with_context(|| format!("not JSON: {}", line.trim_end()))
}

/// Lines of `of` that `among` does not have (same text without spaces, bbox IoU ≥ 0.5).
fn unmatched(of: &[(String, [f32; 4])], among: &[(String, [f32; 4])]) -> Vec<(String, [f32; 4])> {
    let key = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    of.iter()
        .filter(|(t, b)| {
            !among
                .iter()
                .any(|(u, c)| key(t) == key(u) && ocr::iou(b, c) >= 0.5)
        })
        .cloned()
        .collect()
}

/// Fraction of `of` lines that `among` also has; 1 when `of` is empty.
fn agreement(of: &[(String, [f32; 4])], among: &[(String, [f32; 4])]) -> f64 {
    if of.is_empty() {
        return 1.0;
    }
    1.0 - unmatched(of, among).len() as f64 / of.len() as f64
}

fn print_table(results: &[ImageResult], ours_total: f64, rapid_total: Option<f64>) {
    println!();
    println!(
        "| image | size | ours s/image | rapidocr s/image | ours/rapidocr speed | lines ours/rapidocr | rapidocr lines we read | our lines rapidocr reads |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let ours = mean(&r.ours_s);
        let (theirs, ratio) = match &r.rapidocr_s {
            Some(s) => (format!("{:.3}", mean(s)), format!("{:.2}×", mean(s) / ours)),
            None => ("-".into(), "-".into()),
        };
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0}%", 100.0 * v));
        println!(
            "| {} | {}×{} | {:.3} ({}) | {} | {} | {}/{} | {} | {} |",
            r.image,
            r.width,
            r.height,
            ours,
            r.ours_s
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(" "),
            theirs,
            ratio,
            r.ours_lines,
            r.rapidocr_lines.map_or("-".into(), |n| n.to_string()),
            pct(r.agree_theirs_in_ours),
            pct(r.agree_ours_in_theirs),
        );
    }
    for r in results {
        for d in &r.differences {
            println!("  {}: {d}", r.image);
        }
    }
    let n = results.len() as f64;
    println!();
    match rapid_total {
        Some(rt) => println!(
            "images/s: ours {:.3}, rapidocr {:.3}, ratio ours/rapidocr {:.2}×",
            n / ours_total,
            n / rt,
            rt / ours_total
        ),
        None => println!("images/s: ours {:.3}", n / ours_total),
    }
    println!();
    println!("time per image, ms (mean of timed runs); det, cls and rec are the model calls, other is the rest:");
    println!("| image | side | det | cls | rec | other | total |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let row = |image: &str, side: &str, t: &Timings, total_s: f64| {
        println!(
            "| {image} | {side} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            t.det_ms,
            t.cls_ms,
            t.rec_ms,
            t.other_ms,
            1e3 * total_s
        );
    };
    let (mut ours_sum, mut theirs_sum) = (Timings::default(), Timings::default());
    for r in results {
        row(&r.image, "ours", &r.timings, mean(&r.ours_s));
        add(&mut ours_sum, &r.timings, 1.0);
        if let (Some(t), Some(s)) = (&r.rapidocr_timings, &r.rapidocr_s) {
            row(&r.image, "rapidocr", t, mean(s));
            add(&mut theirs_sum, t, 1.0);
        }
    }
    let models = |t: &Timings| t.det_ms + t.cls_ms + t.rec_ms;
    if rapid_total.is_some() && models(&theirs_sum) > 0.0 {
        println!();
        println!(
            "all images: model calls ours {:.0} ms, rapidocr {:.0} ms ({:.2}×); outside them ours {:.0} ms, rapidocr {:.0} ms; rapidocr spends {:.0}% of its time in model calls",
            models(&ours_sum),
            models(&theirs_sum),
            models(&theirs_sum) / models(&ours_sum),
            ours_sum.other_ms,
            theirs_sum.other_ms,
            100.0 * models(&theirs_sum) / (models(&theirs_sum) + theirs_sum.other_ms)
        );
    }
}

/// `sum += k × t`, field by field.
fn add(sum: &mut Timings, t: &Timings, k: f64) {
    sum.det_ms += k * t.det_ms;
    sum.cls_ms += k * t.cls_ms;
    sum.rec_ms += k * t.rec_ms;
    sum.other_ms += k * t.other_ms;
}

/// An image file as 8-bit grayscale. Binary PGM (P5, maxval 255) is read here, byte for
/// byte; every other format goes through OpenCV's imgcodecs, which a build without the
/// `image-files` feature leaves out, so that the binary needs only OpenCV's core and
/// imgproc libraries (tools/gpu-bundle.sh carries such a build, with PGM images, to
/// a GPU machine that has no OpenCV).
fn read_gray(path: &Path) -> Result<Mat> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"P5") {
        return pgm(&bytes).with_context(|| format!("decoding {} as binary PGM", path.display()));
    }
    #[cfg(feature = "image-files")]
    {
        use opencv::imgcodecs;
        // imread, as rapidocr's cv2.imread: the same decoder and EXIF handling.
        let img = imgcodecs::imread(&path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE)
            .with_context(|| format!("decoding {}", path.display()))?;
        if img.empty() {
            bail!("cannot read {} as an image", path.display());
        }
        Ok(img)
    }
    #[cfg(not(feature = "image-files"))]
    bail!(
        "{}: this build reads only binary PGM (P5) files (built without the `image-files` feature)",
        path.display()
    )
}

/// Binary PGM: `P5`, width, height, maxval 255 (whitespace and `#` comments between),
/// one whitespace byte, then width × height bytes.
fn pgm(bytes: &[u8]) -> Result<Mat> {
    let mut pos = 2;
    let mut fields = [0usize; 3];
    for field in &mut fields {
        loop {
            match bytes.get(pos) {
                Some(b'#') => {
                    while bytes.get(pos).is_some_and(|&b| b != b'\n') {
                        pos += 1;
                    }
                }
                Some(b) if b.is_ascii_whitespace() => pos += 1,
                Some(_) => break,
                None => bail!("truncated header"),
            }
        }
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        *field = std::str::from_utf8(&bytes[start..pos])?
            .parse()
            .context("header field is not a number")?;
    }
    let [w, h, maxval] = fields;
    if maxval != 255 {
        bail!("maxval {maxval}: only 8-bit (255) is read");
    }
    let data = bytes.get(pos + 1..).context("truncated header")?;
    if data.len() < w * h {
        bail!(
            "{w}×{h} needs {} bytes of pixels, the file has {}",
            w * h,
            data.len()
        );
    }
    let flat = Mat::from_slice(&data[..w * h])?;
    Ok(flat.reshape(1, h as i32)?.try_clone()?)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// What `--fused` measured.
struct Fused {
    fused_images_per_s: f64,
    single_images_per_s: f64,
    same_lines: bool,
}

/// Times one fused call over every image against one call per image, alternating,
/// after one warm-up of each.
fn fused(cfg: &Config, params: &Params, engine: &OcrEngine) -> Result<Fused> {
    let images: Vec<Mat> = cfg
        .images
        .iter()
        .map(|p| read_gray(p))
        .collect::<Result<_>>()?;
    let items: Vec<(&Params, GrayPage)> = images
        .iter()
        .map(|image| (params, GrayPage { index: 0, image }))
        .collect();
    let err = |e| anyhow::anyhow!("ocr: {e}");
    let texts = |outs: Vec<ocr::Output>| -> Vec<Vec<(String, [[f32; 2]; 4])>> {
        outs.into_iter()
            .map(|o| o.lines.into_iter().map(|l| (l.text, l.polygon)).collect())
            .collect()
    };
    let single = || -> Result<Vec<ocr::Output>> {
        items
            .iter()
            .map(|(p, page)| ocr::run(p, engine, page).map_err(err))
            .collect()
    };
    let together = || -> Result<Vec<ocr::Output>> {
        ocr::run_fused(engine, &items)
            .into_iter()
            .map(|r| r.map_err(err))
            .collect()
    };
    let same_lines = texts(single()?) == texts(together()?);
    let (mut single_s, mut fused_s) = (0.0, 0.0);
    for _ in 0..cfg.runs {
        let t = Instant::now();
        single()?;
        single_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        together()?;
        fused_s += t.elapsed().as_secs_f64();
    }
    let n = (images.len() * cfg.runs) as f64;
    Ok(Fused {
        fused_images_per_s: n / fused_s,
        single_images_per_s: n / single_s,
        same_lines,
    })
}

/// Images per second with `cfg.lanes` lanes per side reading different images at
/// once (see `--lanes`): (ours, rapidocr's unless skipped), each the total images read
/// over the total wall time of that side's phases.
fn throughput(
    cfg: &Config,
    params: &Params,
    engine_config: &EngineConfig,
) -> Result<(f64, Option<f64>)> {
    let lanes = cfg.lanes;
    let per = (cfg.threads / lanes).max(1);
    let lane_params = params.clone();
    let lane_config = EngineConfig {
        threads: per,
        rec_lanes: 1,
        ..engine_config.clone()
    };
    let engines: Vec<OcrEngine> = (0..lanes)
        .map(|_| OcrEngine::load(&lane_config).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let mut rapids: Vec<Rapid> = if cfg.skip_rapidocr {
        Vec::new()
    } else {
        (0..lanes)
            .map(|_| Rapid::start_with(cfg, per))
            .collect::<Result<_>>()?
    };
    let images: Vec<Mat> = cfg
        .images
        .iter()
        .map(|p| read_gray(p))
        .collect::<Result<_>>()?;
    // Work list: every image once per lane, handed out in order to whichever lane is free.
    let work: Vec<usize> = (0..lanes).flat_map(|_| 0..images.len()).collect();
    let run_ours = || -> Result<f64> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let t = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = engines
                .iter()
                .map(|engine| {
                    let (next, work, images, lane_params) = (&next, &work, &images, &lane_params);
                    s.spawn(move || -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&k) = work.get(i) else { return Ok(()) };
                            let page = GrayPage {
                                index: 0,
                                image: &images[k],
                            };
                            ocr::run(lane_params, engine, &page)
                                .map_err(|e| anyhow::anyhow!("{e}"))?;
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("lane panicked"))
        })?;
        Ok(t.elapsed().as_secs_f64())
    };
    let run_theirs = |rapids: &mut Vec<Rapid>| -> Result<f64> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let t = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = rapids
                .iter_mut()
                .map(|r| {
                    let (next, work, paths) = (&next, &work, &cfg.images);
                    s.spawn(move || -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&k) = work.get(i) else { return Ok(()) };
                            r.read(&paths[k])?;
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("lane panicked"))
        })?;
        Ok(t.elapsed().as_secs_f64())
    };
    // Warm-up, then alternating timed phases.
    run_ours()?;
    if !rapids.is_empty() {
        run_theirs(&mut rapids)?;
    }
    let (mut ours_s, mut theirs_s) = (0.0, 0.0);
    for round in 0..cfg.runs {
        let o = run_ours()?;
        ours_s += o;
        let line = if rapids.is_empty() {
            String::new()
        } else {
            let t = run_theirs(&mut rapids)?;
            theirs_s += t;
            format!(", rapidocr {t:.2} s")
        };
        eprintln!(
            "throughput round {}: ours {o:.2} s{line} for {} images",
            round + 1,
            work.len()
        );
    }
    let n = (work.len() * cfg.runs) as f64;
    Ok((n / ours_s, (!rapids.is_empty()).then(|| n / theirs_s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_binary_pgm_with_comments() {
        let mut bytes = b"P5\n# made by a test\n3 2\n255\n".to_vec();
        bytes.extend_from_slice(&[0, 10, 20, 30, 40, 255]);
        let img = pgm(&bytes).unwrap();
        assert_eq!((img.cols(), img.rows()), (3, 2));
        assert_eq!(*img.at_2d::<u8>(1, 2).unwrap(), 255);
        assert_eq!(*img.at_2d::<u8>(0, 1).unwrap(), 10);
        let short = pgm(&bytes[..bytes.len() - 1]).unwrap_err().to_string();
        assert!(short.contains("needs 6 bytes"), "{short}");
        let deep = pgm(b"P5 1 1 65535\n\0\0").unwrap_err().to_string();
        assert!(deep.contains("maxval 65535"), "{deep}");
    }
}
