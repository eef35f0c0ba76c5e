//! A new stage is its module and one registry line: this test adds a tiny stage
//! (`ink`: the share of dark pixels on each page) under the declared-but-unbuilt
//! `vl` identity, registers it, and runs it through `drawpipe analyze`'s driver on
//! a real drawing, with typed options (limits, unknown fields), a typed input (the
//! `preprocess` pages), a typed output, and its result rows.

use std::sync::Arc;

use drawpipe_core::limits::{Limits, OptionError};
use drawpipe_core::{JobStatus, Stage, StageError, StagePlan};
use drawpipe_workers::local::Analyzer;
use drawpipe_workers::stages::contract::{
    AnyStage, Def, Engines, JobData, Needs, Produced, StageDef, TableRows, Validate,
};
use drawpipe_workers::stages::registry::Registry;
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---- the stage's module ----

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct InkParams {
    /// Gray level below which a pixel is ink.
    threshold: u8,
}

impl Default for InkParams {
    fn default() -> Self {
        InkParams { threshold: 128 }
    }
}

impl Validate for InkParams {
    fn validate(&self, _: &Limits) -> Result<(), OptionError> {
        if self.threshold == 0 {
            return Err(OptionError {
                stage: "vl".into(),
                path: "threshold".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InkOutput {
    ink: Vec<PageInk>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PageInk {
    page: u32,
    share: f64,
}

struct Ink;

impl StageDef for Ink {
    const STAGE: Stage = Stage::Vl;
    const NEEDS: Needs = Needs {
        content: false,
        pages: true,
        runs: false,
    };
    type Params = InkParams;
    type Input = Vec<(u32, Vec<u8>)>;
    type Output = InkOutput;
    type Engine = ();

    fn load(_: &Engines) -> Result<Arc<()>, StageError> {
        Ok(Arc::new(()))
    }

    fn input(mut data: JobData) -> Result<Self::Input, StageError> {
        data.take_pages(Self::STAGE)
    }

    fn run(
        _: &(),
        jobs: Vec<(InkParams, Self::Input)>,
    ) -> Vec<Result<Produced<InkOutput>, StageError>> {
        use opencv::prelude::*;
        jobs.into_iter()
            .map(|(params, pages)| {
                let mut ink = Vec::new();
                for (page, png) in pages {
                    let img = drawpipe_workers::stages::decode_page(&png)?;
                    let bytes = img
                        .data_bytes()
                        .map_err(|e| StageError::Other(e.to_string().into()))?;
                    let dark = bytes.iter().filter(|&&v| v < params.threshold).count();
                    ink.push(PageInk {
                        page,
                        share: dark as f64 / bytes.len() as f64,
                    });
                }
                Ok(InkOutput { ink }.into())
            })
            .collect()
    }

    fn rows(output: &InkOutput) -> Vec<TableRows> {
        let rows = output
            .ink
            .iter()
            .map(|p| json!({"page_index": p.page, "share": p.share}))
            .collect();
        TableRows::non_empty("page_ink", "page_index int, share float8", rows)
    }
}

// ---- its registry line ----

static INK: Def<Ink> = Def::new();

fn registry() -> Registry {
    Registry::builtin().with(&INK)
}

// ---- the checks ----

fn sample() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/drawings/Candle_holder.jpg");
    std::fs::read(path).unwrap()
}

#[test]
fn a_registered_stage_runs_through_the_driver() {
    let analyzer = Analyzer::new(registry(), Engines::default(), Limits::default());
    let plan = StagePlan::from_names(&["preprocess", "vl", "report"]).unwrap();
    let bytes = sample();

    let r = analyzer.analyze(&bytes, &plan, &json!({}));
    assert_eq!(r.status, JobStatus::Completed, "{:?}", r.stages);
    let ink = r.extra["ink"]
        .as_array()
        .expect("the stage's output key in the report");
    assert_eq!(ink.len(), 1);
    let share = ink[0]["share"].as_f64().unwrap();
    // A line drawing on white paper: some ink, mostly paper.
    assert!(share > 0.001 && share < 0.2, "ink share {share}");

    // Options reach it typed: a lower threshold finds less ink.
    let r2 = analyzer.analyze(&bytes, &plan, &json!({"vl": {"threshold": 40}}));
    let share2 = r2.extra["ink"][0]["share"].as_f64().unwrap();
    assert!(share2 < share, "{share2} !< {share}");

    // Unknown fields and invalid values fail the stage (optional: the job is partial)
    // with a message naming the option.
    let bad = analyzer.analyze(&bytes, &plan, &json!({"vl": {"treshold": 40}}));
    assert_eq!(bad.status, JobStatus::Partial);
    let err = bad.stages["vl"].error.clone().unwrap();
    assert!(
        err.contains("options.vl") && err.contains("treshold"),
        "{err}"
    );
    let zero = analyzer.analyze(&bytes, &plan, &json!({"vl": {"threshold": 0}}));
    let err = zero.stages["vl"].error.clone().unwrap();
    assert_eq!(err, "options.vl.threshold: must be at least 1");

    // Its rows come from its typed output.
    let rows = INK.rows(&json!({ "ink": r.extra["ink"] })).unwrap();
    assert_eq!(rows[0].table, "page_ink");
    assert_eq!(rows[0].column_names(), vec!["page_index", "share"]);
    assert_eq!(rows[0].rows[0]["page_index"], 0);
}

/// The built-in `vl` (the identity the test stage borrowed) with no provider
/// configured: skipped with the reason, and the job is not demoted by it.
#[test]
fn the_builtin_vl_stage_skips_without_a_provider() {
    let engines = Engines::default().with_vl(drawpipe_workers::stages::vl::config::Config::none());
    let analyzer = Analyzer::new(Registry::builtin().clone(), engines, Limits::default());
    let plan = StagePlan::from_names(&["preprocess", "vl", "report"]).unwrap();
    let r = analyzer.analyze(&sample(), &plan, &json!({}));
    assert_eq!(r.stages["vl"].status, "skipped");
    assert!(
        r.stages["vl"]
            .error
            .as_deref()
            .unwrap()
            .contains("no vl provider is configured"),
        "{:?}",
        r.stages["vl"].error
    );
    assert_eq!(r.status, JobStatus::Completed);
    assert!(r.extra.get("vl").is_none());
}
