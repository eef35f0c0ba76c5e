//! The `tolerance` stage: XGBoost predictions of the flatness, cylindricity, position
//! and perpendicularity a part's process achieves, plus manufacturability and
//! assemblability scores, from features of the dimensions `edocr` read.
//!
//! The model (`models/tolerance/model.ubj`) is trained by
//! `models/training/tolerance/train.py` on a documented process-capability model
//! (`capability.py`); its manifest pins the file's sha256 and lists the feature and
//! target order, which [`Features::vector`] and [`ToleranceModel::predict`] follow.
//!
//! Features (all mm unless stated):
//! - `largest_diameter_mm`: the largest Ø (or SØ) nominal; 0 for a prismatic part.
//! - `length_mm`: the largest linear nominal (else the largest diameter).
//! - `thickness_mm`: the smallest linear nominal of at least 0.5 mm (else length / 10).
//! - `hardness_hb`, `youngs_modulus_gpa`: from the material: job option, else the title
//!   block's material matched by name, else steel.
//! - `process`: job option, else `turning` for a rotational part (at least as many
//!   diameters as linear dimensions), else `milling`.
//! - `tightest_tolerance_mm`: the narrowest `upper − lower` of any length dimension;
//!   else the ISO 2768 general tolerance (the drawing's class, else `m`) of the
//!   largest size, as a width.
//!
//! Every value not read from the drawing is listed in the output's `assumptions`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::contract::{Batch, Engines, JobData, Produced, StageDef, TableRows, Validate};
use super::edocr::parse::{DimKind, Dimension, GdtFrame};
use super::estimate::{self, Estimate};
use super::qc::{self, QcItem};
use drawpipe_core::limits::OptionError;

/// Processes in the model's `process` code order (capability.py's PROCESSES).
pub const PROCESSES: [&str; 6] = [
    "grinding",
    "turning",
    "milling",
    "die_casting",
    "additive",
    "sand_casting",
];

/// Known materials: (name, hardness HB, Young's modulus GPa, name fragments matched
/// case-insensitively against the title block's material).
const MATERIALS: [(&str, f64, f64, &[&str]); 5] = [
    (
        "steel",
        200.0,
        200.0,
        &[
            "steel", "stahl", "s235", "s355", "c45", "42crmo", "1.43", "1.40", "1.03", "1.05",
            "16mncr", "inox", "aisi", "x5crni", "gs-", "st37", "st52", "ss 1", "ss 2",
        ],
    ),
    (
        "aluminum",
        50.0,
        70.0,
        &[
            "alu", "almg", "alsi", "alcu", "alzn", "6061", "6082", "7075", "2024", "en aw",
        ],
    ),
    (
        "plastic",
        15.0,
        3.0,
        &[
            "plastic",
            "kunststoff",
            "pa6",
            "pa 6",
            "pom",
            "abs",
            "ptfe",
            "peek",
            "nylon",
            "polyamid",
            "pe-hd",
            "hdpe",
            "pp ",
            "pvc",
            "pmma",
            "pc ",
        ],
    ),
    (
        "titanium",
        275.0,
        110.0,
        &["titan", "ti6al4v", "ti-6al", "grade 5", "ti gr"],
    ),
    (
        "brass",
        100.0,
        100.0,
        &["brass", "messing", "cuzn", "ms58", "cw614", "cw617"],
    ),
];

/// Per-job options (`options.tolerance`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// A known material name (steel, aluminum, plastic, titanium, brass) or any name
    /// with `hardness_hb` and `youngs_modulus_gpa` given.
    pub material: Option<String>,
    pub hardness_hb: Option<f64>,
    pub youngs_modulus_gpa: Option<f64>,
    /// One of [`PROCESSES`].
    pub process: Option<String>,
    /// Quantities to price besides the rate card's (at most 10, each 1–1,000,000).
    #[serde(default)]
    pub quantities: Vec<u32>,
}

/// What the stage reads from the `edocr` output.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub dimensions: Vec<Dimension>,
    /// The GD&T frames read (for the inspection plan).
    pub gdt: Vec<GdtFrame>,
    pub title_block: serde_json::Map<String, Value>,
}

