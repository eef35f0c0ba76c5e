//! The list of stages this build has. Adding a stage: its module (a
//! [`StageDef`](super::contract::StageDef)), one line in [`Registry::builtin`], its
//! migration (result tables), and its node in the stage graph
//! (`drawpipe_core::Stage`: name, dependencies, pool).

use std::sync::OnceLock;

use drawpipe_core::Stage;

use super::contract::{AnyStage, Def};
use super::{detect, edocr, ocr, preprocess, report, segment, tolerance, vl};

/// Stages by identity; the drivers look a stage up here and nowhere else.
#[derive(Clone)]
pub struct Registry {
    stages: Vec<&'static dyn AnyStage>,
}

static PREPROCESS: Def<preprocess::Preprocess> = Def::new();
static DETECT: Def<detect::Detect> = Def::new();
static OCR: Def<ocr::Ocr> = Def::new();
static SEGMENT: Def<segment::Segment> = Def::new();
static EDOCR: Def<edocr::Edocr> = Def::new();
static TOLERANCE: Def<tolerance::Tolerance> = Def::new();
static VL: Def<vl::Vl> = Def::new();
static REPORT: Def<report::ReportStage> = Def::new();

impl Registry {
    /// Every stage built into drawpipe.
    pub fn builtin() -> &'static Registry {
        static BUILTIN: OnceLock<Registry> = OnceLock::new();
        BUILTIN.get_or_init(|| Registry {
            stages: vec![
                &PREPROCESS,
                &DETECT,
                &OCR,
                &SEGMENT,
                &EDOCR,
                &TOLERANCE,
                &VL,
                &REPORT,
            ],
        })
    }

    /// This registry with `stage` added, replacing any stage of the same identity.
    pub fn with(&self, stage: &'static dyn AnyStage) -> Registry {
        let mut stages: Vec<_> = self
            .stages
            .iter()
            .copied()
            .filter(|s| s.stage() != stage.stage())
            .collect();
        stages.push(stage);
        Registry { stages }
    }

    pub fn get(&self, stage: Stage) -> Option<&'static dyn AnyStage> {
        self.stages.iter().copied().find(|s| s.stage() == stage)
    }

    pub fn stages(&self) -> impl Iterator<Item = &'static dyn AnyStage> + '_ {
        self.stages.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry and the stage graph agree: every stage the graph calls available
    /// has exactly one implementation, and nothing else does.
    #[test]
    fn registry_matches_the_available_stages() {
        let r = Registry::builtin();
        let mut registered: Vec<Stage> = r.stages().map(|s| s.stage()).collect();
        registered.sort();
        let available: Vec<Stage> = Stage::available().collect();
        assert_eq!(registered, available);
        for s in r.stages() {
            for input in s.inputs() {
                assert!(
                    s.stage().deps().contains(input) || s.stage().soft_deps().contains(input),
                    "{} reads {input}, which is not one of its dependencies",
                    s.stage()
                );
            }
        }
    }
}
