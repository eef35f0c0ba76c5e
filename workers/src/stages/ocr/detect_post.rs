//! DB text detection's post-processing, as PaddleOCR does it: the detector's input
//! size, normalisation, probability map → boxes (contours, minimum-area rectangles,
//! box scores, pyclipper's unclip), corner order and reading order.

use drawpipe_core::StageError;
use opencv::core::{self, Mat, Point, Point2f, RotatedRect, Scalar, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use super::{cv, dist, LimitType, Params};

/// A detected text box in page pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct DetBox {
    /// Top-left, top-right, bottom-right, bottom-left.
    pub points: [[f32; 2]; 4],
    /// Mean text probability inside, in [0, 1].
    pub score: f32,
    /// Touches an edge between tiles (tiled detection only): may be a cut piece.
    pub cut: bool,
}
/// Detector input size for a `w`×`h` image: scaled by the limit rule, then each side
/// rounded to the nearest multiple of 32 (at least 32). As PaddleOCR, the scale is
/// truncated to whole pixels before rounding.
pub fn det_resize_dims(w: u32, h: u32, limit: LimitType, side: u32) -> (u32, u32) {
    let ratio = match limit {
        LimitType::Max if w.max(h) > side && side > 0 => side as f64 / w.max(h) as f64,
        // Enlarging a long, thin page by its short side would make the long side
        // unbounded: it stops at 8 × `side` (the short side then stays below `side`).
        LimitType::Min if w.min(h) < side => {
            (side as f64 / w.min(h).max(1) as f64).min(8.0 * side as f64 / w.max(h) as f64)
        }
        _ => 1.0,
    };
    let round32 = |v: u32| (((v as f64 * ratio) as u32 as f64 / 32.0).round() as u32 * 32).max(32);
    (round32(w), round32(h))
}

/// 8-bit gray pixels → CHW f32 with the gray copied into `channels` planes, values
/// `p / 127.5 - 1` in [-1, 1] (PP-OCR's mean 0.5, std 0.5, scale 1/255).
pub fn normalise_gray_chw(pixels: &[u8], channels: usize) -> Vec<f32> {
    let lut: Vec<f32> = (0..256).map(|p| p as f32 / 127.5 - 1.0).collect();
    let plane: Vec<f32> = pixels.iter().map(|&p| lut[p as usize]).collect();
    let mut out = Vec::with_capacity(plane.len() * channels);
    for _ in 0..channels {
        out.extend_from_slice(&plane);
    }
    out
}

/// DB post-processing: probability map (`pw`×`ph`, row-major) → boxes in the
/// coordinates of the `dw`×`dh` image it was computed from, ordered clockwise from
/// the top-left and clipped to it.
pub fn boxes_from_prob_map(
    prob: &[f32],
    pw: u32,
    ph: u32,
    dw: u32,
    dh: u32,
    params: &Params,
) -> Result<Vec<DetBox>, StageError> {
    let prob_mat = Mat::new_rows_cols_with_data(ph as i32, pw as i32, prob).map_err(cv)?;
    let bin: Vec<u8> = prob
        .iter()
        .map(|&p| if p > params.thresh { 255 } else { 0 })
        .collect();
    let bin = Mat::new_rows_cols_with_data(ph as i32, pw as i32, &bin).map_err(cv)?;
    let kernel = Mat::ones(2, 2, core::CV_8UC1)
        .map_err(cv)?
        .to_mat()
        .map_err(cv)?;
    let mut mask = Mat::default();
    imgproc::dilate(
        &bin,
        &mut mask,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value().map_err(cv)?,
    )
    .map_err(cv)?;
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        &mask,
        &mut contours,
        imgproc::RETR_LIST,
        imgproc::CHAIN_APPROX_SIMPLE,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let mut out = Vec::new();
    for contour in contours.iter().take(params.max_candidates) {
        let rect = imgproc::min_area_rect(&contour).map_err(cv)?;
        if rect.size.width.min(rect.size.height) < params.min_box_size {
            continue;
        }
        let corners = rect_points(&rect)?;
        let score = box_score(&prob_mat, &corners)?;
        if score < params.box_thresh {
            continue;
        }
        let Some(grown) = unclip(&corners, params.unclip_ratio)? else {
            continue;
        };
        if grown.size.width.min(grown.size.height) < params.min_box_size + 2.0 {
            continue;
        }
        // Probability-map pixels to page pixels as PaddleOCR does it, in f32: divide,
        // multiply, round half to even (np.round).
        let mut pts = rect_points(&grown)?;
        for p in &mut pts {
            p[0] = (p[0] / pw as f32 * dw as f32)
                .round_ties_even()
                .clamp(0.0, dw as f32);
            p[1] = (p[1] / ph as f32 * dh as f32)
                .round_ties_even()
                .clamp(0.0, dh as f32);
        }
        let mut pts = order_clockwise(pts);
        for p in &mut pts {
            p[0] = p[0].clamp(0.0, dw as f32 - 1.0);
            p[1] = p[1].clamp(0.0, dh as f32 - 1.0);
        }
        if dist(pts[0], pts[1]) as i32 <= 3 || dist(pts[0], pts[3]) as i32 <= 3 {
            continue;
        }
        out.push(DetBox {
            points: pts,
            score,
            cut: false,
        });
    }
    Ok(out)
}