/// The model's input row, with where each value came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Features {
    pub largest_diameter_mm: f64,
    pub length_mm: f64,
    pub thickness_mm: f64,
    pub hardness_hb: f64,
    pub youngs_modulus_gpa: f64,
    pub process: String,
    pub tightest_tolerance_mm: f64,
    pub material: String,
    pub material_source: String,
    pub process_source: String,
    /// Values not read from the drawing, in words.
    pub assumptions: Vec<String>,
}

impl Features {
    /// The row in the model's feature order (capability.py's FEATURES).
    pub fn vector(&self) -> [f32; 7] {
        let code = PROCESSES
            .iter()
            .position(|p| *p == self.process)
            .unwrap_or(2) as f32;
        [
            self.largest_diameter_mm as f32,
            self.length_mm as f32,
            self.thickness_mm as f32,
            self.hardness_hb as f32,
            self.youngs_modulus_gpa as f32,
            code,
            self.tightest_tolerance_mm as f32,
        ]
    }
}

/// One prediction.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    pub flatness_mm: f64,
    pub cylindricity_mm: f64,
    pub position_mm: f64,
    pub perpendicularity_mm: f64,
    pub manufacturability: f64,
    pub difficulty: &'static str,
    pub assemblability: f64,
}

impl Prediction {
    /// From the model's six outputs (four log10 tolerances, two scores).
    pub fn from_outputs(o: &[f32]) -> Prediction {
        let tol = |v: f32| round6(10f64.powf(v as f64));
        let score = |v: f32| round6((v as f64).clamp(0.0, 1.0));
        let manufacturability = score(o[4]);
        Prediction {
            flatness_mm: tol(o[0]),
            cylindricity_mm: tol(o[1]),
            position_mm: tol(o[2]),
            perpendicularity_mm: tol(o[3]),
            manufacturability,
            difficulty: difficulty(manufacturability),
            assemblability: score(o[5]),
        }
    }
}

/// capability.py's bands.
pub fn difficulty(score: f64) -> &'static str {
    if score >= 0.7 {
        "easy"
    } else if score >= 0.4 {
        "medium"
    } else {
        "hard"
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The model's manifest (models/tolerance/manifest.json), the fields we check.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub features: Vec<String>,
    pub targets: Vec<String>,
}

/// The loaded XGBoost model. XGBoost's predictor is not re-entrant, so calls are
/// serialised; one prediction takes microseconds.
pub struct ToleranceModel {
    booster: Mutex<xgb::Booster>,
    pub manifest: Manifest,
    device: String,
}

impl std::fmt::Debug for ToleranceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToleranceModel")
            .field("manifest", &self.manifest)
            .field("device", &self.device)
            .finish()
    }
}

/// The model folder in a model repository.
pub fn model_dir(models: &Path) -> PathBuf {
    models.join("tolerance")
}

