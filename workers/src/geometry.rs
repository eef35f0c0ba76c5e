//! Axis-aligned boxes as the stages use them, in f32 page pixels: `[x, y, w, h]` (the
//! top-left corner, then width and height), as every `bbox` field holds it, unless a
//! function's name says `xyxy` (`[x0, y0, x1, y1]`, the corners, as the detector's
//! raw boxes are).
//!
//! The arithmetic is the one the stages computed before this module gathered it: the
//! same f32 operations in the same order, so no reading moves by a bit.

/// `[x, y, w, h]` around the points.
pub fn bbox_of(pts: &[[f32; 2]; 4]) -> [f32; 4] {
    let x0 = pts.iter().map(|p| p[0]).fold(f32::MAX, f32::min);
    let y0 = pts.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
    let x1 = pts.iter().map(|p| p[0]).fold(f32::MIN, f32::max);
    let y1 = pts.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
    [x0, y0, x1 - x0, y1 - y0]
}

/// Area of a quadrilateral (its corners in order, either way round).
pub fn polygon_area(p: &[[f32; 2]; 4]) -> f32 {
    let twice: f32 = (0..4)
        .map(|i| p[i][0] * p[(i + 1) % 4][1] - p[(i + 1) % 4][0] * p[i][1])
        .sum();
    0.5 * twice.abs()
}

/// Area of an `[x, y, w, h]` box; a negative side counts as 0.
pub fn area(b: &[f32; 4]) -> f32 {
    b[2].max(0.0) * b[3].max(0.0)
}

/// Area of the intersection of two `[x, y, w, h]` boxes (0 when they do not overlap).
pub fn intersection(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    w.max(0.0) * h.max(0.0)
}

/// Intersection over the smaller bbox's area, in [0, 1].
pub fn overlap_of_smaller(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let small = area(a).min(area(b));
    if small <= 0.0 {
        0.0
    } else {
        intersection(a, b) / small
    }
}