/// The unclipped box as PaddleOCR (and rapidocr) computes it: DB shrinks text regions
/// by `area × ratio / perimeter` when training, so the box's polygon is offset outward
/// by that distance with rounded corners, by pyclipper, which first truncates the
/// corners to integers; the result is the minimum-area rectangle of the offset
/// polygon's integer vertices ([`clipper_offset_round`]). `None` when the corners
/// collapse to fewer than 3 distinct points (pyclipper then offsets nothing).
pub fn unclip(pts: &[[f32; 2]; 4], ratio: f32) -> Result<Option<RotatedRect>, StageError> {
    let Some(distance) = unclip_distance(pts, ratio) else {
        return Ok(None);
    };
    let path: Vec<[i64; 2]> = pts.iter().map(|q| [q[0] as i64, q[1] as i64]).collect();
    let grown = clipper_offset_round(&path, distance);
    if grown.is_empty() {
        return Ok(None);
    }
    let grown: Vector<Point> = grown
        .iter()
        .map(|q| Point::new(q[0] as i32, q[1] as i32))
        .collect();
    Ok(Some(imgproc::min_area_rect(&grown).map_err(cv)?))
}

/// PaddleOCR's unclip distance, `area × ratio / perimeter` as shapely computes them
/// from the float corners, in f64, with the ratio as the decimal it was written as
/// (1.6, not 1.600000023841858). `None` for a box with no perimeter.
fn unclip_distance(pts: &[[f32; 2]; 4], ratio: f32) -> Option<f64> {
    let p: Vec<(f64, f64)> = pts.iter().map(|q| (q[0] as f64, q[1] as f64)).collect();
    let (mut area2, mut length) = (0.0, 0.0);
    for i in 0..4 {
        let (a, b) = (p[i], p[(i + 1) % 4]);
        area2 += a.0 * b.1 - b.0 * a.1;
        length += (b.0 - a.0).hypot(b.1 - a.1);
    }
    let ratio: f64 = ratio.to_string().parse().unwrap_or(ratio as f64);
    (length > 0.0).then(|| area2.abs() / 2.0 * ratio / length)
}