impl ToleranceModel {
    /// Loads and verifies the model. `device` is `cpu` (default) or `cuda[:N]`;
    /// CUDA needs an XGBoost library built with it (the pinned xgboost-cpu is not), and
    /// the error says so.
    ///
    /// # Errors
    /// A missing or mismatched file, naming it; a manifest whose features or targets
    /// differ from this build's; a device XGBoost refuses.
    pub fn load(dir: &Path, device: &str) -> Result<ToleranceModel, StageError> {
        let (manifest, model_path, bytes) = crate::ort_env::read_committed_model::<Manifest>(dir)?;
        let manifest_path = dir.join("manifest.json");
        let expected_features = [
            "largest_diameter_mm",
            "length_mm",
            "thickness_mm",
            "hardness_hb",
            "youngs_modulus_gpa",
            "process",
            "tightest_tolerance_mm",
        ];
        if manifest.features != expected_features || manifest.targets.len() != 6 {
            return Err(StageError::Other(
                format!(
                    "{}: features {:?} / {} targets do not match this build's {:?} / 6",
                    manifest_path.display(),
                    manifest.features,
                    manifest.targets.len(),
                    expected_features
                )
                .into(),
            ));
        }
        let mut booster = xgb::Booster::load_buffer(&bytes).map_err(|e| {
            StageError::Other(format!("XGBoost cannot load {}: {e}", model_path.display()).into())
        })?;
        let device = if device.is_empty() { "cpu" } else { device };
        booster.set_param("device", device).map_err(|e| {
            StageError::Other(format!("XGBoost refuses device {device}: {e}").into())
        })?;
        Ok(ToleranceModel {
            booster: Mutex::new(booster),
            manifest,
            device: device.to_string(),
        })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// Predicts rows (each in the model's feature order): six outputs per row.
    ///
    /// # Errors
    /// When XGBoost fails.
    pub fn predict_rows(&self, rows: &[[f32; 7]]) -> Result<Vec<[f32; 6]>, StageError> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let dmat = xgb::DMatrix::from_dense(&flat, rows.len())
            .map_err(|e| StageError::Other(format!("XGBoost DMatrix: {e}").into()))?;
        let out = {
            let booster = self.booster.lock().unwrap_or_else(|p| p.into_inner());
            booster
                .predict(&dmat)
                .map_err(|e| StageError::Other(format!("XGBoost predict: {e}").into()))?
        };
        if out.len() != rows.len() * 6 {
            return Err(StageError::Other(
                format!(
                    "XGBoost returned {} values for {} rows × 6 targets",
                    out.len(),
                    rows.len()
                )
                .into(),
            ));
        }
        Ok(out
            .chunks_exact(6)
            .map(|c| [c[0], c[1], c[2], c[3], c[4], c[5]])
            .collect())
    }
}