/// Intersection over union of two bboxes, in [0, 1].
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let i = intersection(a, b);
    let u = area(a) + area(b) - i;
    if u <= 0.0 {
        0.0
    } else {
        i / u
    }
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes, in [0, 1].
pub fn iou_xyxy(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Union-find over indices: the representative of `i`'s group in `parent` (each
/// entry its parent; a root is its own), halving the path on the way.
pub fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_of_a_rotated_quadrilateral() {
        let pts = [[10.0, 4.0], [30.0, 0.0], [34.0, 20.0], [14.0, 24.0]];
        assert_eq!(bbox_of(&pts), [10.0, 0.0, 24.0, 24.0]);
        let upright = [[1.5, 2.0], [5.5, 2.0], [5.5, 3.0], [1.5, 3.0]];
        assert_eq!(bbox_of(&upright), [1.5, 2.0, 4.0, 1.0]);
    }

    #[test]
    fn areas_and_overlaps() {
        let turned = [[10.0, 0.0], [20.0, 10.0], [10.0, 20.0], [0.0, 10.0]];
        assert_eq!(polygon_area(&turned), 200.0);
        let square = [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]];
        assert_eq!(polygon_area(&square), 12.0);
        struct Case {
            name: &'static str,
            a: [f32; 4],
            b: [f32; 4],
            intersection: f32,
            overlap_of_smaller: f32,
            iou: f32,
        }
        let cases = [
            Case {
                name: "identical",
                a: [0.0, 0.0, 10.0, 4.0],
                b: [0.0, 0.0, 10.0, 4.0],
                intersection: 40.0,
                overlap_of_smaller: 1.0,
                iou: 1.0,
            },
            Case {
                name: "half across",
                a: [0.0, 0.0, 10.0, 4.0],
                b: [5.0, 0.0, 10.0, 4.0],
                intersection: 20.0,
                overlap_of_smaller: 0.5,
                iou: 20.0 / 60.0,
            },
            Case {
                name: "inside",
                a: [0.0, 0.0, 10.0, 10.0],
                b: [2.0, 2.0, 5.0, 2.0],
                intersection: 10.0,
                overlap_of_smaller: 1.0,
                iou: 0.1,
            },
            Case {
                name: "touching",
                a: [0.0, 0.0, 10.0, 4.0],
                b: [10.0, 0.0, 10.0, 4.0],
                intersection: 0.0,
                overlap_of_smaller: 0.0,
                iou: 0.0,
            },
            Case {
                name: "apart",
                a: [0.0, 0.0, 1.0, 1.0],
                b: [5.0, 5.0, 1.0, 1.0],
                intersection: 0.0,
                overlap_of_smaller: 0.0,
                iou: 0.0,
            },
            Case {
                name: "empty box",
                a: [0.0, 0.0, 0.0, 4.0],
                b: [0.0, 0.0, 10.0, 4.0],
                intersection: 0.0,
                overlap_of_smaller: 0.0,
                iou: 0.0,
            },
            Case {
                name: "negative side",
                a: [5.0, 0.0, -3.0, 4.0],
                b: [0.0, 0.0, 10.0, 4.0],
                intersection: 0.0,
                overlap_of_smaller: 0.0,
                iou: 0.0,
            },
        ];
        for c in cases {
            assert_eq!(intersection(&c.a, &c.b), c.intersection, "{}", c.name);
            assert_eq!(intersection(&c.b, &c.a), c.intersection, "{}", c.name);
            assert_eq!(
                overlap_of_smaller(&c.a, &c.b),
                c.overlap_of_smaller,
                "{}",
                c.name
            );
            assert_eq!(iou(&c.a, &c.b), c.iou, "{}", c.name);
            assert_eq!(iou(&c.b, &c.a), c.iou, "{}", c.name);
            // The same boxes as corners.
            let xyxy = |b: [f32; 4]| [b[0], b[1], b[0] + b[2], b[1] + b[3]];
            if c.a[2] >= 0.0 {
                assert_eq!(iou_xyxy(&xyxy(c.a), &xyxy(c.b)), c.iou, "{}", c.name);
            }
        }
        assert_eq!(area(&[3.0, 4.0, 2.5, 4.0]), 10.0);
        assert_eq!(area(&[3.0, 4.0, -2.5, 4.0]), 0.0);
    }

    /// `edocr` took the overlap of the smaller box, and `eval` the IoU, with unclamped
    /// areas (`w * h`); on finite boxes the clamped functions here give the same bits,
    /// negative and zero sides (both ±0) included: a negative side makes the
    /// intersection +0, and both forms then return +0.
    #[test]
    fn unclamped_areas_give_the_same_bits_on_finite_boxes() {
        fn overlap_unclamped(a: &[f32; 4], b: &[f32; 4]) -> f32 {
            let x0 = a[0].max(b[0]);
            let y0 = a[1].max(b[1]);
            let x1 = (a[0] + a[2]).min(b[0] + b[2]);
            let y1 = (a[1] + a[3]).min(b[1] + b[3]);
            let i = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
            let s = (a[2] * a[3]).min(b[2] * b[3]);
            if s <= 0.0 {
                0.0
            } else {
                i / s
            }
        }
        fn iou_unclamped(a: &[f32; 4], b: &[f32; 4]) -> f32 {
            let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
            let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
            let inter = iw * ih;
            let union = a[2] * a[3] + b[2] * b[3] - inter;
            if union <= 0.0 {
                0.0
            } else {
                inter / union
            }
        }
        let origins = [-3.5f32, 0.0, 0.1, 2.25, 1e4 / 3.0];
        let sides = [-2.0f32, -0.0, 0.0, 0.3, 1.0, 4.75, 1e4 / 7.0];
        let mut boxes = Vec::new();
        for &x in &origins {
            for &y in &origins {
                for &w in &sides {
                    for &h in &sides {
                        boxes.push([x, y, w, h]);
                    }
                }
            }
        }
        for a in &boxes {
            for b in &boxes {
                assert_eq!(
                    overlap_of_smaller(a, b).to_bits(),
                    overlap_unclamped(a, b).to_bits(),
                    "{a:?} {b:?}"
                );
                assert_eq!(
                    iou(a, b).to_bits(),
                    iou_unclamped(a, b).to_bits(),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
