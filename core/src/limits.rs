//! Server-side maxima of per-job options: what a job may ask of a worker (pixels,
//! PDF pages, render memory and time, detector input size, …).
//!
//! One table ([`BOUNDED`]) lists every bounded option with its range; the
//! dispatcher checks submitted options against it (a 400 that names the option and
//! the limit) and the worker checks the typed options again before any work. The
//! maxima come from the environment (`DRAWPIPE_LIMIT_<NAME>`, e.g.
//! `DRAWPIPE_LIMIT_MAX_PIXELS=200000000`); dispatcher and workers must be given the
//! same values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The maxima. Defaults are the stage defaults or a little above them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest page, pixels (`preprocess.max_pixels`).
    pub max_pixels: u64,
    /// Most PDF pages (`preprocess.max_pdf_pages`).
    pub max_pdf_pages: u64,
    /// Highest PDF render resolution, DPI (`preprocess.pdf_dpi`).
    pub max_pdf_dpi: u64,
    /// Longest PDF render time, seconds (`preprocess.pdf_timeout_secs`).
    pub max_pdf_timeout_secs: u64,
    /// Largest PDF renderer address space, MiB (`preprocess.pdf_memory_mib`).
    pub max_pdf_memory_mib: u64,
    /// Largest CLAHE tile grid side (`preprocess.clahe_tiles`).
    pub max_clahe_tiles: u64,
    /// Largest OCR detector input side, pixels (`ocr.det_limit_side_len`, whatever
    /// `det_limit_type`), and tile side (`ocr.tile.size`, `edocr.tile_size`).
    pub max_det_side: u64,
    /// Most text boxes examined per detector input (`ocr.max_candidates`).
    pub max_candidates: u64,
    /// Most lines per recogniser or classifier call (`ocr.rec_batch_size`,
    /// `ocr.cls_batch_size`, `ocr.rec_infer_batch`).
    pub max_batch: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 120_000_000,
            max_pdf_pages: 50,
            max_pdf_dpi: 600,
            max_pdf_timeout_secs: 300,
            max_pdf_memory_mib: 8192,
            max_clahe_tiles: 64,
            max_det_side: 4096,
            max_candidates: 5000,
            max_batch: 64,
        }
    }
}

/// One bounded option: `options.<stage>.<path>` must lie in `[min, max(limits)]`.
#[derive(Debug, Clone, Copy)]
pub struct Bounded {
    pub stage: &'static str,
    /// Dotted path inside `options.<stage>` (`tile.size`).
    pub path: &'static str,
    pub min: f64,
    /// The maximum, from the limits.
    pub max: fn(&Limits) -> u64,
    /// The `Limits` field (and `DRAWPIPE_LIMIT_<FIELD>` variable) that sets it.
    pub limit: &'static str,
}

/// Every bounded per-job option.
pub const BOUNDED: &[Bounded] = &[
    Bounded {
        stage: "preprocess",
        path: "max_pixels",
        min: 1.0,
        max: |l| l.max_pixels,
        limit: "max_pixels",
    },
    Bounded {
        stage: "preprocess",
        path: "max_pdf_pages",
        min: 1.0,
        max: |l| l.max_pdf_pages,
        limit: "max_pdf_pages",
    },
    Bounded {
        stage: "preprocess",
        path: "pdf_dpi",
        min: 10.0,
        max: |l| l.max_pdf_dpi,
        limit: "max_pdf_dpi",
    },
    Bounded {
        stage: "preprocess",
        path: "pdf_timeout_secs",
        min: 1.0,
        max: |l| l.max_pdf_timeout_secs,
        limit: "max_pdf_timeout_secs",
    },
    Bounded {
        stage: "preprocess",
        path: "pdf_memory_mib",
        min: 64.0,
        max: |l| l.max_pdf_memory_mib,
        limit: "max_pdf_memory_mib",
    },
    Bounded {
        stage: "preprocess",
        path: "clahe_tiles",
        min: 1.0,
        max: |l| l.max_clahe_tiles,
        limit: "max_clahe_tiles",
    },
    Bounded {
        stage: "ocr",
        path: "det_limit_side_len",
        min: 32.0,
        max: |l| l.max_det_side,
        limit: "max_det_side",
    },
    Bounded {
        stage: "ocr",
        path: "tile.size",
        min: 64.0,
        max: |l| l.max_det_side,
        limit: "max_det_side",
    },
    Bounded {
        stage: "ocr",
        path: "max_candidates",
        min: 1.0,
        max: |l| l.max_candidates,
        limit: "max_candidates",
    },
    Bounded {
        stage: "ocr",
        path: "rec_batch_size",
        min: 1.0,
        max: |l| l.max_batch,
        limit: "max_batch",
    },
    Bounded {
        stage: "ocr",
        path: "cls_batch_size",
        min: 1.0,
        max: |l| l.max_batch,
        limit: "max_batch",
    },
    Bounded {
        stage: "ocr",
        path: "rec_infer_batch",
        min: 0.0,
        max: |l| l.max_batch,
        limit: "max_batch",
    },
    Bounded {
        stage: "edocr",
        path: "tile_size",
        min: 64.0,
        max: |l| l.max_det_side,
        limit: "max_det_side",
    },
];

