//! The stage contract: what every stage declares and implements ([`StageDef`]), the
//! data the drivers load for it ([`JobData`]), and the type-erased view
//! ([`AnyStage`]) through which the worker runtime and `drawpipe analyze` drive
//! every stage (see [`super::registry`]).
//!
//! A stage is pure: no queues, no database. Its driver loads a job's options, the
//! drawing, the page rasters and the outputs of the stages it reads, as the stage
//! declares; the stage turns them into its typed [`StageDef::Input`], runs a batch,
//! and returns typed outputs; the driver stores them (JSON in `stage_runs.output`,
//! page rasters in `pages`, result rows with the report).
//!
//! Invariants:
//! - a stage's stored output is `serde_json::to_value(&Output)`; a stage that reads
//!   another stage's output deserialises it as that stage's `Output` type, so a
//!   renamed field is a compile error or a loud `Invalid`, never a silent NULL;
//! - per-job options deserialise into `Params` (unknown fields refused) and are
//!   checked against [`Limits`] before any work;
//! - load-time settings (device, threads, precision) live in [`Engines`], not in
//!   per-job options.

use std::any::Any;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use drawpipe_core::limits::{Limits, OptionError};
use drawpipe_core::report::DrawingInfo;
use drawpipe_core::{JobId, Stage, StageError};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;

use super::ocr::{self, OcrEngine};
use super::report::StageRun;
use super::{PageRaster, Pages};
use crate::ort_env::Device;

/// How a driver hands a batch of jobs to a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// One call per job; jobs of a batch run side by side on the blocking pool.
    PerJob,
    /// One call for the whole batch (the stage fuses the jobs' work, e.g. one
    /// recogniser pass over every job's lines); each job is charged the call's time.
    Fused,
}

/// What a driver loads for a job of a stage, beyond its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// The submitted file's bytes.
    pub content: bool,
    /// The page rasters `preprocess` stored.
    pub pages: bool,
    /// Every other stage run of the job (status, error, output): `report`.
    pub runs: bool,
}

/// One job's data as the driver loaded it; a stage's [`StageDef::input`] takes
/// what it declared from here.
#[derive(Debug, Clone)]
pub struct JobData {
    pub job_id: JobId,
    pub drawing: DrawingInfo,
    /// The file's bytes, when [`Needs::content`].
    pub content: Option<Vec<u8>>,
    /// `(page index, grayscale PNG)`, when [`Needs::pages`]; `None` when the job has
    /// no stored page.
    pub pages: Option<Pages>,
    /// Outputs of the stages listed in [`StageDef::INPUTS`] that produced one.
    pub outputs: BTreeMap<Stage, Value>,
    /// The job's other stage runs, in stage order, when [`Needs::runs`].
    pub runs: Vec<StageRun>,
    /// This stage's attempt number for the job (1 for the first).
    pub attempts: u32,
}

impl Needs {
    /// The stored page rasters only (the page stages).
    pub const PAGES: Needs = Needs {
        content: false,
        pages: true,
        runs: false,
    };
}

impl JobData {
    /// An empty job record (`drawpipe analyze` and tests fill in what a stage needs).
    pub fn new(job_id: JobId, drawing: DrawingInfo) -> JobData {
        JobData {
            job_id,
            drawing,
            content: None,
            pages: None,
            outputs: BTreeMap::new(),
            runs: Vec::new(),
            attempts: 1,
        }
    }

    /// The stored page rasters.
    ///
    /// # Errors
    /// `Invalid` naming `stage` when the job has none.
    pub fn take_pages(&mut self, stage: Stage) -> Result<Pages, StageError> {
        self.pages.take().ok_or_else(|| {
            StageError::invalid(format!(
                "{stage}: the job has no page rasters (preprocess stored none)"
            ))
        })
    }

    /// The file's bytes.
    ///
    /// # Errors
    /// `Other` when the driver did not load them (a driver bug, retried).
    pub fn take_content(&mut self, stage: Stage) -> Result<Vec<u8>, StageError> {
        self.content
            .take()
            .ok_or_else(|| StageError::Other(format!("{stage}: the drawing was not loaded").into()))
    }

