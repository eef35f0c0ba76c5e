//! `vl`: four questions about a drawing (its info block, its dimensions, the
//! processes that make it, a QC checklist) asked of hosted or self-hosted
//! vision-language models: the Anthropic Messages API, the OpenAI Chat Completions
//! API, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server).
//!
//! CPU pool, I/O bound: the jobs of a batch and the tasks of a job run side by side
//! on one small async runtime, within each provider's concurrency and request-rate
//! limits ([`provider::Client`], shared by every job of the worker) and each job's
//! time budget. Every answer is validated against its task's schema
//! ([`tasks::Task::validate`]), repaired or asked again once, and kept raw beside the
//! validated one; tokens and cost are recorded per task. With no provider configured
//! (`config`), the stage ends `skipped` with that reason and the job is not failed
//! by it. [`crosscheck`] compares its dimensions with `edocr`'s in the report.

pub mod config;
pub mod crosscheck;
pub mod provider;
pub mod tasks;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use drawpipe_core::limits::{Limits, OptionError};
use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::contract::{Batch, Engines, JobData, Needs, Produced, StageDef, TableRows, Validate};
use super::Pages;
use config::Config;
use provider::{Client, Usage};
use tasks::Task;

/// Per-job options (`options.vl`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// The tasks to ask (default: every task the worker has a provider for).
    pub tasks: Option<Vec<Task>>,
    /// Wall-clock budget for all of the job's requests, seconds.
    pub budget_secs: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tasks: None,
            budget_secs: 300.0,
        }
    }
}

impl Validate for Params {
    fn validate(&self, _: &Limits) -> Result<(), OptionError> {
        if !(self.budget_secs > 0.0 && self.budget_secs <= 1800.0) {
            return Err(OptionError {
                stage: "vl".into(),
                path: "budget_secs".into(),
                problem: "must be more than 0 and at most 1800".into(),
            });
        }
        Ok(())
    }
}

/// The stage's output: the report's `vl` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub vl: VlResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VlResult {
    /// Task name → what it gave.
    pub tasks: BTreeMap<String, TaskResult>,
    pub usage: Usage,
    pub cost_usd: f64,
    /// The page image sent, after downscaling (page 1), pixels.
    pub image_width: u32,
    pub image_height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub provider: String,
    pub model: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// The answer, raw answers, requests, tokens and error.
    #[serde(flatten)]
    pub asked: provider::Asked,
    pub cost_usd: f64,
    pub duration_ms: f64,
}

/// What the worker loads: the providers, or why there are none.
pub struct Engine {
    config: Config,
    clients: BTreeMap<String, Arc<Client>>,
    /// A configuration that could not be used: every job fails with it.
    broken: Option<String>,
}

impl Engine {
    /// The providers' clients; a configuration that cannot be used makes an engine
    /// that fails each job with the reason (the worker keeps serving other stages).
    pub fn new(config: Result<Config, String>) -> Engine {
        let broken = |why: String| Engine {
            config: Config::none(),
            clients: BTreeMap::new(),
            broken: Some(why),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => return broken(format!("vl is misconfigured: {e}")),
        };
        let mut clients = BTreeMap::new();
        for (name, p) in &config.providers {
            match Client::new(p.clone()) {
                Ok(c) => {
                    clients.insert(name.clone(), Arc::new(c));
                }
                Err(e) => return broken(e),
            }
        }
        Engine {
            config,
            clients,
            broken: None,
        }
    }
}

/// The stage's own async runtime: its requests wait on the network, not on the
/// worker's runtime (stages run on the blocking pool); never dropped.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("drawpipe-vl")
            .enable_all()
            .build()
            .expect("the vl runtime starts")
    })
}

pub struct Vl;

impl StageDef for Vl {
    const STAGE: Stage = Stage::Vl;
    const NEEDS: Needs = Needs::PAGES;
    const BATCH: Batch = Batch::Fused;
    type Params = Params;
    type Input = Pages;
    type Output = Output;
    type Engine = Engine;

    fn load(engines: &Engines) -> Result<Arc<Engine>, StageError> {
        let config = match &engines.vl {
            Some(c) => Ok(c.clone()),
            None => Config::from_env(),
        };
        Ok(Arc::new(Engine::new(config)))
    }

    fn input(mut data: JobData) -> Result<Pages, StageError> {
        data.take_pages(Self::STAGE)
    }

    fn run(
        engine: &Engine,
        jobs: Vec<(Params, Pages)>,
    ) -> Vec<Result<Produced<Output>, StageError>> {
        let n = jobs.len();
        // On a thread of its own: the caller may be a thread that drives another
        // runtime (`drawpipe analyze`), where blocking on this one would panic.
        let results = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime().block_on(futures::future::join_all(
                        jobs.into_iter()
                            .map(|(params, pages)| run_job(engine, params, pages)),
                    ))
                })
                .join()
        });
        match results {
            Ok(r) => r.into_iter().map(|r| r.map(Produced::from)).collect(),
            Err(_) => (0..n)
                .map(|_| Err(StageError::Other("vl: the request thread panicked".into())))
                .collect(),
        }
    }

    fn rows(output: &Output) -> Vec<TableRows> {
        let rows = output
            .vl
            .tasks
            .iter()
            .map(|(task, r)| {
                json!({
                    "task": task, "provider": r.provider, "model": r.model, "status": r.status,
                    "answer": r.asked.answer, "raw": r.asked.raw, "requests": r.asked.requests,
                    "input_tokens": r.asked.usage.input_tokens, "output_tokens": r.asked.usage.output_tokens,
                    "cost_usd": r.cost_usd, "error": r.asked.error,
                })
            })
            .collect();
        TableRows::non_empty("vl_results", VL_COLUMNS, rows)
    }
}

