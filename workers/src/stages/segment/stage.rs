//! `segment` as a [`StageDef`]: pages in, per-page segments out, `segments` rows.

use std::sync::Arc;

use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{run_on_page, PageSegments, Params, SegmentModel};
use crate::stages::contract::{Engines, JobData, Needs, Produced, StageDef, TableRows, Validate};
use crate::stages::Pages;

impl Validate for Params {}

/// `segment`'s output: one entry per page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Output {
    pub segments: Vec<PageSegments>,
}

/// `segments` table columns.
const SEGMENT_COLUMNS: &str = "page_index int, components int, edges int, average_degree real, \
                               contour int, text int, dimension int";

/// One `segments` row.
#[derive(Serialize)]
struct SegmentRow {
    page_index: u32,
    components: usize,
    edges: usize,
    average_degree: f32,
    contour: usize,
    text: usize,
    dimension: usize,
}

/// The stage: line work of each page, classified.
pub struct Segment;

impl StageDef for Segment {
    const STAGE: Stage = Stage::Segment;
    const NEEDS: Needs = Needs::PAGES;
    type Params = Params;
    type Input = Pages;
    type Output = Output;
    type Engine = SegmentModel;

    fn load(engines: &Engines) -> Result<Arc<SegmentModel>, StageError> {
        let model = SegmentModel::load(&engines.models, engines.device)?;
        tracing::info!(device = model.device(), reason = %model.device_reason, "segment model ready");
        Ok(Arc::new(model))
    }

    fn device(model: &SegmentModel) -> String {
        model.device().to_string()
    }

    fn input(mut data: JobData) -> Result<Self::Input, StageError> {
        data.take_pages(Self::STAGE)
    }

    fn run(
        model: &SegmentModel,
        jobs: Vec<(Params, Self::Input)>,
    ) -> Vec<Result<Produced<Output>, StageError>> {
        crate::stages::per_page(jobs, |params, index, gray, w, h| {
            Ok(run_on_page(params, model, index, gray, w, h)?.0)
        })
        .into_iter()
        .map(|segments| {
            Ok(Output {
                segments: segments?,
            }
            .into())
        })
        .collect()
    }

    fn rows(output: &Output) -> Vec<TableRows> {
        let rows: Vec<Value> = output
            .segments
            .iter()
            .map(|p| {
                serde_json::to_value(SegmentRow {
                    page_index: p.page,
                    components: p.components,
                    edges: p.edges,
                    average_degree: p.average_degree,
                    contour: p.counts.contour,
                    text: p.counts.text,
                    dimension: p.counts.dimension,
                })
                .unwrap_or_default()
            })
            .collect();
        TableRows::non_empty("segments", SEGMENT_COLUMNS, rows)
    }
}