/// Derives the features of one job (see the module doc for the rules).
///
/// # Errors
/// `Invalid` for an unknown process, or an unknown material without its properties.
pub fn features(params: &Params, input: &Input) -> Result<Features, StageError> {
    let mut assumptions = Vec::new();
    let mut diameters = Vec::new();
    let mut linears = Vec::new();
    let mut tightest: Option<f64> = None;
    let mut general_class: Option<String> = None;
    for d in &input.dimensions {
        if let Some(g) = &d.general_tolerance {
            general_class.get_or_insert_with(|| g.clone());
        }
        let Some(nominal) = d.nominal else {
            continue;
        };
        let scale = match d.unit.as_str() {
            "mm" => 1.0,
            "in" => 25.4,
            _ => continue,
        };
        let nominal = nominal * scale;
        match d.kind {
            DimKind::Diameter | DimKind::SphericalDiameter => diameters.push(nominal),
            DimKind::Linear => linears.push(nominal),
            _ => {}
        }
        if matches!(
            d.kind,
            DimKind::Diameter
                | DimKind::SphericalDiameter
                | DimKind::Linear
                | DimKind::Radius
                | DimKind::SphericalRadius
        ) {
            if let (Some(u), Some(l)) = (d.upper, d.lower) {
                let width = (u - l) * scale;
                if width > 0.0 {
                    tightest = Some(tightest.map_or(width, |t: f64| t.min(width)));
                }
            }
        }
    }
    if let Some(g) = input
        .title_block
        .get("general_tolerance")
        .and_then(Value::as_str)
    {
        general_class.get_or_insert_with(|| g.to_string());
    }
    let max = |v: &[f64]| {
        v.iter()
            .copied()
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    let largest_diameter_mm = max(&diameters).unwrap_or(0.0);
    let length_mm = match max(&linears) {
        Some(l) => l,
        None if largest_diameter_mm > 0.0 => {
            assumptions.push("no linear dimension: length taken as the largest diameter".into());
            largest_diameter_mm
        }
        None => {
            assumptions.push("no dimension read: length assumed 100 mm".into());
            100.0
        }
    };
    let thickness_mm = match linears
        .iter()
        .copied()
        .filter(|&l| l >= 0.5)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
    {
        Some(t) => t,
        None => {
            assumptions.push("no linear dimension: thickness assumed length / 10".into());
            length_mm / 10.0
        }
    };
    let largest = largest_diameter_mm.max(length_mm);
    let tightest_tolerance_mm = match tightest {
        Some(t) => t,
        None => {
            let class = general_class
                .as_deref()
                .and_then(iso2768_class)
                .unwrap_or('m');
            let width = 2.0 * iso2768_deviation(class, largest);
            assumptions.push(format!(
                "no toleranced dimension: tightest tolerance taken as ISO 2768-{class} at {largest} mm (±{})",
                width / 2.0
            ));
            width
        }
    };

    // Material: options, else the title block, else steel.
    let (material, hardness_hb, youngs_modulus_gpa, material_source) = match (
        &params.material,
        params.hardness_hb,
        params.youngs_modulus_gpa,
    ) {
        (name, Some(h), Some(e)) => (
            name.clone().unwrap_or_else(|| "custom".into()),
            h,
            e,
            "options",
        ),
        (Some(name), _, _) => {
            let (n, h, e) = known_material(name).ok_or_else(|| {
                    StageError::invalid(format!(
                        "options.tolerance.material {name:?} is not one of steel, aluminum, plastic, titanium, brass; \
                         give hardness_hb and youngs_modulus_gpa with it"
                    ))
                })?;
            (n.to_string(), h, e, "options")
        }
        (None, _, _) => match input
            .title_block
            .get("material")
            .and_then(Value::as_str)
            .and_then(|m| match_material(m).map(|r| (m, r)))
        {
            Some((_, (n, h, e))) => (n.to_string(), h, e, "title_block"),
            None => {
                assumptions.push("material not found: steel assumed".into());
                ("steel".into(), 200.0, 200.0, "default")
            }
        },
    };

    let (process, process_source) = match &params.process {
        Some(p) => {
            let p = p.trim().to_ascii_lowercase().replace([' ', '-'], "_");
            if !PROCESSES.contains(&p.as_str()) {
                return Err(StageError::invalid(format!(
                    "options.tolerance.process {p:?} is not one of {}",
                    PROCESSES.join(", ")
                )));
            }
            (p, "options")
        }
        None => {
            let rotational = !diameters.is_empty() && diameters.len() >= linears.len();
            let p = if rotational { "turning" } else { "milling" };
            assumptions.push(format!(
                "process not given: {p} assumed ({} diameters, {} linear dimensions)",
                diameters.len(),
                linears.len()
            ));
            (p.to_string(), "default")
        }
    };

    Ok(Features {
        largest_diameter_mm,
        length_mm,
        thickness_mm,
        hardness_hb,
        youngs_modulus_gpa,
        process,
        tightest_tolerance_mm,
        material,
        material_source: material_source.into(),
        process_source: process_source.into(),
        assumptions,
    })
}

fn known_material(name: &str) -> Option<(&'static str, f64, f64)> {
    let n = name.trim().to_ascii_lowercase();
    MATERIALS
        .iter()
        .find(|m| m.0 == n || (n == "aluminium" && m.0 == "aluminum"))
        .map(|m| (m.0, m.1, m.2))
}

/// Matches a title block's material text (`S235JR`, `AlMg3`, `PA6`, …) to a known one.
pub fn match_material(text: &str) -> Option<(&'static str, f64, f64)> {
    let t = format!("{} ", text.to_lowercase());
    known_material(text.trim()).or_else(|| {
        MATERIALS
            .iter()
            .find(|m| m.3.iter().any(|frag| t.contains(frag)))
            .map(|m| (m.0, m.1, m.2))
    })
}

/// The class letter of an `ISO 2768-m` / `ISO 2768-mK` text.
fn iso2768_class(text: &str) -> Option<char> {
    let after = text.rsplit('-').next()?;
    after
        .chars()
        .next()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| matches!(c, 'f' | 'm' | 'c' | 'v'))
}