    /// The output of stage `S`, as `S`'s typed output; `None` when `S` produced none
    /// (not in the plan, or it failed: a soft input).
    ///
    /// # Errors
    /// `Invalid` when the stored output does not have `S`'s shape.
    pub fn output<S: StageDef>(&mut self) -> Result<Option<S::Output>, StageError> {
        match self.outputs.remove(&S::STAGE) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| StageError::invalid(format!("malformed {} output: {e}", S::STAGE))),
        }
    }
}

/// What one job's run produced: the output stored in `stage_runs.output`, and page
/// rasters for the `pages` table (only `preprocess` has any).
#[derive(Debug)]
pub struct Produced<O> {
    pub output: O,
    pub pages: Vec<PageRaster>,
}

impl<O> From<O> for Produced<O> {
    fn from(output: O) -> Self {
        Produced {
            output,
            pages: Vec::new(),
        }
    }
}

/// Rows for one result table, written with the job's report: `columns` is the
/// `jsonb_to_recordset` column list (`name type, …`), each row a JSON object with
/// those keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub table: &'static str,
    pub columns: &'static str,
    pub rows: Vec<Value>,
}

impl TableRows {
    /// `rows` for `table`, or nothing when there are none.
    pub fn non_empty(
        table: &'static str,
        columns: &'static str,
        rows: Vec<Value>,
    ) -> Vec<TableRows> {
        if rows.is_empty() {
            return Vec::new();
        }
        vec![TableRows {
            table,
            columns,
            rows,
        }]
    }

    /// The column names of [`TableRows::columns`].
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns
            .split(',')
            .filter_map(|c| c.split_whitespace().next())
            .collect()
    }
}

/// A stage's own rules for its per-job options (ranges that are not server limits).
/// The bounded options of `core::limits::BOUNDED` are checked for every stage by the
/// driver, at submission and again before any work; most stages add nothing here.
pub trait Validate {
    /// # Errors
    /// The first option out of range.
    fn validate(&self, _limits: &Limits) -> Result<(), OptionError> {
        Ok(())
    }
}

/// One stage. Implement this in the stage's module and add one line to
/// [`super::registry::Registry::builtin`]; the drivers do the rest.
pub trait StageDef: Send + Sync + 'static {
    /// Its identity in the stage graph (`drawpipe_core::Stage`: name, pool, deps).
    const STAGE: Stage;
    /// Stages whose outputs it reads (as their typed outputs, via [`JobData::output`]).
    const INPUTS: &'static [Stage] = &[];
    const NEEDS: Needs = Needs {
        content: false,
        pages: false,
        runs: false,
    };
    const BATCH: Batch = Batch::PerJob;
    /// Per-job options (`options.<stage>`); unknown fields must be refused.
    type Params: Serialize + DeserializeOwned + Default + Validate + Send + Sync + 'static;
    type Input: Send + 'static;
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// What it loads once per worker (models); `()` when nothing.
    type Engine: Send + Sync + 'static;

    /// Loads the engine with the worker's load-time settings.
    ///
    /// # Errors
    /// When a model cannot be opened.
    fn load(engines: &Engines) -> Result<Arc<Self::Engine>, StageError>;

    /// Where the engine runs (`cpu`, `cuda:0`).
    fn device(_engine: &Self::Engine) -> String {
        "cpu".into()
    }

    /// Takes this stage's typed input from the loaded job data.
    ///
    /// # Errors
    /// `Invalid` when the job lacks what the stage needs.
    fn input(data: JobData) -> Result<Self::Input, StageError>;

    /// Runs a batch (one job for [`Batch::PerJob`]); one result per job, in order.
    fn run(
        engine: &Self::Engine,
        jobs: Vec<(Self::Params, Self::Input)>,
    ) -> Vec<Result<Produced<Self::Output>, StageError>>;

    /// The result-table rows of one output (written with the job's report).
    fn rows(_output: &Self::Output) -> Vec<TableRows> {
        Vec::new()
    }
}

/// Load-time settings shared by every stage's engine, and the engines stages share
/// (`ocr` and `edocr` use one OCR engine).
pub struct Engines {
    pub models: PathBuf,
    /// Device for ONNX Runtime models (`auto` picks CUDA when it loads).
    pub device: Device,
    /// Arithmetic of the OCR recogniser and classifier.
    pub ocr_precision: ocr::Precision,
    /// Arithmetic of the OCR detector.
    pub ocr_det_precision: ocr::Precision,
    /// Arithmetic of the OCR detector in `edocr`'s native-resolution sweep.
    pub ocr_sweep_precision: ocr::Precision,
    /// Arithmetic of the `detect` stage's symbol detector.
    pub detect_precision: ocr::Precision,
    /// Intra-op threads per OCR model; 0: one per physical core.
    pub ocr_threads: usize,
    /// XGBoost device for `tolerance` (`cpu`, `cuda:N`).
    pub tolerance_device: String,
    /// `vl`'s providers; `None`: read from the environment when `vl` loads
    /// (`vl::config::Config::from_env`).
    pub vl: Option<super::vl::config::Config>,
    pub(crate) ocr: Mutex<Option<Arc<OcrEngine>>>,
}

