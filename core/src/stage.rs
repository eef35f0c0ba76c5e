//! The stage graph, defined once: the eight stages, their dependencies, their pools,
//! and the closure of a requested stage list.
//!
//! Invariants: [`Stage::ALL`] is in topological order (every stage comes after its
//! dependencies); `report` depends on every other stage of a plan and always runs last.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One step of the pipeline; its name is the queue suffix and the `stage_runs.stage` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Preprocess,
    Detect,
    Ocr,
    Segment,
    Vl,
    Edocr,
    Tolerance,
    Report,
}

/// Where a stage's work runs by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    Cpu,
    Gpu,
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pool::Cpu => "cpu",
            Pool::Gpu => "gpu",
        })
    }
}

impl Stage {
    /// Every stage, in topological order.
    pub const ALL: [Stage; 8] = [
        Stage::Preprocess,
        Stage::Detect,
        Stage::Ocr,
        Stage::Segment,
        Stage::Vl,
        Stage::Edocr,
        Stage::Tolerance,
        Stage::Report,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Preprocess => "preprocess",
            Stage::Detect => "detect",
            Stage::Ocr => "ocr",
            Stage::Segment => "segment",
            Stage::Vl => "vl",
            Stage::Edocr => "edocr",
            Stage::Tolerance => "tolerance",
            Stage::Report => "report",
        }
    }

    /// Direct dependencies. `report`'s are "every other stage of the plan" and are
    /// resolved by [`StagePlan`], so they are not listed here.
    pub fn deps(self) -> &'static [Stage] {
        match self {
            Stage::Preprocess | Stage::Report => &[],
            Stage::Detect | Stage::Ocr | Stage::Segment | Stage::Vl => &[Stage::Preprocess],
            Stage::Edocr => &[Stage::Preprocess, Stage::Ocr],
            Stage::Tolerance => &[Stage::Edocr],
        }
    }

    /// Stages waited for when the plan has them, but neither pulled into a plan by
    /// closure nor required to succeed: `edocr` uses `detect`'s dimension boxes when
    /// they exist and reads from OCR text alone otherwise.
    pub fn soft_deps(self) -> &'static [Stage] {
        match self {
            Stage::Edocr => &[Stage::Detect],
            _ => &[],
        }
    }

    pub fn pool(self) -> Pool {
        match self {
            Stage::Detect | Stage::Ocr | Stage::Edocr | Stage::Segment => Pool::Gpu,
            _ => Pool::Cpu,
        }
    }

    /// An optional stage that fails leaves the job `partial` instead of `failed`.
    pub fn is_optional(self) -> bool {
        matches!(self, Stage::Vl | Stage::Segment)
    }

    /// Whether this build has an implementation. Jobs naming a stage that is not
    /// available are refused at submission.
    pub fn is_available(self) -> bool {
        matches!(
            self,
            Stage::Preprocess
                | Stage::Detect
                | Stage::Ocr
                | Stage::Segment
                | Stage::Edocr
                | Stage::Tolerance
                | Stage::Vl
                | Stage::Report
        )
    }

    pub fn available() -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(|s| s.is_available())
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stage name that names no stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage '{0}'")]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| UnknownStage(s.to_string()))
    }
}

/// Why a requested stage list cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StagePlanError {
    #[error("unknown stage(s): {}; known stages are {}", .0.join(", "), known())]
    Unknown(Vec<String>),
    #[error("stage(s) not available in this build: {}; available stages are {}", .0.join(", "), available())]
    Unavailable(Vec<String>),
}

fn known() -> String {
    Stage::ALL.map(Stage::name).join(", ")
}

