//! Tiled detection of large pages: the tiles, boxes cut by a tile edge, and merging
//! the boxes of overlapping tiles.

use opencv::core::{self, Point2f, Vector};
use opencv::imgproc;

use super::detect_post::{order_clockwise, rect_points, DetBox};
use super::TileParams;
use crate::geometry::{area, bbox_of, overlap_of_smaller};

/// Tiles covering a `w`×`h` page, or one rectangle (the page) when it is below the
/// tiling threshold. Tiles are `size` square (clipped at the page), stepping by
/// `size - overlap`; the last tile of a row or column is moved back to end at the
/// page edge.
pub fn tile_rects(w: u32, h: u32, tp: &TileParams) -> Vec<core::Rect> {
    let whole = vec![core::Rect::new(0, 0, w as i32, h as i32)];
    if tp.min_long_side == 0
        || w.max(h) < tp.min_long_side
        || w.min(h) < tp.min_short_side
        || tp.size <= tp.overlap
    {
        return whole;
    }
    let starts = |len: u32| -> Vec<u32> {
        if len <= tp.size {
            return vec![0];
        }
        let step = tp.size - tp.overlap;
        let mut v: Vec<u32> = (0..)
            .map(|i| i * step)
            .take_while(|&s| s + tp.size < len)
            .collect();
        v.push(len - tp.size);
        v
    };
    let mut out = Vec::new();
    for y in starts(h) {
        for x in starts(w) {
            out.push(core::Rect::new(
                x as i32,
                y as i32,
                tp.size.min(w) as i32,
                tp.size.min(h) as i32,
            ));
        }
    }
    out
}

/// Whether a box reaches within 2 px of an edge of `tile` that is not the page's.
pub(super) fn touches_inner_edge(pts: &[[f32; 2]; 4], tile: &core::Rect, w: u32, h: u32) -> bool {
    let b = bbox_of(pts);
    let (x0, y0, x1, y1) = (
        tile.x as f32,
        tile.y as f32,
        (tile.x + tile.width) as f32,
        (tile.y + tile.height) as f32,
    );
    (x0 > 0.0 && b[0] <= x0 + 2.0)
        || (y0 > 0.0 && b[1] <= y0 + 2.0)
        || (x1 < w as f32 && b[0] + b[2] >= x1 - 3.0)
        || (y1 < h as f32 && b[1] + b[3] >= y1 - 3.0)
}

/// Merges boxes found in overlapping tiles. Two boxes overlapping by at least half
/// of the smaller one's bbox are one text: when either was cut by a tile edge they
/// become the minimum-area rectangle around both, else the larger stays.
pub fn merge_tiled_boxes(mut boxes: Vec<DetBox>) -> Vec<DetBox> {
    boxes.sort_by(|a, b| area(&bbox_of(&b.points)).total_cmp(&area(&bbox_of(&a.points))));
    let mut kept: Vec<DetBox> = Vec::with_capacity(boxes.len());
    'next: for b in boxes {
        for k in kept.iter_mut() {
            if overlap_of_smaller(&bbox_of(&k.points), &bbox_of(&b.points)) >= 0.5 {
                if k.cut || b.cut {
                    *k = union_box(k, &b);
                }
                continue 'next;
            }
        }
        kept.push(b);
    }
    kept
}

fn union_box(a: &DetBox, b: &DetBox) -> DetBox {
    let pts: Vector<Point2f> = a
        .points
        .iter()
        .chain(&b.points)
        .map(|p| Point2f::new(p[0], p[1]))
        .collect();
    let points = imgproc::min_area_rect(&pts)
        .ok()
        .and_then(|r| rect_points(&r).ok())
        .map(order_clockwise)
        .unwrap_or(a.points);
    DetBox {
        points,
        score: a.score.max(b.score),
        cut: a.cut && b.cut,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::det;
    use super::*;
    use opencv::core::Point;

    #[test]
    fn tiles_cover_large_pages_only() {
        assert_eq!(
            tile_rects(3308, 2339, &TileParams::default()).len(),
            1,
            "off by default"
        );
        let tp = TileParams {
            min_long_side: 3000,
            ..TileParams::default()
        };
        assert_eq!(
            tile_rects(1653, 2339, &tp).len(),
            1,
            "below 3000×2000: whole page"
        );
        let tiles = tile_rects(3308, 2339, &tp);
        // x starts 0, 1152, 2028; y starts 0, 1059.
        assert_eq!(tiles.len(), 6);
        assert_eq!((tiles[2].x, tiles[2].width), (2028, 1280));
        assert_eq!((tiles[5].y, tiles[5].height), (1059, 1280));
        for x in (0..3308).step_by(97) {
            for y in (0..2339).step_by(89) {
                assert!(
                    tiles.iter().any(|r| r.contains(Point::new(x, y))),
                    "({x}, {y}) uncovered"
                );
            }
        }
    }

    #[test]
    fn merges_boxes_from_overlapping_tiles() {
        let cut = |mut b: DetBox| {
            b.cut = true;
            b
        };
        struct Case {
            name: &'static str,
            boxes: Vec<DetBox>,
            want: Vec<[f32; 4]>,
        }
        let cases = [
            Case {
                name: "apart",
                boxes: vec![det(0.0, 0.0, 50.0, 20.0), det(100.0, 0.0, 50.0, 20.0)],
                want: vec![[0.0, 0.0, 50.0, 20.0], [100.0, 0.0, 50.0, 20.0]],
            },
            Case {
                name: "duplicate keeps larger",
                boxes: vec![det(0.0, 0.0, 48.0, 20.0), det(1.0, 0.0, 50.0, 20.0)],
                want: vec![[1.0, 0.0, 50.0, 20.0]],
            },
            Case {
                name: "cut pieces join",
                boxes: vec![
                    cut(det(1100.0, 500.0, 180.0, 20.0)),
                    cut(det(1152.0, 500.0, 250.0, 20.0)),
                ],
                want: vec![[1100.0, 500.0, 302.0, 20.0]],
            },
        ];
        for c in cases {
            let got: Vec<[f32; 4]> = merge_tiled_boxes(c.boxes)
                .iter()
                .map(|b| bbox_of(&b.points).map(f32::round))
                .collect();
            let mut got = got;
            got.sort_by(|a, b| a[0].total_cmp(&b[0]));
            assert_eq!(got, c.want, "{}", c.name);
        }
    }
}
