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

/// Pages [`decode_page`] keeps decoded: the stages of one drawing in one process
/// (`drawpipe analyze`, a worker with `--pool all`) decode its page once, not once
/// each (a 3300×2550 page takes about 50 ms to decode; a copy of the kept image,
/// 8 MB, about 1 ms). Two, so that no process holds more than two page rasters for it.
const DECODED_PAGES: usize = 2;

/// The last pages decoded: the PNG's bytes (compared in full, so a hit is the same
/// page) and its image, most recent last.
static DECODED: std::sync::Mutex<Vec<(Vec<u8>, opencv::core::Mat)>> =
    std::sync::Mutex::new(Vec::new());

/// Pages served from [`DECODED`] so far.
#[cfg(test)]
static DECODE_HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Decodes a stored page raster (grayscale PNG) into an 8-bit single-channel image.
/// The last [`DECODED_PAGES`] pages decoded in this process are kept: the same bytes
/// again get a copy of the kept image.
///
/// # Errors
/// `Invalid` when the bytes are not a decodable image.
pub fn decode_page(png: &[u8]) -> Result<opencv::core::Mat, drawpipe_core::StageError> {
    use opencv::prelude::*;
    let copy = |m: &opencv::core::Mat| {
        m.try_clone()
            .map_err(|e| drawpipe_core::StageError::Other(format!("page raster: {e}").into()))
    };
    {
        let kept = DECODED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, img)) = kept.iter().find(|(bytes, _)| bytes.as_slice() == png) {
            #[cfg(test)]
            DECODE_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return copy(img);
        }
    }
    let img = decode_page_uncached(png)?;
    let mut kept = DECODED.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= DECODED_PAGES {
        kept.remove(0);
    }
    kept.push((png.to_vec(), copy(&img)?));
    Ok(img)
}

fn decode_page_uncached(png: &[u8]) -> Result<opencv::core::Mat, drawpipe_core::StageError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{Mat, Scalar, Vector, CV_8UC1};
    use opencv::prelude::*;

    fn png_of(seed: u8) -> Vec<u8> {
        let mut m = Mat::new_rows_cols_with_default(40, 60, CV_8UC1, Scalar::all(255.0)).unwrap();
        for (i, p) in m.data_bytes_mut().unwrap().iter_mut().enumerate() {
            *p = (i as u8).wrapping_mul(seed);
        }
        let mut out = Vector::<u8>::new();
        opencv::imgcodecs::imencode(".png", &m, &mut out, &Vector::new()).unwrap();
        out.to_vec()
    }

    #[test]
    fn a_page_decoded_again_is_a_copy_of_the_kept_one() {
        let (a, b) = (png_of(7), png_of(11));
        let mut first = decode_page(&a).unwrap();
        let hits = DECODE_HITS.load(std::sync::atomic::Ordering::Relaxed);
        let again = decode_page(&a).unwrap();
        assert!(DECODE_HITS.load(std::sync::atomic::Ordering::Relaxed) > hits);
        assert_eq!(first.data_bytes().unwrap(), again.data_bytes().unwrap());
        // Each caller owns its image: changing one changes neither the kept page
        // nor another caller's.
        first.data_bytes_mut().unwrap()[0] ^= 0xff;
        let third = decode_page(&a).unwrap();
        assert_eq!(third.data_bytes().unwrap(), again.data_bytes().unwrap());
        assert_ne!(first.data_bytes().unwrap(), third.data_bytes().unwrap());
        // Other bytes, another page.
        let other = decode_page(&b).unwrap();
        assert_ne!(other.data_bytes().unwrap(), again.data_bytes().unwrap());
        assert_eq!((other.cols(), other.rows()), (60, 40));
        // Not an image: refused, and nothing kept for it.
        assert!(decode_page(b"not a png").is_err());
    }
}