const VL_COLUMNS: &str = "task text, provider text, model text, status text, answer jsonb, raw jsonb, \
                          requests int, input_tokens int8, output_tokens int8, cost_usd float8, error text";

async fn run_job(engine: &Engine, params: Params, pages: Pages) -> Result<Output, StageError> {
    if let Some(why) = &engine.broken {
        return Err(StageError::invalid(why.clone()));
    }
    let wanted: Vec<Task> = params.tasks.clone().unwrap_or_else(|| Task::ALL.to_vec());
    let routed: Vec<(Task, config::Route)> = wanted
        .iter()
        .filter_map(|t| engine.config.tasks.get(t).map(|r| (*t, r.clone())))
        .collect();
    if routed.is_empty() {
        return Err(StageError::Skipped(if engine.config.is_configured() {
            format!(
                "skipped: no vl provider is configured for the tasks asked ({})",
                wanted
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            "skipped: no vl provider is configured (DRAWPIPE_VL_CONFIG or DRAWPIPE_VL_PROVIDER)"
                .into()
        }));
    }
    let Some((_, png)) = pages.into_iter().min_by_key(|(i, _)| *i) else {
        return Err(StageError::invalid("vl: the job has no page"));
    };
    // One image per size limit among the providers asked.
    let mut images: BTreeMap<u32, (String, u32, u32)> = BTreeMap::new();
    for (_, route) in &routed {
        let side = engine.clients[&route.provider].provider.max_image_side;
        if let std::collections::btree_map::Entry::Vacant(e) = images.entry(side) {
            e.insert(page_image(&png, side)?);
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(params.budget_secs);
    let images = &images;
    let asks = routed.iter().map(|(task, route)| {
        let client = engine.clients[&route.provider].clone();
        let (task, model) = (*task, route.model.clone());
        async move {
            let start = Instant::now();
            let (image, _, _) = &images[&client.provider.max_image_side];
            let asked = tokio::time::timeout_at(deadline, client.ask(&model, task, image))
                .await
                .unwrap_or_else(|_| provider::Asked {
                    error: Some(format!(
                        "{task}: the job's time budget of {} s ran out",
                        params.budget_secs
                    )),
                    ..Default::default()
                });
            let p = &client.provider;
            let cost = (asked.usage.input_tokens as f64 * p.input_usd_per_mtok
                + asked.usage.output_tokens as f64 * p.output_usd_per_mtok)
                / 1e6;
            let status = if asked.answer.is_some() {
                "succeeded"
            } else {
                "failed"
            };
            (
                task,
                TaskResult {
                    provider: p.name.clone(),
                    model,
                    status: status.into(),
                    asked,
                    cost_usd: cost,
                    duration_ms: start.elapsed().as_secs_f64() * 1000.0,
                },
            )
        }
    });
    let results = futures::future::join_all(asks).await;
    if results.iter().all(|(_, r)| r.asked.answer.is_none()) {
        let why: Vec<String> = results
            .iter()
            .map(|(t, r)| format!("{t}: {}", r.asked.error.as_deref().unwrap_or("failed")))
            .collect();
        return Err(StageError::invalid(format!(
            "vl: every task failed: {}",
            why.join("; ")
        )));
    }
    let mut usage = Usage::default();
    let mut cost = 0.0;
    for (_, r) in &results {
        usage += r.asked.usage;
        cost += r.cost_usd;
    }
    let (_, w, h) = images.values().next().cloned().unwrap_or_default();
    Ok(Output {
        vl: VlResult {
            tasks: results
                .into_iter()
                .map(|(t, r)| (t.name().to_string(), r))
                .collect(),
            usage,
            cost_usd: cost,
            image_width: w,
            image_height: h,
        },
    })
}

/// The page as PNG, longest side at most `max_side`, base64; with its size.
fn page_image(png: &[u8], max_side: u32) -> Result<(String, u32, u32), StageError> {
    use opencv::core::{Mat, Size, Vector};
    use opencv::prelude::*;
    let cv = |e: opencv::Error| StageError::Other(format!("vl: page image: {e}").into());
    let img = super::decode_page(png)?;
    let (w, h) = (img.cols().max(1) as u32, img.rows().max(1) as u32);
    let scale = (f64::from(max_side) / f64::from(w.max(h))).min(1.0);
    if scale >= 1.0 {
        return Ok((base64::engine::general_purpose::STANDARD.encode(png), w, h));
    }
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as i32).max(1),
        ((f64::from(h) * scale).round() as i32).max(1),
    );
    let mut small = Mat::default();
    opencv::imgproc::resize(
        &img,
        &mut small,
        Size::new(nw, nh),
        0.0,
        0.0,
        opencv::imgproc::INTER_AREA,
    )
    .map_err(cv)?;
    let mut out = Vector::<u8>::new();
    opencv::imgcodecs::imencode(".png", &small, &mut out, &Vector::new()).map_err(cv)?;
    Ok((
        base64::engine::general_purpose::STANDARD.encode(out.as_slice()),
        nw as u32,
        nh as u32,
    ))
}
