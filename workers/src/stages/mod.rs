//! One module per stage. Each exposes a synchronous, pure `run(&Params, Input) ->
//! Result<Output, StageError>`: no queues, no database. The worker runtime
//! (`crate::runtime`) and the local runner (`crate::local`) both call them.

pub mod detect;
pub mod edocr;
pub mod ocr;
pub mod preprocess;
pub mod report;
pub mod segment;
pub mod tolerance;

/// A page raster a stage produced: grayscale PNG bytes plus its description.
#[derive(Debug, Clone)]
pub struct PageRaster {
    pub info: drawpipe_core::report::PageInfo,
    pub png: Vec<u8>,
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

/// Runs `ocr` over stored page rasters (`(page index, PNG)`): the output the worker
/// stores (`text` lines, `_timings` per page) and the device the models ran on. The
/// pages are read with fused inference ([`ocr::run_fused`]).
pub fn ocr_pages<'a>(
    params: &ocr::Params,
    engine: &ocr::OcrEngine,
    pages: impl IntoIterator<Item = (u32, &'a [u8])>,
) -> Result<(serde_json::Value, String), drawpipe_core::StageError> {
    let pages: Vec<(u32, &[u8])> = pages.into_iter().collect();
    ocr_jobs(engine, &[(params, pages)])
        .pop()
        .expect("one result per job")
}

/// [`ocr_pages`] for several jobs at once (a worker's batch): the pages of all the
/// jobs go through [`ocr::run_fused`] together. One result per job, in order; a job
/// with a page that cannot be decoded or read fails alone.
pub fn ocr_jobs(
    engine: &ocr::OcrEngine,
    jobs: &[(&ocr::Params, Vec<(u32, &[u8])>)],
) -> Vec<Result<(serde_json::Value, String), drawpipe_core::StageError>> {
    type Read = (Vec<ocr::TextLine>, Vec<serde_json::Value>);
    let mut per_job: Vec<Result<Read, drawpipe_core::StageError>> = Vec::with_capacity(jobs.len());
    let mut decoded: Vec<Vec<(u32, opencv::core::Mat)>> = Vec::with_capacity(jobs.len());
    for (_, pages) in jobs {
        let pages: Result<Vec<_>, _> = pages
            .iter()
            .map(|&(i, png)| decode_page(png).map(|m| (i, m)))
            .collect();
        match pages {
            Ok(p) => {
                decoded.push(p);
                per_job.push(Ok((Vec::new(), Vec::new())));
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
                jobs[j].0,
                ocr::GrayPage {
                    index: *index,
                    image,
                },
            ));
            owner.push(j);
        }
    }
    let outputs = ocr::run_fused(engine, &items);
    for (out, j) in outputs.into_iter().zip(owner) {
        match (out, &mut per_job[j]) {
            (Ok(o), Ok((lines, timings))) => {
                lines.extend(o.lines);
                timings.push(serde_json::to_value(&o.timings).unwrap_or_default());
            }
            (Err(e), slot @ Ok(_)) => *slot = Err(e),
            _ => {}
        }
    }
    per_job
        .into_iter()
        .map(|r| {
            r.map(|(lines, timings)| {
                let output = serde_json::json!({ "text": lines, "_timings": timings });
                (output, engine.device().to_string())
            })
        })
        .collect()
}

/// Runs `edocr` over stored page rasters with the `ocr` stage's lines: the output
/// the worker stores (`dimensions`, `gdt`, `title_block`; `_regions` and `_timings`
/// stay in the stage output) and the device the models ran on.
pub fn edocr_pages<'a>(
    params: &edocr::Params,
    engine: &ocr::OcrEngine,
    pages: impl IntoIterator<Item = (u32, &'a [u8])>,
    lines: &[ocr::TextLine],
) -> Result<(serde_json::Value, String), drawpipe_core::StageError> {
    let (mut dimensions, mut gdt, mut regions, mut timings) = (vec![], vec![], vec![], vec![]);
    let mut title_block = serde_json::Map::new();
    for (index, png) in pages {
        let image = decode_page(png)?;
        let page_lines: Vec<ocr::TextLine> =
            lines.iter().filter(|l| l.page == index).cloned().collect();
        let out = edocr::run_on_page(params, engine, index, &image, &page_lines)?;
        dimensions.extend(out.dimensions);
        gdt.extend(out.gdt);
        regions.extend(out.regions);
        timings.push(serde_json::to_value(&out.timings).unwrap_or_default());
        // One title block per drawing: the first page that has a field keeps it.
        for (k, v) in out.title_block {
            title_block.entry(k).or_insert(v);
        }
    }
    let output = serde_json::json!({
        "dimensions": dimensions,
        "gdt": gdt,
        "title_block": title_block,
        "_regions": regions,
        "_timings": timings,
    });
    Ok((output, engine.device().to_string()))
}

/// Decodes each stored page raster and hands `f` its index, grayscale bytes (row-major),
/// width and height.
fn for_each_gray_page<'a>(
    pages: impl IntoIterator<Item = (u32, &'a [u8])>,
    mut f: impl FnMut(u32, &[u8], usize, usize) -> Result<(), drawpipe_core::StageError>,
) -> Result<(), drawpipe_core::StageError> {
    use opencv::prelude::*;
    for (index, png) in pages {
        let image = decode_page(png)?;
        let bytes = image
            .data_bytes()
            .map_err(|e| drawpipe_core::StageError::Other(format!("page raster: {e}").into()))?;
        f(index, bytes, image.cols() as usize, image.rows() as usize)?;
    }
    Ok(())
}

/// Runs `segment` over stored page rasters: `{"segments": [per page]}` and the device.
pub fn segment_pages<'a>(
    params: &segment::Params,
    model: &segment::SegmentModel,
    pages: impl IntoIterator<Item = (u32, &'a [u8])>,
) -> Result<(serde_json::Value, String), drawpipe_core::StageError> {
    let mut out = Vec::new();
    for_each_gray_page(pages, |index, gray, w, h| {
        out.push(segment::run_on_page(params, model, index, gray, w, h)?.0);
        Ok(())
    })?;
    Ok((
        serde_json::json!({ "segments": out }),
        model.device().to_string(),
    ))
}

/// Runs `detect` over stored page rasters: `{"detections": [...]}` and the device.
pub fn detect_pages<'a>(
    params: &detect::Params,
    model: &detect::DetectModel,
    pages: impl IntoIterator<Item = (u32, &'a [u8])>,
) -> Result<(serde_json::Value, String), drawpipe_core::StageError> {
    let mut out = Vec::new();
    for_each_gray_page(pages, |index, gray, w, h| {
        out.extend(detect::run_on_page(params, model, index, gray, w, h)?);
        Ok(())
    })?;
    Ok((
        serde_json::json!({ "detections": out }),
        model.device().to_string(),
    ))
}