/// ISO 2768-1 permissible deviation (±, mm) for linear sizes.
pub fn iso2768_deviation(class: char, size_mm: f64) -> f64 {
    // Upper bounds of the size ranges, then f, m, c, v deviations.
    const TABLE: [(f64, [f64; 4]); 8] = [
        (3.0, [0.05, 0.1, 0.2, 0.2]),
        (6.0, [0.05, 0.1, 0.3, 0.5]),
        (30.0, [0.1, 0.2, 0.5, 1.0]),
        (120.0, [0.15, 0.3, 0.8, 1.5]),
        (400.0, [0.2, 0.5, 1.2, 2.5]),
        (1000.0, [0.3, 0.8, 2.0, 4.0]),
        (2000.0, [0.5, 1.2, 3.0, 6.0]),
        (f64::INFINITY, [0.5, 2.0, 4.0, 8.0]),
    ];
    let col = match class {
        'f' => 0,
        'c' => 2,
        'v' => 3,
        _ => 1,
    };
    TABLE
        .iter()
        .find(|(upto, _)| size_mm <= *upto)
        .map(|(_, d)| d[col])
        .unwrap_or(2.0)
}

/// Runs the stage for one job.
///
/// # Errors
/// `Invalid` for bad options; `Other` when XGBoost fails.
pub fn run(model: &ToleranceModel, params: &Params, input: &Input) -> Result<Output, StageError> {
    let f = features(params, input)?;
    let estimate = estimate::estimate(
        estimate::rate_card().map_err(|e| StageError::Other(e.into()))?,
        &estimate_part(input, &f),
        &params.quantities,
    );
    let out = model.predict_rows(&[f.vector()])?;
    let p = Prediction::from_outputs(&out[0]);
    Ok(Output {
        tolerances: Tolerances {
            flatness_mm: p.flatness_mm,
            cylindricity_mm: p.cylindricity_mm,
            position_mm: p.position_mm,
            perpendicularity_mm: p.perpendicularity_mm,
            manufacturability: Manufacturability {
                score: p.manufacturability,
                difficulty: p.difficulty.to_string(),
            },
            assemblability: Assemblability {
                score: p.assemblability,
            },
            material: Material {
                name: f.material,
                hardness_hb: f.hardness_hb,
                youngs_modulus_gpa: f.youngs_modulus_gpa,
                source: f.material_source,
            },
            process: Process {
                name: f.process,
                source: f.process_source,
            },
            features: PartFeatures {
                largest_diameter_mm: f.largest_diameter_mm,
                length_mm: f.length_mm,
                thickness_mm: f.thickness_mm,
                tightest_tolerance_mm: f.tightest_tolerance_mm,
            },
            assumptions: f.assumptions,
            model: ModelInfo {
                name: model.manifest.name.clone(),
                version: model.manifest.version.clone(),
                sha256: model.manifest.sha256.clone(),
            },
        },
        qc: qc::plan(&input.dimensions, &input.gdt),
        estimate: Some(estimate),
    })
}

/// What the estimate needs, from the dimensions and the features the model used.
fn estimate_part(input: &Input, f: &Features) -> estimate::Part {
    let mut linears: Vec<f64> = Vec::new();
    let (mut features, mut holes, mut threads, mut ground) = (0u32, 0u32, 0u32, 0u32);
    for d in input.dimensions.iter().filter(|d| !d.reference) {
        let n = d.count.unwrap_or(1).max(1);
        features += n;
        if d.thread.is_some() {
            threads += n;
        } else if d.kind == DimKind::Diameter {
            holes += n;
        }
        if d.kind == DimKind::Linear && d.unit == "mm" {
            linears.extend(d.nominal);
        }
        let fine_fit = d.fit.as_deref().is_some_and(|fit| {
            fit.split('/').any(|c| {
                let grade: String = c.chars().filter(char::is_ascii_digit).collect();
                grade.parse::<u8>().is_ok_and(|g| g <= 7)
            })
        });
        let fine_finish =
            d.roughness.as_deref() == Some("Ra") && d.nominal.is_some_and(|ra| ra <= 0.8);
        if fine_fit || fine_finish {
            ground += n;
        }
    }
    linears.sort_by(|a, b| b.total_cmp(a));
    estimate::Part {
        material: f.material.clone(),
        process: f.process.clone(),
        largest_diameter_mm: f.largest_diameter_mm,
        length_mm: f.length_mm,
        width_mm: linears.get(1).copied(),
        thickness_mm: f.thickness_mm,
        tightest_tolerance_mm: f.tightest_tolerance_mm,
        features,
        holes,
        threads,
        ground,
    }
}

