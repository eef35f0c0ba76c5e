//! One module per stage, each implementing the stage contract
//! ([`contract::StageDef`]): typed options, inputs and output, its engine, `run`
//! for a batch, and its result rows. [`registry::Registry`] lists them; the worker
//! runtime (`crate::runtime`) and the local runner (`crate::local`) drive stages
//! only through it. No stage touches a queue or the database.

pub mod contract;
pub mod detect;
pub mod edocr;
pub mod estimate;
pub mod ocr;
pub mod preprocess;
pub mod qc;
pub mod registry;
pub mod report;
pub mod segment;
pub mod tolerance;
pub mod vl;

use serde_json::Value;

/// Stored page rasters of one job: `(page index, grayscale PNG)`.
pub type Pages = Vec<(u32, Vec<u8>)>;

/// A page raster a stage produced: grayscale PNG bytes plus its description.
#[derive(Debug, Clone)]
pub struct PageRaster {
    pub info: drawpipe_core::report::PageInfo,
    pub png: Vec<u8>,
}

/// `v` with at most `places` decimals and no trailing zeros (`0.25`, `38`, `2.5`), as
/// written in labels, tolerances and estimate lines; never `-0`.
pub fn decimal(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Decodes a stored page raster (grayscale PNG) into an 8-bit single-channel image.
///
/// # Errors
/// `Invalid` when the bytes are not a decodable image.
pub fn decode_page(png: &[u8]) -> Result<opencv::core::Mat, drawpipe_core::StageError> {
    use opencv::prelude::*;
    let buf = opencv::core::Vector::<u8>::from_slice(png);
    let img = opencv::imgcodecs::imdecode(&buf, opencv::imgcodecs::IMREAD_GRAYSCALE)
        .map_err(|e| drawpipe_core::StageError::Other(format!("page raster: {e}").into()))?;
    if img.empty() {
        return Err(drawpipe_core::StageError::invalid(
            "page raster could not be decoded",
        ));
    }
    Ok(img)
}

/// Decodes each stored page raster (`(index, PNG)`) and hands `f` its index,
/// grayscale bytes (row-major), width and height.
fn for_each_gray_page(
    pages: &[(u32, Vec<u8>)],
    mut f: impl FnMut(u32, &[u8], usize, usize) -> Result<(), drawpipe_core::StageError>,
) -> Result<(), drawpipe_core::StageError> {
    use opencv::prelude::*;
    for (index, png) in pages {
        let image = decode_page(png)?;
        let bytes = image
            .data_bytes()
            .map_err(|e| drawpipe_core::StageError::Other(format!("page raster: {e}").into()))?;
        f(*index, bytes, image.cols() as usize, image.rows() as usize)?;
    }
    Ok(())
}

/// Runs `f` on every decoded page (index, grayscale bytes, width, height) of each
/// job: per job, the pages' results in page order, or the first error.
fn per_page<P, T>(
    jobs: Vec<(P, Pages)>,
    mut f: impl FnMut(&P, u32, &[u8], usize, usize) -> Result<T, drawpipe_core::StageError>,
) -> Vec<Result<Vec<T>, drawpipe_core::StageError>> {
    jobs.into_iter()
        .map(|(params, pages)| {
            let mut out = Vec::with_capacity(pages.len());
            for_each_gray_page(&pages, |index, gray, w, h| {
                out.push(f(&params, index, gray, w, h)?);
                Ok(())
            })?;
            Ok(out)
        })
        .collect()
}

/// Turns output items (`page`, `polygon` [[x, y]; 4], `bbox` [x, y, w, h], …) into
/// flat rows: `page_index`, `polygon` as 8 numbers, `x`, `y`, `width`, `height`, and
/// an index column numbering the items per page (`line_index`) or per job.
fn geometry_rows(items: &[Value], index: &str) -> Vec<Value> {
    let mut per_page: std::collections::HashMap<u64, i64> = Default::default();
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let mut row = item.as_object()?.clone();
            let page = item.get("page").and_then(Value::as_u64).unwrap_or(0);
            let flat: Vec<Value> = item
                .get("polygon")?
                .as_array()?
                .iter()
                .flat_map(|p| p.as_array().cloned().unwrap_or_default())
                .collect();
            let bbox = item.get("bbox")?.as_array()?.clone();
            let n = per_page.entry(page).or_insert(0);
            let idx = if index == "line_index" { *n } else { i as i64 };
            *n += 1;
            row.insert("page_index".into(), page.into());
            row.insert(index.into(), idx.into());
            row.insert("polygon".into(), Value::Array(flat));
            for (k, v) in ["x", "y", "width", "height"].iter().zip(bbox) {
                row.insert((*k).into(), v);
            }
            Some(Value::Object(row))
        })
        .collect()
}
