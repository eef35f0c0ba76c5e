//! `ocr` as a [`StageDef`]: every page of a batch of jobs read with fused inference,
//! the lines out, `text_lines` rows.

use std::sync::Arc;

use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};

use super::{run_fused, GrayPage, OcrEngine, Params, TextLine, TextSource, Timings};
use crate::stages::contract::{
    Batch, Engines, JobData, Needs, Produced, StageDef, TableRows, Validate,
};
use crate::stages::preprocess::Preprocess;
use crate::stages::Pages;
use crate::stages::{decode_page, geometry_rows};
use crate::text_layer::PageLayer;

/// What `ocr` reads: the page rasters, and the pages whose PDF text layer stands in
/// for reading the pixels.
#[derive(Debug, Clone, Default)]
pub struct OcrInput {
    pub pages: Pages,
    pub layers: Vec<PageLayer>,
}

impl Validate for Params {}

/// `ocr`'s output: the lines of every page, and where the time went per page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageOutput {
    pub text: Vec<TextLine>,
    #[serde(rename = "_timings")]
    pub timings: Vec<Timings>,
}

/// `text_lines` table columns.
const TEXT_COLUMNS: &str = "page_index int, line_index int, text text, confidence real, \
                            polygon real[], x real, y real, width real, height real";

/// The stage.
pub struct Ocr;

impl StageDef for Ocr {
    const STAGE: Stage = Stage::Ocr;
    /// `preprocess`'s text layers of PDF pages.
    const INPUTS: &'static [Stage] = &[Stage::Preprocess];
    const NEEDS: Needs = Needs::PAGES;
    /// The lines of all the batch's jobs share the classifier and recogniser passes.
    const BATCH: Batch = Batch::Fused;
    type Params = Params;
    type Input = OcrInput;
    type Output = StageOutput;
    type Engine = OcrEngine;

    fn load(engines: &Engines) -> Result<Arc<OcrEngine>, StageError> {
        engines.ocr()
    }

    fn device(engine: &OcrEngine) -> String {
        engine.device().to_string()
    }

    fn input(mut data: JobData) -> Result<Self::Input, StageError> {
        let layers = data
            .output::<Preprocess>()?
            .map(|s| s.text_layer)
            .unwrap_or_default();
        Ok(OcrInput {
            pages: data.take_pages(Self::STAGE)?,
            layers,
        })
    }

    fn run(
        engine: &OcrEngine,
        jobs: Vec<(Params, Self::Input)>,
    ) -> Vec<Result<Produced<StageOutput>, StageError>> {
        read_jobs(engine, &jobs)
            .into_iter()
            .map(|r| r.map(Produced::from))
            .collect()
    }

    fn rows(output: &StageOutput) -> Vec<TableRows> {
        let items: Vec<_> = output.text.iter().map(serde_json::to_value).collect();
        let items: Vec<_> = items.into_iter().filter_map(Result::ok).collect();
        TableRows::non_empty(
            "text_lines",
            TEXT_COLUMNS,
            geometry_rows(&items, "line_index"),
        )
    }
}

/// Reads several jobs' pages (`(page index, PNG)`) at once: every page goes
/// through [`run_fused`] together, except pages with a usable PDF text layer, whose
/// lines are taken as they are (`source: text_layer`, confidence 1). One result per
/// job, in order; a job with a page that cannot be decoded or read fails alone.
pub fn read_jobs(
    engine: &OcrEngine,
    jobs: &[(Params, OcrInput)],
) -> Vec<Result<StageOutput, StageError>> {
    let mut per_job: Vec<Result<StageOutput, StageError>> = Vec::with_capacity(jobs.len());
    let mut decoded: Vec<Vec<(u32, opencv::core::Mat)>> = Vec::with_capacity(jobs.len());
    for (_, input) in jobs {
        let layered = |i: &u32| input.layers.iter().any(|l| l.page == *i);
        let pages: Result<Vec<_>, _> = input
            .pages
            .iter()
            .filter(|(i, _)| !layered(i))
            .map(|(i, png)| decode_page(png).map(|m| (*i, m)))
            .collect();
        match pages {
            Ok(p) => {
                decoded.push(p);
                per_job.push(Ok(StageOutput {
                    text: layer_lines(&input.layers),
                    timings: Vec::new(),
                }));
            }
            Err(e) => {
                decoded.push(Vec::new());
                per_job.push(Err(e));
            }
        }
    }
    let mut items = Vec::new();
    let mut owner = Vec::new();
    for (j, pages) in decoded.iter().enumerate() {
        for (index, image) in pages {
            items.push((
                &jobs[j].0,
                GrayPage {
                    index: *index,
                    image,
                },
            ));
            owner.push(j);
        }
    }
    let outputs = run_fused(engine, &items);
    for (out, j) in outputs.into_iter().zip(owner) {
        match (out, &mut per_job[j]) {
            (Ok(o), Ok(job)) => {
                job.text.extend(o.lines);
                job.timings.push(o.timings);
            }
            (Err(e), slot @ Ok(_)) => *slot = Err(e),
            _ => {}
        }
    }
    per_job
}

/// A text layer's lines as OCR lines (axis-aligned boxes, confidence 1).
pub fn layer_lines(layers: &[PageLayer]) -> Vec<TextLine> {
    layers
        .iter()
        .flat_map(|layer| {
            layer.lines.iter().map(|l| {
                let [x, y, w, h] = l.bbox;
                TextLine {
                    text: l.text.clone(),
                    confidence: 1.0,
                    polygon: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
                    bbox: l.bbox,
                    page: layer.page,
                    source: TextSource::TextLayer,
                }
            })
        })
        .collect()
}
