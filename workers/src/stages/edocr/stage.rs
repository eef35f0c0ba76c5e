//! `edocr` as a [`StageDef`]: pages and the `ocr` lines in; dimensions, GD&T frames
//! and the title block out; `dimensions`, `gdt_frames` and `title_blocks` rows.

use std::sync::Arc;

use drawpipe_core::{Stage, StageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::layout::{Region, RegionKind};
use super::tables::Table;
use super::{run_on_page, DimensionItem, Dropped, GdtItem, Params, Timings};
use crate::stages::contract::{Engines, JobData, Needs, Produced, StageDef, TableRows, Validate};
use crate::stages::ocr::{self, OcrEngine, TextLine};
use crate::stages::Pages;
use crate::stages::{decode_page, geometry_rows};

impl Validate for Params {}

/// `edocr`'s output. `_regions` (the layout) and `_timings` stay in the stage
/// output; the report leaves them out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageOutput {
    pub dimensions: Vec<DimensionItem>,
    pub gdt: Vec<GdtItem>,
    /// Title-block field (`drawing_number`, `title`, `material`, …) → value; one per
    /// drawing: the first page that has a field keeps it.
    pub title_block: Map<String, Value>,
    #[serde(rename = "_regions")]
    pub regions: Vec<Region>,
    /// The page's frame, title block, tables and zone strips, boxes only (the
    /// report keeps these for the overlay and the viewer; `_regions` has the rest).
    #[serde(default)]
    pub layout: Vec<LayoutBox>,
    /// Text lines that made no dimension, and why (for a reviewer: "why was this
    /// not read?").
    #[serde(rename = "_dropped", default)]
    pub dropped: Vec<Dropped>,
    /// The tables in the drawing area read into rows: parts lists, revision tables,
    /// hole tables and tabulated dimensions (the sizes also under `dimensions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    #[serde(rename = "_timings")]
    pub timings: Vec<Timings>,
}

/// One region of [`StageOutput::layout`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutBox {
    pub kind: RegionKind,
    /// `[x, y, width, height]`, page pixels.
    pub bbox: [f32; 4],
    pub page: u32,
}

impl LayoutBox {
    /// The regions a person looks for on the page, as boxes.
    pub fn of(regions: &[Region]) -> Vec<LayoutBox> {
        regions
            .iter()
            .filter(|r| {
                matches!(
                    r.kind,
                    RegionKind::Frame
                        | RegionKind::TitleBlock
                        | RegionKind::Table
                        | RegionKind::BorderStrip
                )
            })
            .map(|r| LayoutBox {
                kind: r.kind,
                bbox: r.bbox,
                page: r.page,
            })
            .collect()
    }
}

/// The stage's input for one job.
pub struct Input {
    pub pages: Pages,
    /// Every page's `ocr` lines (none when `ocr` produced none).
    pub lines: Vec<TextLine>,
    /// For a DXF: the GD&T frames and title-block attributes the file states.
    pub cad: Option<crate::cad::CadSummary>,
}