impl Default for Engines {
    /// The defaults, with the OCR precisions the worker's variables set
    /// (`DRAWPIPE_OCR_PRECISION`, `DRAWPIPE_OCR_DET_PRECISION`,
    /// `DRAWPIPE_OCR_SWEEP_PRECISION`, `DRAWPIPE_DETECT_PRECISION`), so that `drawpipe analyze` and `eval` honour
    /// them too; a value that does not parse is named in a warning and not used.
    fn default() -> Self {
        let ocr = ocr::EngineConfig::default();
        let from_env = |name: &str, default: ocr::Precision| match std::env::var(name) {
            Ok(v) => v.parse().unwrap_or_else(|e| {
                tracing::warn!(variable = name, value = %v, error = %e, "ignored");
                default
            }),
            Err(_) => default,
        };
        Engines {
            models: crate::ort_env::models_dir(),
            device: Device::Auto,
            ocr_precision: from_env("DRAWPIPE_OCR_PRECISION", ocr.precision),
            ocr_det_precision: from_env("DRAWPIPE_OCR_DET_PRECISION", ocr.det_precision),
            ocr_sweep_precision: from_env("DRAWPIPE_OCR_SWEEP_PRECISION", ocr.sweep_precision),
            detect_precision: from_env("DRAWPIPE_DETECT_PRECISION", ocr::Precision::Auto),
            ocr_threads: ocr.threads,
            tolerance_device: "cpu".into(),
            vl: None,
            ocr: Mutex::new(None),
        }
    }
}

impl Engines {
    /// These settings with `vl`'s providers given (instead of read from the
    /// environment).
    pub fn with_vl(mut self, config: super::vl::config::Config) -> Engines {
        self.vl = Some(config);
        self
    }

    /// The OCR engine, loaded on first use and shared.
    ///
    /// # Errors
    /// When the OCR models cannot be opened.
    pub fn ocr(&self) -> Result<Arc<OcrEngine>, StageError> {
        let mut slot = self.ocr.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let config = ocr::EngineConfig {
            device: self.device,
            precision: self.ocr_precision,
            det_precision: self.ocr_det_precision,
            sweep_precision: self.ocr_sweep_precision,
            threads: self.ocr_threads,
            ..ocr::EngineConfig::default()
        };
        let engine = OcrEngine::load_with(&self.models, &config)?;
        // `DRAWPIPE_CALLOUT=off` reads with PP-OCR alone (to measure what it adds).
        let callout = match std::env::var("DRAWPIPE_CALLOUT").as_deref() {
            Ok("off" | "0" | "false") => None,
            _ => ocr::CalloutReader::load(&self.models, Device::Cpu, 1)?,
        };
        let engine = Arc::new(engine.with_callout(callout));
        *slot = Some(engine.clone());
        Ok(engine)
    }
}

/// A loaded engine, type-erased, with the device it runs on.
#[derive(Clone)]
pub struct LoadedEngine {
    engine: Arc<dyn Any + Send + Sync>,
    pub device: String,
}

/// What a driver gets back for one job: the JSON to store and the page rasters.
#[derive(Debug)]
pub struct Done {
    pub output: Value,
    pub pages: Vec<PageRaster>,
    pub device: String,
}

/// One job handed to a stage: its `options.<stage>` (absent: defaults) and data.
pub type JobIn = (Option<Value>, JobData);