/// `tolerance`'s output: the predictions and the inspection plan
/// ([`qc::plan`]: the report's `qc` key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub tolerances: Tolerances,
    #[serde(default)]
    pub qc: Vec<QcItem>,
    /// The cost estimate ([`estimate::estimate`]: the report's `estimate` key).
    #[serde(default)]
    pub estimate: Option<Estimate>,
}

/// The predicted tolerances and scores, with the inputs they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    pub flatness_mm: f64,
    pub cylindricity_mm: f64,
    pub position_mm: f64,
    pub perpendicularity_mm: f64,
    pub manufacturability: Manufacturability,
    pub assemblability: Assemblability,
    pub material: Material,
    pub process: Process,
    pub features: PartFeatures,
    pub assumptions: Vec<String>,
    pub model: ModelInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manufacturability {
    pub score: f64,
    pub difficulty: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assemblability {
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    pub hardness_hb: f64,
    pub youngs_modulus_gpa: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub name: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartFeatures {
    pub largest_diameter_mm: f64,
    pub length_mm: f64,
    pub thickness_mm: f64,
    pub tightest_tolerance_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

impl Validate for Params {
    fn validate(&self, _limits: &drawpipe_core::limits::Limits) -> Result<(), OptionError> {
        let bad = |problem: String| OptionError {
            stage: "tolerance".into(),
            path: "quantities".into(),
            problem,
        };
        if self.quantities.len() > 10 {
            return Err(bad(format!(
                "{} quantities; at most 10",
                self.quantities.len()
            )));
        }
        if let Some(q) = self
            .quantities
            .iter()
            .find(|q| !(1..=1_000_000).contains(*q))
        {
            return Err(bad(format!("{q} is not between 1 and 1000000")));
        }
        Ok(())
    }
}

/// `tolerance_predictions` table columns.
const ESTIMATE_COLUMNS: &str =
    "quantity int, unit_price float8, total float8, currency text, lines jsonb";
const QC_COLUMNS: &str = "item_index int, balloon int, characteristic text, raw text, nominal float8, \
                          unit text, tolerance text, lower_limit float8, upper_limit float8, method text, \
                          sampling text, source text";
const TOLERANCE_COLUMNS: &str = "flatness_mm float8, cylindricity_mm float8, position_mm float8, \
                                 perpendicularity_mm float8, manufacturability float8, difficulty text, \
                                 assemblability float8, material text, material_source text, process text, \
                                 process_source text, features jsonb, assumptions text[], model_version text";

/// One `tolerance_predictions` row.
#[derive(Serialize)]
struct ToleranceRow<'a> {
    flatness_mm: f64,
    cylindricity_mm: f64,
    position_mm: f64,
    perpendicularity_mm: f64,
    manufacturability: f64,
    difficulty: &'a str,
    assemblability: f64,
    material: &'a str,
    material_source: &'a str,
    process: &'a str,
    process_source: &'a str,
    features: &'a PartFeatures,
    assumptions: &'a [String],
    model_version: &'a str,
}

/// The stage: tolerances from the `edocr` output and the job's options.
pub struct Tolerance;

impl StageDef for Tolerance {
    const STAGE: Stage = Stage::Tolerance;
    const INPUTS: &'static [Stage] = &[Stage::Edocr];
    /// One prediction is microseconds: the whole batch runs in one call.
    const BATCH: Batch = Batch::Fused;
    type Params = Params;
    type Input = Input;
    type Output = Output;
    type Engine = ToleranceModel;

    fn load(engines: &Engines) -> Result<Arc<ToleranceModel>, StageError> {
        let model = ToleranceModel::load(&model_dir(&engines.models), &engines.tolerance_device)?;
        tracing::info!(device = model.device(), version = %model.manifest.version, "tolerance model ready");
        Ok(Arc::new(model))
    }

    fn device(model: &ToleranceModel) -> String {
        model.device().to_string()
    }

    fn input(mut data: JobData) -> Result<Input, StageError> {
        Ok(match data.output::<super::edocr::Edocr>()? {
            Some(out) => Input {
                dimensions: out.dimensions.into_iter().map(|d| d.dimension).collect(),
                gdt: out.gdt.into_iter().map(|g| g.frame).collect(),
                title_block: out.title_block,
            },
            None => Input::default(),
        })
    }

    fn run(
        model: &ToleranceModel,
        jobs: Vec<(Params, Input)>,
    ) -> Vec<Result<Produced<Output>, StageError>> {
        jobs.iter()
            .map(|(params, input)| run(model, params, input).map(Produced::from))
            .collect()
    }

    fn rows(output: &Output) -> Vec<TableRows> {
        let t = &output.tolerances;
        let row = ToleranceRow {
            flatness_mm: t.flatness_mm,
            cylindricity_mm: t.cylindricity_mm,
            position_mm: t.position_mm,
            perpendicularity_mm: t.perpendicularity_mm,
            manufacturability: t.manufacturability.score,
            difficulty: &t.manufacturability.difficulty,
            assemblability: t.assemblability.score,
            material: &t.material.name,
            material_source: &t.material.source,
            process: &t.process.name,
            process_source: &t.process.source,
            features: &t.features,
            assumptions: &t.assumptions,
            model_version: &t.model.version,
        };
        let mut tables = TableRows::non_empty(
            "tolerance_predictions",
            TOLERANCE_COLUMNS,
            vec![serde_json::to_value(row).unwrap_or_default()],
        );
        let items: Vec<Value> = output
            .qc
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let mut v = serde_json::to_value(item).ok()?;
                v["item_index"] = Value::from(i);
                Some(v)
            })
            .collect();
        tables.extend(TableRows::non_empty("qc_items", QC_COLUMNS, items));
        let prices: Vec<Value> = output
            .estimate
            .iter()
            .flat_map(|e| {
                e.quantities.iter().map(|q| {
                    serde_json::json!({
                        "quantity": q.quantity,
                        "unit_price": q.unit_price,
                        "total": q.total,
                        "currency": e.currency,
                        "lines": q.lines,
                    })
                })
            })
            .collect();
        tables.extend(TableRows::non_empty("estimates", ESTIMATE_COLUMNS, prices));
        tables
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> ToleranceModel {
        let dir = model_dir(&crate::ort_env::models_dir());
        ToleranceModel::load(&dir, "cpu").expect("load the committed tolerance model")
    }

    /// The Rust predictions equal the training script's on the same held-out rows.
    #[test]
    fn predictions_equal_the_training_script() {
        let m = model();
        let path = model_dir(&crate::ort_env::models_dir()).join("check_rows.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.len(), 13, "7 features + 6 predictions");
        let mut rows = Vec::new();
        let mut expected = Vec::new();
        for line in lines {
            let v: Vec<f32> = line
                .split(',')
                .map(|s| s.parse::<f64>().unwrap() as f32)
                .collect();
            rows.push([v[0], v[1], v[2], v[3], v[4], v[5], v[6]]);
            expected.push([v[7], v[8], v[9], v[10], v[11], v[12]]);
        }
        assert!(rows.len() >= 50, "{} rows", rows.len());
        let got = m.predict_rows(&rows).unwrap();
        let mut worst = 0f32;
        for (g, e) in got.iter().zip(&expected) {
            for (a, b) in g.iter().zip(e) {
                worst = worst.max((a - b).abs());
            }
        }
        assert!(worst <= 1e-5, "largest difference {worst}");
        // And the rows are not trivially the same prediction.
        let distinct: std::collections::BTreeSet<i64> =
            got.iter().map(|g| (g[0] * 1e4) as i64).collect();
        assert!(distinct.len() > 20);
    }

    fn dim(kind: &str, nominal: f64, upper: Option<f64>, lower: Option<f64>) -> Dimension {
        serde_json::from_value(json!({
            "raw": "", "kind": kind, "nominal": nominal, "unit": "mm", "upper": upper,
            "lower": lower, "reference": false, "basic": false,
        }))
        .unwrap()
    }

    #[test]
    fn features_from_dimensions_and_title_block() {
        let input = Input {
            dimensions: vec![
                dim("diameter", 38.0, Some(0.25), Some(0.0)),
                dim("diameter", 21.5, Some(0.1), Some(-0.1)),
                dim("linear", 16.0, None, None),
                dim("linear", 5.0, None, None),
                dim("chamfer", 1.0, None, None),
            ],
            title_block: json!({"material": "SS 1914", "general_tolerance": "ISO 2768-m"})
                .as_object()
                .unwrap()
                .clone(),
            ..Input::default()
        };
        let f = features(&Params::default(), &input).unwrap();
        assert_eq!(f.largest_diameter_mm, 38.0);
        assert_eq!(f.length_mm, 16.0);
        assert_eq!(f.thickness_mm, 5.0);
        assert!((f.tightest_tolerance_mm - 0.2).abs() < 1e-9);
        assert_eq!(f.process, "turning");
        assert_eq!(f.process_source, "default");
        // "SS 1914" is a Swedish standard steel.
        assert_eq!(
            (f.material.as_str(), f.material_source.as_str()),
            ("steel", "title_block")
        );
        let unknown = Input {
            title_block: json!({"material": "Unobtainium 7"})
                .as_object()
                .unwrap()
                .clone(),
            ..input.clone()
        };
        let f = features(&Params::default(), &unknown).unwrap();
        assert_eq!(
            (f.material.as_str(), f.material_source.as_str()),
            ("steel", "default")
        );
        assert!(f.assumptions.iter().any(|a| a.contains("steel assumed")));

        let alu = Input {
            title_block: json!({"material": "EN AW-6082 T6"})
                .as_object()
                .unwrap()
                .clone(),
            ..Input::default()
        };
        let f = features(&Params::default(), &alu).unwrap();
        assert_eq!(
            (f.material.as_str(), f.material_source.as_str()),
            ("aluminum", "title_block")
        );
        assert_eq!(f.youngs_modulus_gpa, 70.0);
        // No dimensions: general tolerance of the assumed 100 mm length, ISO 2768-m ±0.3.
        assert!((f.tightest_tolerance_mm - 0.6).abs() < 1e-9);

        let bad = Params {
            process: Some("welding".into()),
            ..Params::default()
        };
        let err = features(&bad, &alu).unwrap_err().to_string();
        assert!(err.contains("welding") && err.contains("turning"), "{err}");
    }

    #[test]
    fn predictions_follow_the_capability_model() {
        let m = model();
        let part = |tightest: f64| Input {
            dimensions: vec![
                dim(
                    "diameter",
                    40.0,
                    Some(tightest / 2.0),
                    Some(-tightest / 2.0),
                ),
                dim("linear", 120.0, None, None),
                dim("linear", 20.0, None, None),
            ],
            ..Input::default()
        };
        let run_with = |process: &str, tightest: f64| {
            let params = Params {
                process: Some(process.into()),
                ..Params::default()
            };
            let out = serde_json::to_value(run(&m, &params, &part(tightest)).unwrap()).unwrap();
            out["tolerances"].clone()
        };
        let ground = run_with("grinding", 0.05);
        let cast = run_with("sand_casting", 0.05);
        // Grinding holds form and position far tighter than sand casting.
        for key in [
            "flatness_mm",
            "cylindricity_mm",
            "position_mm",
            "perpendicularity_mm",
        ] {
            let (g, c) = (ground[key].as_f64().unwrap(), cast[key].as_f64().unwrap());
            assert!(
                g > 0.0 && g * 5.0 < c,
                "{key}: grinding {g}, sand casting {c}"
            );
        }
        // A ±0.025 requirement is easy to grind and hard to sand-cast.
        assert_eq!(ground["manufacturability"]["difficulty"], "easy");
        assert_eq!(cast["manufacturability"]["difficulty"], "hard");
        assert_eq!(ground["material"]["name"], "steel");
        assert_eq!(ground["process"]["source"], "options");
    }
}