fn available() -> String {
    Stage::available()
        .map(Stage::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closed, ordered set of stages one job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePlan {
    stages: Vec<Stage>,
}

impl StagePlan {
    /// Parses a comma-separated list (`"preprocess, report"`); empty means the
    /// default: every available stage.
    ///
    /// # Errors
    /// Unknown names, then names of stages this build lacks, each listed in full.
    pub fn parse(list: &str) -> Result<StagePlan, StagePlanError> {
        let names: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return StagePlan::close(&Stage::available().collect::<Vec<_>>());
        }
        let mut unknown = Vec::new();
        let mut stages = Vec::new();
        for name in names {
            match name.to_ascii_lowercase().parse::<Stage>() {
                Ok(s) => stages.push(s),
                Err(_) => unknown.push(name.to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(StagePlanError::Unknown(unknown));
        }
        StagePlan::close(&stages)
    }

    /// Closes `requested` over dependencies and adds `report`.
    pub fn close(requested: &[Stage]) -> Result<StagePlan, StagePlanError> {
        let mut set = [false; Stage::ALL.len()];
        let mut stack: Vec<Stage> = requested.to_vec();
        stack.push(Stage::Report);
        while let Some(s) = stack.pop() {
            if !set[s as usize] {
                set[s as usize] = true;
                stack.extend_from_slice(s.deps());
            }
        }
        let stages: Vec<Stage> = Stage::ALL
            .into_iter()
            .filter(|s| set[*s as usize])
            .collect();
        let missing: Vec<String> = stages
            .iter()
            .filter(|s| !s.is_available())
            .map(|s| s.name().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(StagePlanError::Unavailable(missing));
        }
        Ok(StagePlan { stages })
    }

    /// Rebuilds a plan from stored names without checking availability (a job
    /// accepted by an earlier build keeps its plan).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<StagePlan, UnknownStage> {
        let mut stages = names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<Vec<Stage>, _>>()?;
        stages.sort();
        stages.dedup();
        Ok(StagePlan { stages })
    }

    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    pub fn contains(&self, s: Stage) -> bool {
        self.stages.contains(&s)
    }

    pub fn names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name().to_string()).collect()
    }

    /// Dependencies of `s` within this plan (for `report`: every other stage).
    pub fn deps_of(&self, s: Stage) -> Vec<Stage> {
        if s == Stage::Report {
            return self
                .stages
                .iter()
                .copied()
                .filter(|x| *x != Stage::Report)
                .collect();
        }
        s.deps()
            .iter()
            .chain(s.soft_deps())
            .copied()
            .filter(|d| self.contains(*d))
            .collect()
    }

    /// Stages with no dependency inside the plan: the ones queued at submission.
    pub fn roots(&self) -> Vec<Stage> {
        self.stages
            .iter()
            .copied()
            .filter(|s| self.deps_of(*s).is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_over_dependencies_and_adds_report() {
        struct Case {
            input: &'static str,
            want: Result<Vec<Stage>, StagePlanError>,
        }
        let cases = [
            Case {
                input: "preprocess",
                want: Ok(vec![Stage::Preprocess, Stage::Report]),
            },
            Case {
                input: " report ,preprocess",
                want: Ok(vec![Stage::Preprocess, Stage::Report]),
            },
            Case {
                input: "",
                want: Ok(vec![
                    Stage::Preprocess,
                    Stage::Detect,
                    Stage::Ocr,
                    Stage::Segment,
                    Stage::Vl,
                    Stage::Edocr,
                    Stage::Tolerance,
                    Stage::Report,
                ]),
            },
            Case {
                input: "ocr",
                want: Ok(vec![Stage::Preprocess, Stage::Ocr, Stage::Report]),
            },
            Case {
                input: "report",
                want: Ok(vec![Stage::Report]),
            },
            Case {
                input: "PREPROCESS",
                want: Ok(vec![Stage::Preprocess, Stage::Report]),
            },
            Case {
                input: "preprocess,bogus,nope",
                want: Err(StagePlanError::Unknown(vec!["bogus".into(), "nope".into()])),
            },
            Case {
                input: "tolerance",
                want: Ok(vec![
                    Stage::Preprocess,
                    Stage::Ocr,
                    Stage::Edocr,
                    Stage::Tolerance,
                    Stage::Report,
                ]),
            },
            Case {
                input: "vl",
                want: Ok(vec![Stage::Preprocess, Stage::Vl, Stage::Report]),
            },
        ];
        for c in cases {
            let got = StagePlan::parse(c.input).map(|p| p.stages().to_vec());
            assert_eq!(got, c.want, "input {:?}", c.input);
        }
    }

    #[test]
    fn all_is_topological() {
        for (i, s) in Stage::ALL.iter().enumerate() {
            for d in s.deps() {
                assert!(
                    Stage::ALL[..i].contains(d),
                    "{s} comes before its dependency {d}"
                );
            }
        }
    }

    #[test]
    fn deps_and_roots_within_plan() {
        let plan = StagePlan::from_names(&["preprocess", "report"]).unwrap();
        assert_eq!(plan.roots(), vec![Stage::Preprocess]);
        assert_eq!(plan.deps_of(Stage::Report), vec![Stage::Preprocess]);
        let full = StagePlan::from_names(&Stage::ALL.map(Stage::name)).unwrap();
        assert_eq!(
            full.deps_of(Stage::Edocr),
            vec![Stage::Preprocess, Stage::Ocr, Stage::Detect]
        );
        assert_eq!(full.deps_of(Stage::Report).len(), 7);
    }

    #[test]
    fn every_stage_of_the_graph_is_built() {
        let listed: Vec<Stage> = Stage::available().collect();
        assert_eq!(listed, Stage::ALL.to_vec());
        let err = StagePlanError::Unavailable(vec!["x".into()]).to_string();
        assert!(err.contains('x'), "{err}");
    }
}
