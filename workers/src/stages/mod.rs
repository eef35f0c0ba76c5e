//! One module per stage. Each exposes a synchronous, pure `run(&Params, Input) ->
//! Result<Output, StageError>`: no queues, no database. The worker runtime
//! (`crate::runtime`) and the local runner (`crate::local`) both call them.

pub mod ocr;
pub mod preprocess;
pub mod report;

/// A page raster a stage produced: grayscale PNG bytes plus its description.
#[derive(Debug, Clone)]
pub struct PageRaster {
    pub info: drawpipe_core::report::PageInfo,
    pub png: Vec<u8>,
}
