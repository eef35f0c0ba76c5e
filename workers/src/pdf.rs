//! PDF pages to pixels with poppler's `pdfinfo` and `pdftoppm`, each run as a child
//! process with an address-space limit, a CPU-time limit and a wall-clock timeout,
//! so a hostile PDF (a page bomb, a decompression bomb, a parser crash) fails its
//! own job and never the worker.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drawpipe_core::StageError;

use crate::stages::preprocess::Params;

/// One rendered page: PNG bytes, the DPI it was rendered at, and its text layer
/// (`pdftotext -bbox-layout` output; empty when there is none or poppler failed on it).
pub struct RenderedPage {
    pub png: Vec<u8>,
    pub dpi: f32,
    pub layout: String,
}

/// Renders every page (at most `params.max_pdf_pages`) in grayscale.
///
/// # Errors
/// `Invalid` when poppler cannot read the file, when it has too many pages, or when
/// rendering runs out of its time or memory; `Other` when the helper programs are
/// missing.
pub fn render(bytes: &[u8], params: &Params) -> Result<Vec<RenderedPage>, StageError> {
    let dir =
        tempfile::tempdir().map_err(|e| StageError::Other(format!("temp dir: {e}").into()))?;
    let input = dir.path().join("in.pdf");
    File::create(&input)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| StageError::Other(format!("write {}: {e}", input.display()).into()))?;

    let info = run_limited(
        Command::new("pdfinfo").arg(&input),
        params,
        dir.path(),
        "pdfinfo",
    )?;
    let pages: u32 = field(&info, "Pages:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            StageError::Invalid("malformed PDF: pdfinfo reports no page count".into())
        })?;
    if pages == 0 {
        return Err(StageError::Invalid("malformed PDF: it has no pages".into()));
    }
    if pages > params.max_pdf_pages {
        return Err(StageError::Invalid(format!(
            "PDF has {pages} pages, over the limit of {}; split it or raise options.preprocess.max_pdf_pages",
            params.max_pdf_pages
        )));
    }
    let sizes = run_limited(
        Command::new("pdfinfo")
            .args(["-f", "1", "-l", &pages.to_string()])
            .arg(&input),
        params,
        dir.path(),
        "pdfinfo",
    )?;

    let mut out = Vec::with_capacity(pages as usize);
    for page in 1..=pages {
        let (w_pt, h_pt) = page_size(&sizes, page).unwrap_or((595.0, 842.0));
        let dpi = fit_dpi(params.pdf_dpi, w_pt, h_pt, params.max_pixels);
        let root = dir.path().join(format!("page-{page}"));
        let n = page.to_string();
        run_limited(
            Command::new("pdftoppm")
                .args([
                    "-gray",
                    "-png",
                    "-singlefile",
                    "-f",
                    &n,
                    "-l",
                    &n,
                    "-r",
                    &format!("{dpi:.2}"),
                ])
                .arg(&input)
                .arg(&root),
            params,
            dir.path(),
            "pdftoppm",
        )?;
        let png = std::fs::read(root.with_extension("png")).map_err(|e| {
            StageError::Invalid(format!("malformed PDF: page {page} did not render ({e})"))
        })?;
        // The text layer, under the same limits; a page poppler cannot extract text
        // from is read from its pixels alone.
        let layout = if params.text_layer {
            run_limited(
                Command::new("pdftotext")
                    .args(["-bbox-layout", "-f", &n, "-l", &n])
                    .arg(&input)
                    .arg("-"),
                params,
                dir.path(),
                "pdftotext",
            )
            .unwrap_or_default()
        } else {
            String::new()
        };
        out.push(RenderedPage { png, dpi, layout });
    }
    Ok(out)
}

/// The DPI at which a page of `w_pt`×`h_pt` points stays within `max_pixels`.
pub fn fit_dpi(dpi: f32, w_pt: f64, h_pt: f64, max_pixels: u64) -> f32 {
    let inches = (w_pt / 72.0) * (h_pt / 72.0);
    if inches <= 0.0 {
        return dpi;
    }
    let bound = ((max_pixels as f64) / inches).sqrt() * 0.999;
    (dpi as f64).min(bound).max(1.0) as f32
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// Parses `Page    3 size: 595.276 x 841.89 pts (A4)` lines.
fn page_size(text: &str, page: u32) -> Option<(f64, f64)> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("Page")?.trim_start();
        let (n, rest) = rest.split_once(' ')?;
        if n.parse::<u32>().ok()? != page {
            return None;
        }
        let dims = rest.trim_start().strip_prefix("size:")?.trim();
        let mut it = dims.split_whitespace();
        let w = it.next()?.parse().ok()?;
        it.next()?;
        let h = it.next()?.parse().ok()?;
        Some((w, h))
    })
}

/// Runs a poppler helper with resource limits; returns its stdout.
fn run_limited(
    cmd: &mut Command,
    params: &Params,
    dir: &Path,
    name: &str,
) -> Result<String, StageError> {
    let out_path = dir.join(format!("{name}.out"));
    let err_path = dir.join(format!("{name}.err"));
    let io = |e: std::io::Error| StageError::Other(format!("{name}: {e}").into());
    let stdout = File::create(&out_path).map_err(io)?;
    let stderr = File::create(&err_path).map_err(io)?;
    let mem = params.pdf_memory_mib * 1024 * 1024;
    let cpu = params.pdf_timeout_secs.max(1);
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let as_limit = libc::rlimit {
                rlim_cur: mem,
                rlim_max: mem,
            };
            let cpu_limit = libc::rlimit {
                rlim_cur: cpu,
                rlim_max: cpu + 1,
            };
            libc::setrlimit(libc::RLIMIT_AS, &as_limit);
            libc::setrlimit(libc::RLIMIT_CPU, &cpu_limit);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        StageError::Other(
            format!(
                "cannot run {name} ({e}); install poppler-utils (apt-get install poppler-utils)"
            )
            .into(),
        )
    })?;
    let deadline = Instant::now() + Duration::from_secs(params.pdf_timeout_secs);
    let status = loop {
        match child.try_wait().map_err(io)? {
            Some(s) => break s,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StageError::Invalid(format!(
                    "PDF took longer than {} s to {}; it may be a PDF bomb",
                    params.pdf_timeout_secs,
                    if name == "pdfinfo" { "read" } else { "render" }
                )));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    if !status.success() {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let first = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        use std::os::unix::process::ExitStatusExt;
        let why = match status.signal() {
            Some(sig) => format!("{name} was killed by signal {sig} (memory or CPU limit reached)"),
            None => format!("{name} failed: {first}"),
        };
        return Err(StageError::Invalid(format!("malformed PDF: {why}")));
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_page_sizes() {
        let text = "Page    1 size: 595.276 x 841.89 pts (A4)\nPage    2 size: 1190.55 x 841.89 pts (A3)\n";
        assert_eq!(page_size(text, 2), Some((1190.55, 841.89)));
        assert_eq!(page_size(text, 3), None);
    }

    #[test]
    fn lowers_dpi_to_fit_the_pixel_bound() {
        assert_eq!(fit_dpi(300.0, 595.0, 842.0, 120_000_000), 300.0);
        // A 10 m × 10 m page at 300 DPI would be 14 gigapixels.
        let dpi = fit_dpi(300.0, 28346.0, 28346.0, 120_000_000);
        let px = (28346.0 / 72.0 * dpi as f64).powi(2);
        assert!(
            px <= 120_000_000.0 && px > 110_000_000.0,
            "{dpi} gives {px}"
        );
    }
}