/// A stage seen by the drivers: typed work behind JSON in and out.
pub trait AnyStage: Send + Sync {
    fn stage(&self) -> Stage;
    fn inputs(&self) -> &'static [Stage];
    fn needs(&self) -> Needs;
    fn batch(&self) -> Batch;
    /// # Errors
    /// When the engine cannot be loaded.
    fn load(&self, engines: &Engines) -> Result<LoadedEngine, StageError>;
    /// Runs a batch: options parsed and checked, inputs taken, work done; one result
    /// per job, in order.
    fn run(
        &self,
        engine: &LoadedEngine,
        limits: &Limits,
        jobs: Vec<JobIn>,
    ) -> Vec<Result<Done, StageError>>;
    /// The result rows of a stored output.
    ///
    /// # Errors
    /// `Invalid` when the output does not have the stage's output shape.
    fn rows(&self, output: &Value) -> Result<Vec<TableRows>, StageError>;
}

/// [`AnyStage`] for a [`StageDef`].
pub struct Def<S>(PhantomData<fn() -> S>);

impl<S> Def<S> {
    pub const fn new() -> Self {
        Def(PhantomData)
    }
}

impl<S> Default for Def<S> {
    fn default() -> Self {
        Def::new()
    }
}

fn parse_params<S: StageDef>(
    options: Option<&Value>,
    limits: &Limits,
) -> Result<S::Params, StageError> {
    let params: S::Params = match options {
        None | Some(Value::Null) => S::Params::default(),
        Some(v) => S::Params::deserialize(v)
            .map_err(|e| StageError::invalid(format!("options.{}: {e}", S::STAGE)))?,
    };
    // The bounded options (`core::limits::BOUNDED`), read from the typed values so
    // that defaults are held to the limits too; then the stage's own rules.
    let typed = serde_json::to_value(&params)
        .map_err(|e| StageError::Other(format!("options.{}: {e}", S::STAGE).into()))?;
    let mut by_stage = serde_json::Map::new();
    by_stage.insert(S::STAGE.name().to_string(), typed);
    limits
        .check_options(&Value::Object(by_stage))
        .and_then(|()| params.validate(limits))
        .map_err(|e| StageError::invalid(e.in_stage(S::STAGE.name()).to_string()))?;
    Ok(params)
}

impl<S: StageDef> AnyStage for Def<S> {
    fn stage(&self) -> Stage {
        S::STAGE
    }
    fn inputs(&self) -> &'static [Stage] {
        S::INPUTS
    }
    fn needs(&self) -> Needs {
        S::NEEDS
    }
    fn batch(&self) -> Batch {
        S::BATCH
    }
    fn load(&self, engines: &Engines) -> Result<LoadedEngine, StageError> {
        let engine = S::load(engines)?;
        Ok(LoadedEngine {
            device: S::device(&engine),
            engine,
        })
    }
    fn run(
        &self,
        engine: &LoadedEngine,
        limits: &Limits,
        jobs: Vec<JobIn>,
    ) -> Vec<Result<Done, StageError>> {
        let Some(typed) = engine.engine.downcast_ref::<S::Engine>() else {
            let why = format!("{}: the loaded engine is of another stage", S::STAGE);
            return jobs
                .iter()
                .map(|_| Err(StageError::Other(why.clone().into())))
                .collect();
        };
        let mut results: Vec<Option<Result<Done, StageError>>> = Vec::with_capacity(jobs.len());
        let mut ready = Vec::with_capacity(jobs.len());
        let mut slots = Vec::with_capacity(jobs.len());
        for (i, (options, data)) in jobs.into_iter().enumerate() {
            let prepared = parse_params::<S>(options.as_ref(), limits)
                .and_then(|p| S::input(data).map(|input| (p, input)));
            match prepared {
                Ok(job) => {
                    ready.push(job);
                    slots.push(i);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if !ready.is_empty() {
            let outs = S::run(typed, ready);
            for (slot, out) in slots.into_iter().zip(outs) {
                results[slot] = Some(out.and_then(|p| {
                    let output = serde_json::to_value(&p.output).map_err(|e| {
                        StageError::Other(
                            format!("{}: output not serialisable: {e}", S::STAGE).into(),
                        )
                    })?;
                    Ok(Done {
                        output,
                        pages: p.pages,
                        device: engine.device.clone(),
                    })
                }));
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StageError::Other(
                        format!("{}: no result for a job", S::STAGE).into(),
                    ))
                })
            })
            .collect()
    }
    fn rows(&self, output: &Value) -> Result<Vec<TableRows>, StageError> {
        let typed: S::Output = S::Output::deserialize(output)
            .map_err(|e| StageError::invalid(format!("malformed {} output: {e}", S::STAGE)))?;
        Ok(S::rows(&typed))
    }
}
