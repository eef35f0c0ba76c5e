//! `edocr` as a [`StageDef`]: pages and the `ocr` lines in; dimensions, GD&T frames
//! and the title block out; `dimensions`, `gdt_frames` and `title_blocks` rows.

use std::sync::Arc;

use drawpipe_core::limits::{Limits, OptionError};
use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{run_on_page, Params, Timings};
use crate::stages::contract::{Engines, JobData, Needs, Produced, StageDef, TableRows, Validate};
use crate::stages::ocr::{self, OcrEngine, TextLine};
use crate::stages::Pages;
use crate::stages::{decode_page, geometry_rows};

impl Validate for Params {
    fn validate(&self, limits: &Limits) -> Result<(), OptionError> {
        limits.check(Edocr::STAGE.name(), "tile_size", self.tile_size as f64)
    }
}

/// `edocr`'s output. `_regions` (the layout) and `_timings` stay in the stage
/// output; the report leaves them out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageOutput {
    pub dimensions: Vec<Value>,
    pub gdt: Vec<Value>,
    /// Title-block field (`drawing_number`, `title`, `material`, …) → value; one per
    /// drawing: the first page that has a field keeps it.
    pub title_block: Map<String, Value>,
    #[serde(rename = "_regions")]
    pub regions: Vec<Value>,
    #[serde(rename = "_timings")]
    pub timings: Vec<Timings>,
}

/// The stage's input for one job.
pub struct Input {
    pub pages: Pages,
    /// Every page's `ocr` lines (none when `ocr` produced none).
    pub lines: Vec<TextLine>,
}

const DIMENSION_COLUMNS: &str = "item_index int, page_index int, raw text, kind text, nominal float8, unit text, \
                                 upper float8, lower float8, fit text, thread text, count int, reference bool, \
                                 basic bool, chamfer_angle float8, roughness text, general_tolerance text, \
                                 confidence real, polygon real[], x real, y real, width real, height real";
const GDT_COLUMNS: &str = "item_index int, page_index int, raw text, characteristic text, symbol text, \
                           tolerance float8, diameter_zone bool, modifiers text[], datums text[], confidence real, \
                           polygon real[], x real, y real, width real, height real";
const TITLE_COLUMNS: &str =
    "drawing_number text, title text, material text, scale text, sheet text, revision text, \
                             date text, weight text, general_tolerance text, fields jsonb";

/// The stage.
pub struct Edocr;

impl StageDef for Edocr {
    const STAGE: Stage = Stage::Edocr;
    const INPUTS: &'static [Stage] = &[Stage::Ocr];
    const NEEDS: Needs = Needs {
        content: false,
        pages: true,
        runs: false,
    };
    type Params = Params;
    type Input = Input;
    type Output = StageOutput;
    type Engine = OcrEngine;

    fn load(engines: &Engines) -> Result<Arc<OcrEngine>, StageError> {
        engines.ocr()
    }

    fn device(engine: &OcrEngine) -> String {
        engine.device().to_string()
    }

    fn input(mut data: JobData) -> Result<Input, StageError> {
        let lines = data
            .output::<ocr::Ocr>()?
            .map(|o| o.text)
            .unwrap_or_default();
        Ok(Input {
            pages: data.take_pages(Self::STAGE)?,
            lines,
        })
    }

    fn run(
        engine: &OcrEngine,
        jobs: Vec<(Params, Input)>,
    ) -> Vec<Result<Produced<StageOutput>, StageError>> {
        jobs.iter()
            .map(|(params, input)| read_pages(params, engine, input).map(Produced::from))
            .collect()
    }

    fn rows(output: &StageOutput) -> Vec<TableRows> {
        let mut tables = TableRows::non_empty(
            "dimensions",
            DIMENSION_COLUMNS,
            geometry_rows(&output.dimensions, "item_index"),
        );
        tables.extend(TableRows::non_empty(
            "gdt_frames",
            GDT_COLUMNS,
            geometry_rows(&output.gdt, "item_index"),
        ));
        if !output.title_block.is_empty() {
            let mut row = output.title_block.clone();
            row.insert("fields".into(), Value::Object(output.title_block.clone()));
            tables.extend(TableRows::non_empty(
                "title_blocks",
                TITLE_COLUMNS,
                vec![Value::Object(row)],
            ));
        }
        tables
    }
}

/// Reads one job's pages with its `ocr` lines.
///
/// # Errors
/// A page that cannot be decoded (`Invalid`); inference failures.
pub fn read_pages(
    params: &Params,
    engine: &OcrEngine,
    input: &Input,
) -> Result<StageOutput, StageError> {
    let mut out = StageOutput {
        dimensions: Vec::new(),
        gdt: Vec::new(),
        title_block: Map::new(),
        regions: Vec::new(),
        timings: Vec::new(),
    };
    let json = |v: serde_json::Result<Value>| {
        v.map_err(|e| StageError::Other(format!("edocr: output not serialisable: {e}").into()))
    };
    for (index, png) in &input.pages {
        let image = decode_page(png)?;
        let page_lines: Vec<TextLine> = input
            .lines
            .iter()
            .filter(|l| l.page == *index)
            .cloned()
            .collect();
        let page = run_on_page(params, engine, *index, &image, &page_lines)?;
        for d in &page.dimensions {
            out.dimensions.push(json(serde_json::to_value(d))?);
        }
        for g in &page.gdt {
            out.gdt.push(json(serde_json::to_value(g))?);
        }
        for r in &page.regions {
            out.regions.push(json(serde_json::to_value(r))?);
        }
        out.timings.push(page.timings);
        for (k, v) in page.title_block {
            out.title_block.entry(k).or_insert(v);
        }
    }
    Ok(out)
}