const DIMENSION_COLUMNS: &str = "item_index int, page_index int, raw text, kind text, nominal float8, unit text, \
                                 upper float8, lower float8, fit text, thread text, count int, reference bool, \
                                 basic bool, chamfer_angle float8, roughness text, general_tolerance text, \
                                 confidence real, source text, table_column text, polygon real[], x real, y real, width real, height real";
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
    const INPUTS: &'static [Stage] = &[Stage::Ocr, Stage::Preprocess];
    const NEEDS: Needs = Needs::PAGES;
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
        let cad = data
            .output::<super::super::preprocess::Preprocess>()?
            .and_then(|s| s.cad);
        Ok(Input {
            pages: data.take_pages(Self::STAGE)?,
            lines,
            cad,
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
        let dimensions = as_values(&output.dimensions);
        let gdt = as_values(&output.gdt);
        let mut tables = TableRows::non_empty(
            "dimensions",
            DIMENSION_COLUMNS,
            geometry_rows(&dimensions, "item_index"),
        );
        tables.extend(TableRows::non_empty(
            "gdt_frames",
            GDT_COLUMNS,
            geometry_rows(&gdt, "item_index"),
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

/// Items as the JSON objects their rows are cut from.
fn as_values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect()
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
        layout: Vec::new(),
        dropped: Vec::new(),
        tables: Vec::new(),
        timings: Vec::new(),
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
        out.dimensions.extend(page.dimensions);
        out.gdt.extend(page.gdt);
        out.layout.extend(LayoutBox::of(&page.regions));
        out.regions.extend(page.regions);
        out.dropped.extend(page.dropped);
        out.tables.extend(page.tables);
        out.timings.push(page.timings);
        for (k, v) in page.title_block {
            out.title_block.entry(k).or_insert(v);
        }
    }
    // A DXF states its frames and title-block fields: they are taken as stated (the
    // attributes over anything read from the raster).
    if let Some(cad) = &input.cad {
        for g in &cad.gdt {
            let [x, y, w, h] = g.bbox;
            out.gdt.push(GdtItem {
                frame: g.frame.clone(),
                confidence: 1.0,
                polygon: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
                bbox: g.bbox,
                page: 0,
            });
        }
        for (k, v) in &cad.title_block {
            out.title_block.insert(k.clone(), Value::String(v.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::edocr::parse;

    /// Every column of every result table is filled from the typed items: a renamed
    /// field would leave a column missing here instead of a NULL in the database.
    #[test]
    fn rows_fill_every_column() {
        let polygon = [[1.0, 2.0], [11.0, 2.0], [11.0, 7.0], [1.0, 7.0]];
        let bbox = [1.0, 2.0, 10.0, 5.0];
        let out = StageOutput {
            dimensions: vec![DimensionItem {
                dimension: parse::parse_dimension("2x Ø21,5 H7", false).unwrap(),
                confidence: 0.9,
                polygon,
                bbox,
                page: 0,
                source: crate::stages::ocr::TextSource::TextLayer,
                ppocr_read: None,
                table_column: Some("ØD".into()),
                read_confidence: None,
            }],
            gdt: vec![GdtItem {
                frame: parse::parse_gdt(&["⌖", "Ø0.1", "A", "B"]).unwrap(),
                confidence: 0.8,
                polygon,
                bbox,
                page: 1,
            }],
            title_block: serde_json::json!({"drawing_number": "D-1", "title": "Shaft"})
                .as_object()
                .unwrap()
                .clone(),
            regions: Vec::new(),
            layout: Vec::new(),
            dropped: Vec::new(),
            tables: Vec::new(),
            timings: Vec::new(),
        };
        let tables = Edocr::rows(&out);
        let names: Vec<&str> = tables.iter().map(|t| t.table).collect();
        assert_eq!(names, ["dimensions", "gdt_frames", "title_blocks"]);
        // (A title block fills the fields it has; the others are NULL by design.)
        for t in &tables[..2] {
            assert_eq!(t.rows.len(), 1, "{}", t.table);
            for col in t.column_names() {
                assert!(
                    t.rows[0].get(col).is_some(),
                    "{}: column {col} has no value in {}",
                    t.table,
                    t.rows[0]
                );
            }
        }
        assert_eq!(tables[0].rows[0]["nominal"], 21.5);
        assert_eq!(tables[0].rows[0]["count"], 2);
        assert_eq!(tables[0].rows[0]["polygon"].as_array().unwrap().len(), 8);
        assert_eq!(tables[1].rows[0]["page_index"], 1);
        assert_eq!(tables[2].rows[0]["drawing_number"], "D-1");
        assert_eq!(tables[2].rows[0]["fields"]["title"], "Shaft");
        // The stored output reads back as the same typed output.
        let json = serde_json::to_value(&out).unwrap();
        let back: StageOutput = serde_json::from_value(json).unwrap();
        assert_eq!(back, out);
    }
}