/// Clipper 6.4.2's `ClipperOffset` (what pyclipper runs) for one closed polygon with
/// round joins and the default arc tolerance 0.25, `delta` > 0: the vertices of the
/// offset polygon, integers rounded half away from zero. Of the union Clipper runs
/// after offsetting, only what it does to a convex polygon's offset is kept: repeated
/// and collinear vertices are dropped.
pub fn clipper_offset_round(path: &[[i64; 2]], delta: f64) -> Vec<[i64; 2]> {
    let round = |v: f64| -> i64 {
        if v < 0.0 {
            (v - 0.5) as i64
        } else {
            (v + 0.5) as i64
        }
    };
    // AddPath: drop a closing duplicate and consecutive duplicates; fewer than 3
    // points are ignored. FixOrientations, for one path: a negative area (Clipper's
    // Area) reverses it.
    let mut high = path.len();
    while high > 1 && path[0] == path[high - 1] {
        high -= 1;
    }
    let mut poly: Vec<[i64; 2]> = Vec::with_capacity(high);
    for &q in &path[..high] {
        if poly.last() != Some(&q) {
            poly.push(q);
        }
    }
    if poly.len() < 3 || delta <= 0.0 {
        return Vec::new();
    }
    let area: f64 = (0..poly.len())
        .map(|i| {
            let (a, b) = (poly[(i + poly.len() - 1) % poly.len()], poly[i]);
            (a[0] as f64 + b[0] as f64) * (a[1] as f64 - b[1] as f64)
        })
        .sum::<f64>()
        * -0.5;
    if area < 0.0 {
        poly.reverse();
    }
    // DoOffset.
    const DEF_ARC_TOLERANCE: f64 = 0.25;
    let y = if DEF_ARC_TOLERANCE > delta * DEF_ARC_TOLERANCE {
        delta * DEF_ARC_TOLERANCE
    } else {
        DEF_ARC_TOLERANCE
    };
    let mut steps = std::f64::consts::PI / (1.0 - y / delta).acos();
    if steps > delta * std::f64::consts::PI {
        steps = delta * std::f64::consts::PI;
    }
    let two_pi = 2.0 * std::f64::consts::PI;
    let (sin, cos) = ((two_pi / steps).sin(), (two_pi / steps).cos());
    let steps_per_rad = steps / two_pi;
    let n = poly.len();
    let normals: Vec<(f64, f64)> = (0..n)
        .map(|j| {
            let (a, b) = (poly[j], poly[(j + 1) % n]);
            let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
            if dx == 0.0 && dy == 0.0 {
                return (0.0, 0.0);
            }
            let f = 1.0 / (dx * dx + dy * dy).sqrt();
            (dy * f, -dx * f)
        })
        .collect();
    let mut out = Vec::new();
    let mut k = n - 1;
    for j in 0..n {
        let src = (poly[j][0] as f64, poly[j][1] as f64);
        let at = |nx: f64, ny: f64| [round(src.0 + nx * delta), round(src.1 + ny * delta)];
        let (nk, nj) = (normals[k], normals[j]);
        let mut sin_a = nk.0 * nj.1 - nj.0 * nk.1;
        if (sin_a * delta).abs() < 1.0 {
            if nk.0 * nj.0 + nj.1 * nk.1 > 0.0 {
                // Nearly straight on: one point, and (as Clipper) k is not advanced.
                out.push(at(nk.0, nk.1));
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(at(nk.0, nk.1));
            out.push(poly[j]);
            out.push(at(nj.0, nj.1));
        } else {
            // DoRound.
            let a = sin_a.atan2(nk.0 * nj.0 + nk.1 * nj.1);
            let count = (round(steps_per_rad * a.abs()) as i32).max(1);
            let (mut x, mut yv) = nk;
            for _ in 0..count {
                out.push(at(x, yv));
                let x2 = x;
                x = x * cos - sin * yv;
                yv = x2 * sin + yv * cos;
            }
            out.push(at(nj.0, nj.1));
        }
        k = j;
    }
    // The union's clean-up: drop a vertex equal to or collinear with its neighbours.
    let mut i = 0;
    while out.len() >= 3 && i < out.len() {
        let n = out.len();
        let (a, b, c) = (out[(i + n - 1) % n], out[i], out[(i + 1) % n]);
        if (a[1] - b[1]) * (b[0] - c[0]) == (a[0] - b[0]) * (b[1] - c[1]) {
            out.remove(i);
            i = i.saturating_sub(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Mean of `prob` inside the quadrilateral (PaddleOCR's "fast" score).
fn box_score(
    prob: &(impl MatTraitConst + core::ToInputArray),
    pts: &[[f32; 2]; 4],
) -> Result<f32, StageError> {
    let (w, h) = (prob.cols(), prob.rows());
    let xs = pts.iter().map(|p| p[0]);
    let ys = pts.iter().map(|p| p[1]);
    let xmin = (xs.clone().fold(f32::MAX, f32::min).floor() as i32).clamp(0, w - 1);
    let xmax = (xs.fold(f32::MIN, f32::max).ceil() as i32).clamp(0, w - 1);
    let ymin = (ys.clone().fold(f32::MAX, f32::min).floor() as i32).clamp(0, h - 1);
    let ymax = (ys.fold(f32::MIN, f32::max).ceil() as i32).clamp(0, h - 1);
    let mut mask = Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, core::CV_8UC1)
        .map_err(cv)?
        .to_mat()
        .map_err(cv)?;
    let poly: Vector<Point> = pts
        .iter()
        .map(|p| Point::new((p[0] - xmin as f32) as i32, (p[1] - ymin as f32) as i32))
        .collect();
    let polys = Vector::<Vector<Point>>::from_iter([poly]);
    imgproc::fill_poly(
        &mut mask,
        &polys,
        Scalar::all(1.0),
        imgproc::LINE_8,
        0,
        Point::new(0, 0),
    )
    .map_err(cv)?;
    let roi = Mat::roi(
        prob,
        core::Rect::new(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1),
    )
    .map_err(cv)?;
    Ok(core::mean(&roi, &mask).map_err(cv)?[0] as f32)
}

pub(super) fn rect_points(rect: &RotatedRect) -> Result<[[f32; 2]; 4], StageError> {
    let mut pts = [Point2f::default(); 4];
    rect.points(&mut pts).map_err(cv)?;
    Ok(pts.map(|p| [p.x, p.y]))
}

/// Orders four corners top-left, top-right, bottom-right, bottom-left: the two
/// leftmost by x are the left side, each side split by y (imutils' rule, as
/// PaddleOCR).
pub fn order_clockwise(mut pts: [[f32; 2]; 4]) -> [[f32; 2]; 4] {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (mut left, mut right) = ([pts[0], pts[1]], [pts[2], pts[3]]);
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    [left[0], right[0], right[1], left[1]]
}

/// Reading order: top to bottom by the top-left corner; boxes whose tops are within
/// 10 px of the previous one form a line, read left to right (PaddleOCR's rule).
pub fn sort_reading_order(boxes: &mut [DetBox]) {
    boxes.sort_by(|a, b| a.points[0][1].total_cmp(&b.points[0][1]));
    let mut line = 0u32;
    let mut keyed: Vec<(u32, f32, usize)> = Vec::with_capacity(boxes.len());
    for i in 0..boxes.len() {
        if i > 0 && boxes[i].points[0][1] - boxes[i - 1].points[0][1] >= 10.0 {
            line += 1;
        }
        keyed.push((line, boxes[i].points[0][0], i));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let sorted: Vec<DetBox> = keyed.iter().map(|k| boxes[k.2].clone()).collect();
    boxes.clone_from_slice(&sorted);
}

#[cfg(test)]
mod tests {
    use super::super::tests::det;
    use super::*;
    use crate::geometry::bbox_of;

    #[test]
    fn resize_rules_round_to_32() {
        struct Case {
            size: (u32, u32),
            limit: LimitType,
            side: u32,
            want: (u32, u32),
        }
        let cases = [
            // rapidocr's default (min 736) leaves a big page alone but for rounding.
            Case {
                size: (3308, 2339),
                limit: LimitType::Min,
                side: 736,
                want: (3296, 2336),
            },
            Case {
                size: (3308, 2339),
                limit: LimitType::Max,
                side: 2048,
                want: (2048, 1440),
            },
            Case {
                size: (3308, 2339),
                limit: LimitType::Max,
                side: 960,
                want: (960, 672),
            },
            Case {
                size: (1653, 2339),
                limit: LimitType::None,
                side: 0,
                want: (1664, 2336),
            },
            Case {
                size: (500, 300),
                limit: LimitType::Max,
                side: 960,
                want: (512, 288),
            },
            Case {
                size: (100, 20),
                limit: LimitType::Min,
                side: 736,
                want: (3680, 736),
            },
            // A strip 200 times longer than wide stops at 8 × 736 on its long side.
            Case {
                size: (10, 2000),
                limit: LimitType::Min,
                side: 736,
                want: (32, 5888),
            },
            Case {
                size: (10, 5),
                limit: LimitType::None,
                side: 0,
                want: (32, 32),
            },
        ];
        for c in cases {
            assert_eq!(
                det_resize_dims(c.size.0, c.size.1, c.limit, c.side),
                c.want,
                "{:?} {:?} {}",
                c.size,
                c.limit,
                c.side
            );
        }
    }

    #[test]
    fn normalises_to_minus_one_one_in_three_planes() {
        let v = normalise_gray_chw(&[0, 255, 51], 3);
        assert_eq!(v.len(), 9);
        let want = [-1.0, 1.0, 51.0 / 127.5 - 1.0];
        for (i, got) in v.iter().enumerate() {
            assert!((got - want[i % 3]).abs() < 1e-6, "{i}: {got}");
        }
    }

    /// as PaddleOCR's unclip runs them (JT_ROUND, ET_CLOSEDPOLYGON, distance area ×
    /// 1.6 / perimeter from shapely), its output vertices sorted; printed by
    /// `PyclipperOffset().AddPath(pts, JT_ROUND, ET_CLOSEDPOLYGON); Execute(d)`.
    #[test]
    fn unclip_offsets_as_pyclipper() {
        /// A rectangle's corners and pyclipper's offset vertices.
        type Case = ([[f32; 2]; 4], &'static [[i64; 2]]);
        #[rustfmt::skip]
        let cases: [Case; 4] = [
            // center (50.3, 40.7), size (100.4, 20.2), angle 30: distance 13.4533
            ([[1.7755241, 24.346857], [11.875523, 6.8531437], [98.82448, 57.053146], [88.72447, 74.54686]],
             &[[-12,23],[-12,28],[-11,17],[-10,32],[-6,36],[-1,-1],[7,-7],[12,-7],[18,-6],[81,86],[86,87],[92,87],[96,85],[100,81],[105,45],[109,49],[110,64],[111,53],[111,59]]),
            // center (20, 15), size (10, 10), angle 0: distance 4
            ([[15.0, 20.0], [15.0, 10.0], [25.0, 10.0], [25.0, 20.0]],
             &[[11,10],[11,20],[12,7],[12,23],[15,6],[15,24],[25,6],[25,24],[28,7],[28,23],[29,10],[29,20]]),
            // center (300.25, 120.5), size (180.5, 34.75), angle -12.5: distance 23.3120
            ([[215.89993, 156.99681], [208.37863, 123.07053], [384.60007, 84.00318], [392.12137, 117.92946]],
             &[[185,121],[185,128],[186,114],[190,109],[192,161],[195,104],[196,169],[201,174],[203,100],[207,178],[213,179],[220,179],[379,61],[386,61],[392,62],[397,140],[398,66],[403,71],[406,136],[407,79],[411,131],[414,125],[415,112],[415,118]]),
            // center (10.5, 10.5), size (3.2, 3.1), angle 45: distance 1.2597
            ([[8.272614, 10.464645], [10.464645, 8.272614], [12.727386, 10.535354], [10.535354, 12.727386]],
             &[[7,9],[7,11],[9,7],[9,13],[11,7],[11,13],[13,9],[13,11]]),
        ];
        for (pts, want) in cases {
            let path: Vec<[i64; 2]> = pts.iter().map(|q| [q[0] as i64, q[1] as i64]).collect();
            let mut got = clipper_offset_round(&path, unclip_distance(&pts, 1.6).unwrap());
            got.sort();
            assert_eq!(got, want, "{pts:?}");
            // unclip: the minimum-area rectangle of those vertices.
            let want_pts: Vector<Point> = want
                .iter()
                .map(|q| Point::new(q[0] as i32, q[1] as i32))
                .collect();
            let rect = unclip(&pts, 1.6).unwrap().unwrap();
            assert_eq!(rect, imgproc::min_area_rect(&want_pts).unwrap());
        }
        // Corners that truncate to fewer than 3 distinct points offset nothing.
        assert!(
            unclip(&[[1.2, 1.2], [1.7, 1.3], [1.9, 1.8], [1.1, 1.6]], 1.6)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn orders_corners_clockwise_from_top_left() {
        let want = [[10.0, 10.0], [50.0, 12.0], [49.0, 30.0], [9.0, 28.0]];
        for shuffled in [
            [want[2], want[0], want[3], want[1]],
            [want[3], want[2], want[1], want[0]],
            want,
        ] {
            assert_eq!(order_clockwise(shuffled), want);
        }
    }
    #[test]
    fn sorts_boxes_in_reading_order() {
        // Two lines; the second line's boxes differ in top by less than 10 px.
        let mut boxes = vec![
            det(300.0, 105.0, 50.0, 20.0),
            det(10.0, 12.0, 50.0, 20.0),
            det(20.0, 100.0, 50.0, 20.0),
            det(200.0, 10.0, 50.0, 20.0),
        ];
        sort_reading_order(&mut boxes);
        let tops: Vec<[f32; 2]> = boxes.iter().map(|b| b.points[0]).collect();
        assert_eq!(
            tops,
            [[10.0, 12.0], [200.0, 10.0], [20.0, 100.0], [300.0, 105.0]]
        );
    }

    #[test]
    fn finds_a_box_in_a_probability_map() {
        // A 60×12 text blob at (20, 30) in a 128×64 map: DB shrinks text, so the box
        // comes back grown by 60·12·1.6/144 = 8 px per side, then scaled ×2.
        let (w, h) = (128u32, 64u32);
        let mut prob = vec![0.05f32; (w * h) as usize];
        for y in 30..42 {
            for x in 20..80 {
                prob[(y * w + x) as usize] = 0.9;
            }
        }
        let boxes = boxes_from_prob_map(&prob, w, h, 2 * w, 2 * h, &Params::default()).unwrap();
        assert_eq!(boxes.len(), 1);
        let b = bbox_of(&boxes[0].points);
        let want = [
            2.0 * (20.0 - 8.5),
            2.0 * (30.0 - 8.5),
            2.0 * 77.0,
            2.0 * 28.0,
        ];
        for k in 0..4 {
            assert!(
                (b[k] - want[k]).abs() <= 3.0,
                "bbox {b:?}, want about {want:?}"
            );
        }
        // Mean inside the contour's rectangle, whose border (from the 2×2 dilation)
        // takes in some background.
        assert!(
            boxes[0].score > 0.7 && boxes[0].score < 0.9,
            "score {}",
            boxes[0].score
        );
        // A faint blob (mean below box_thresh) and a sliver (under min size) give nothing.
        let mut faint = vec![0.0f32; (w * h) as usize];
        for y in 30..42 {
            for x in 20..80 {
                faint[(y * w + x) as usize] = 0.35;
            }
        }
        assert!(boxes_from_prob_map(&faint, w, h, w, h, &Params::default())
            .unwrap()
            .is_empty());
        let mut sliver = vec![0.0f32; (w * h) as usize];
        for x in 20..80 {
            sliver[(30 * w + x) as usize] = 0.9;
        }
        assert!(boxes_from_prob_map(&sliver, w, h, w, h, &Params::default())
            .unwrap()
            .is_empty());
    }
}