/// An option outside its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("options.{stage}.{path}: {problem}")]
pub struct OptionError {
    pub stage: String,
    pub path: String,
    pub problem: String,
}

impl OptionError {
    /// The same error attributed to `stage` (a stage's own check may not know it).
    pub fn in_stage(mut self, stage: &str) -> OptionError {
        self.stage = stage.to_string();
        self
    }
}

impl Limits {
    /// The defaults, each overridden by `DRAWPIPE_LIMIT_<FIELD>` when set.
    ///
    /// # Errors
    /// A variable that is set but not a positive integer.
    pub fn from_env() -> Result<Limits, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Limits::from_env`] with a given lookup (tests).
    ///
    /// # Errors
    /// As [`Limits::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut l = Limits::default();
        let fields: [(&str, &mut u64); 9] = [
            ("max_pixels", &mut l.max_pixels),
            ("max_pdf_pages", &mut l.max_pdf_pages),
            ("max_pdf_dpi", &mut l.max_pdf_dpi),
            ("max_pdf_timeout_secs", &mut l.max_pdf_timeout_secs),
            ("max_pdf_memory_mib", &mut l.max_pdf_memory_mib),
            ("max_clahe_tiles", &mut l.max_clahe_tiles),
            ("max_det_side", &mut l.max_det_side),
            ("max_candidates", &mut l.max_candidates),
            ("max_batch", &mut l.max_batch),
        ];
        for (name, slot) in fields {
            let var = format!("DRAWPIPE_LIMIT_{}", name.to_ascii_uppercase());
            if let Some(text) = get(&var) {
                *slot = text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| format!("{var}={text:?} is not a positive integer"))?;
            }
        }
        Ok(l)
    }

    /// Checks one value of a bounded option (`stage`, `path` as in [`BOUNDED`]).
    ///
    /// # Errors
    /// When it lies outside its range; the message names the option and the limit.
    pub fn check(&self, stage: &str, path: &str, value: f64) -> Result<(), OptionError> {
        let Some(b) = BOUNDED.iter().find(|b| b.stage == stage && b.path == path) else {
            return Ok(());
        };
        let max = (b.max)(self);
        let err = |problem: String| OptionError {
            stage: stage.to_string(),
            path: path.to_string(),
            problem,
        };
        if !value.is_finite() || value < b.min {
            return Err(err(format!("{value} is below the minimum {}", b.min)));
        }
        if value > max as f64 {
            return Err(err(format!(
                "{value} is over this server's limit {max} (limit {}, set by DRAWPIPE_LIMIT_{})",
                b.limit,
                b.limit.to_ascii_uppercase()
            )));
        }
        Ok(())
    }

    /// Checks a job's `options` object (`{"preprocess": {...}, "ocr": {...}}`)
    /// against every bounded option it sets. Other option errors (unknown fields,
    /// wrong types) are the stage's to report.
    ///
    /// # Errors
    /// The first bounded option out of range, or not a number.
    pub fn check_options(&self, options: &Value) -> Result<(), OptionError> {
        for b in BOUNDED {
            let mut v = options.get(b.stage);
            for key in b.path.split('.') {
                v = v.and_then(|x| x.get(key));
            }
            match v {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => {
                    self.check(b.stage, b.path, n.as_f64().unwrap_or(f64::INFINITY))?
                }
                Some(other) => {
                    return Err(OptionError {
                        stage: b.stage.into(),
                        path: b.path.into(),
                        problem: format!("must be a number, not {other}"),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_over_a_limit_are_named_with_the_limit() {
        let l = Limits::default();
        struct Case {
            options: Value,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case { options: json!({}), want: Ok(()) },
            Case { options: json!({"preprocess": {"pdf_dpi": 300}}), want: Ok(()) },
            Case {
                options: json!({"preprocess": {"pdf_memory_mib": 18446744073709551615u64}}),
                want: Err("options.preprocess.pdf_memory_mib: 18446744073709552000 is over this server's limit 8192 (limit max_pdf_memory_mib, set by DRAWPIPE_LIMIT_MAX_PDF_MEMORY_MIB)"),
            },
            Case {
                options: json!({"preprocess": {"pdf_timeout_secs": 0}}),
                want: Err("options.preprocess.pdf_timeout_secs: 0 is below the minimum 1"),
            },
            Case {
                options: json!({"ocr": {"det_limit_type": "min", "det_limit_side_len": 100000}}),
                want: Err("options.ocr.det_limit_side_len: 100000 is over this server's limit 4096 (limit max_det_side, set by DRAWPIPE_LIMIT_MAX_DET_SIDE)"),
            },
            Case {
                options: json!({"ocr": {"tile": {"size": 9000}}}),
                want: Err("options.ocr.tile.size: 9000 is over this server's limit 4096 (limit max_det_side, set by DRAWPIPE_LIMIT_MAX_DET_SIDE)"),
            },
            Case {
                options: json!({"edocr": {"tile_size": "big"}}),
                want: Err("options.edocr.tile_size: must be a number, not \"big\""),
            },
        ];
        for c in cases {
            let got = l.check_options(&c.options).map_err(|e| e.to_string());
            assert_eq!(got, c.want.map_err(String::from), "{}", c.options);
        }
    }

    #[test]
    fn limits_come_from_the_environment() {
        let l = Limits::from_lookup(|k| (k == "DRAWPIPE_LIMIT_MAX_PDF_PAGES").then(|| "7".into()))
            .unwrap();
        assert_eq!(l.max_pdf_pages, 7);
        assert_eq!(l.max_pixels, Limits::default().max_pixels);
        let err = Limits::from_lookup(|k| (k == "DRAWPIPE_LIMIT_MAX_PIXELS").then(|| "-1".into()))
            .unwrap_err();
        assert!(err.contains("DRAWPIPE_LIMIT_MAX_PIXELS"), "{err}");
        let over = l.check_options(&json!({"preprocess": {"max_pdf_pages": 8}}));
        assert!(over.unwrap_err().to_string().contains("limit 7"));
    }

    #[test]
    fn defaults_lie_within_the_limits() {
        // The stage defaults (preprocess 120 MP, 50 pages, 300 DPI, 120 s, 4096 MiB,
        // 8 tiles; ocr 1536 px, tiles 1280; edocr tiles 1280) are accepted.
        let l = Limits::default();
        let defaults = json!({
            "preprocess": {"max_pixels": 120_000_000u64, "max_pdf_pages": 50, "pdf_dpi": 300.0,
                           "pdf_timeout_secs": 120, "pdf_memory_mib": 4096, "clahe_tiles": 8},
            "ocr": {"det_limit_side_len": 1536, "tile": {"size": 1280}, "max_candidates": 1000,
                    "rec_batch_size": 6, "cls_batch_size": 6, "rec_infer_batch": 0},
            "edocr": {"tile_size": 1280}
        });
        assert_eq!(l.check_options(&defaults), Ok(()));
    }
}
