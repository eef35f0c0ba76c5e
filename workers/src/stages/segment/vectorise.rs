//! Line work → graph, as EDGNet does it: binarise, thin to a one-pixel skeleton
//! (Zhang–Suen), trace strokes between end points and junctions, drop traces shorter
//! than [`MIN_TRACE_PX`], fit each a least-squares cubic Bézier, describe it by the
//! 19 features of [`FEATURES`], and join components closer than [`EDGE_PX`].
//!
//! The same code builds the graphs the GraphSAGE model is trained on
//! (`drawpipe segment-graph`), so training and inference see identical features.

use std::collections::HashSet;

use serde::Serialize;

/// Traces shorter than this (pixels along the skeleton) are dropped.
pub const MIN_TRACE_PX: usize = 4;
/// Components whose skeleton pixels come this close (pixels) share an edge.
pub const EDGE_PX: f32 = 10.0;

/// The feature vector's layout, in order: 8 shape, 5 length, 2 angle, 4 curvature.
pub const FEATURES: [&str; 19] = [
    // shape
    "log_bbox_width",
    "log_bbox_height",
    "aspect",
    "fill",
    "straightness",
    "closed",
    "stroke_width_mean",
    "stroke_width_std",
    // length
    "log_arc_length",
    "log_chord",
    "log_bezier_polygon",
    "log_length_to_page_median",
    "length_per_mille_of_page_diagonal",
    // angle
    "sin_2theta",
    "cos_2theta",
    // curvature
    "mean_turning",
    "max_turning",
    "total_turning_turns",
    "log_bezier_residual",
];

/// One stroke: its skeleton pixels in order and what describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// `[x, y, width, height]` of its skeleton pixels, page pixels.
    pub bbox: [u32; 4],
    /// Skeleton pixels along the trace.
    pub length: u32,
    #[serde(skip)]
    pub points: Vec<(u32, u32)>,
    #[serde(skip)]
    pub features: [f32; 19],
}

/// A page's line work as a graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub components: Vec<Component>,
    /// Undirected edges `(a, b)` with `a < b`.
    pub edges: Vec<(u32, u32)>,
    pub width: u32,
    pub height: u32,
}

/// A binary image, row-major, 1 = ink.
struct Bits {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Bits {
    #[inline]
    fn get(&self, x: isize, y: isize) -> u8 {
        if x < 0 || y < 0 || x >= self.w as isize || y >= self.h as isize {
            0
        } else {
            self.px[y as usize * self.w + x as usize]
        }
    }
}

// Neighbours P2..P9 clockwise from north, as Zhang–Suen numbers them.
const RING: [(isize, isize); 8] = [
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
];

/// Zhang–Suen thinning in place.
///
/// Each sub-iteration decides on the page as it was before it, as Zhang and Suen
/// define it, but only looks again at pixels whose 3×3 neighbourhood changed since
/// that sub-iteration last kept them: a pixel it kept with the same neighbours it
/// keeps again. Whether a neighbourhood may go is read from a table of the 256
/// neighbourhoods per sub-iteration. The skeleton is the one the plain algorithm
/// gives (`tests::thinning_matches_plain_zhang_suen`) in a fraction of its time.
fn thin(b: &mut Bits) {
    let (w, h) = (b.w, b.h);
    if w == 0 || h == 0 {
        return;
    }
    // A one-pixel frame of background, so no neighbour read needs a bounds check.
    let pw = w + 2;
    let mut px = vec![0u8; pw * (h + 2)];
    for y in 0..h {
        px[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&b.px[y * w..(y + 1) * w]);
    }
    let ring: [isize; 8] = RING.map(|(dx, dy)| dy * pw as isize + dx);
    let code = |px: &[u8], i: usize| -> usize {
        let mut c = 0usize;
        for (k, d) in ring.iter().enumerate() {
            c |= (px[(i as isize + d) as usize] as usize) << k;
        }
        c
    };
    let tables = [removable_table(0), removable_table(1)];
    let ink: Vec<u32> = (0..px.len())
        .filter(|&i| px[i] == 1)
        .map(|i| i as u32)
        .collect();
    // Pixels each sub-iteration must look at, and a bit per sub-iteration saying
    // that a pixel is already listed there.
    let mut todo = [ink.clone(), ink];
    let mut listed = vec![0b11u8; px.len()];
    let mut remove = Vec::new();
    loop {
        let mut changed = false;
        for step in 0..2 {
            let bit = 1u8 << step;
            remove.clear();
            for &i in &todo[step] {
                let i = i as usize;
                listed[i] &= !bit;
                if px[i] == 1 && tables[step][code(&px, i)] {
                    remove.push(i);
                }
            }
            todo[step].clear();
            for &i in &remove {
                px[i] = 0;
            }
            for &i in &remove {
                for d in ring {
                    let j = (i as isize + d) as usize;
                    if px[j] == 0 {
                        continue;
                    }
                    for (s, list) in todo.iter_mut().enumerate() {
                        if listed[j] & (1 << s) == 0 {
                            listed[j] |= 1 << s;
                            list.push(j as u32);
                        }
                    }
                }
            }
            changed |= !remove.is_empty();
        }
        if !changed {
            break;
        }
    }
    for y in 0..h {
        b.px[y * w..(y + 1) * w].copy_from_slice(&px[(y + 1) * pw + 1..(y + 1) * pw + 1 + w]);
    }
}

/// For each neighbourhood (bit k set when neighbour P(k+2) of [`RING`] is ink): may
/// Zhang–Suen sub-iteration `step` (0 or 1) remove the centre pixel?
fn removable_table(step: usize) -> [bool; 256] {
    std::array::from_fn(|c| {
        let p: [u8; 8] = std::array::from_fn(|k| ((c >> k) & 1) as u8);
        let n: u8 = p.iter().sum();
        let transitions = (0..8).filter(|&k| p[k] == 0 && p[(k + 1) % 8] == 1).count();
        // p[0]=P2 (N), p[2]=P4 (E), p[4]=P6 (S), p[6]=P8 (W)
        let directional = if step == 0 {
            p[0] * p[2] * p[4] == 0 && p[2] * p[4] * p[6] == 0
        } else {
            p[0] * p[2] * p[6] == 0 && p[0] * p[4] * p[6] == 0
        };
        (2..=6).contains(&n) && transitions == 1 && directional
    })
}

/// Binarises a grayscale page (ink = darker than Otsu's threshold, and at most 200).
fn binarise(gray: &[u8], w: usize, h: usize) -> Bits {
    let mut hist = [0u64; 256];
    for &v in gray {
        hist[v as usize] += 1;
    }
    let total = gray.len() as f64;
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut thr) = (0.0, 0.0, 0.0, 128u8);
    for (t, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * c as f64;
        let (m_b, m_f) = (sum_b / w_b, (sum - sum_b) / w_f);
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            thr = t as u8;
        }
    }
    let thr = thr.min(200);
    Bits {
        w,
        h,
        px: gray.iter().map(|&v| u8::from(v <= thr)).collect(),
    }
}

/// Chessboard-ish distance to background for each ink pixel (two-pass 3-4 chamfer,
/// in pixels): twice it at a skeleton pixel estimates the stroke width there.
fn distance_to_background(b: &Bits) -> Vec<f32> {
    let (w, h) = (b.w, b.h);
    let inf = f32::MAX / 4.0;
    let mut d: Vec<f32> =
        b.px.iter()
            .map(|&v| if v == 1 { inf } else { 0.0 })
            .collect();
    let at = |d: &Vec<f32>, x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            0.0
        } else {
            d[y as usize * w + x as usize]
        }
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            if d[i] == 0.0 {
                continue;
            }
            let v = (at(&d, x - 1, y) + 1.0)
                .min(at(&d, x, y - 1) + 1.0)
                .min(at(&d, x - 1, y - 1) + 1.4)
                .min(at(&d, x + 1, y - 1) + 1.4);
            d[i] = d[i].min(v);
        }
    }
    for y in (0..h as isize).rev() {
        for x in (0..w as isize).rev() {
            let i = y as usize * w + x as usize;
            if d[i] == 0.0 {
                continue;
            }
            let v = (at(&d, x + 1, y) + 1.0)
                .min(at(&d, x, y + 1) + 1.0)
                .min(at(&d, x + 1, y + 1) + 1.4)
                .min(at(&d, x - 1, y + 1) + 1.4);
            d[i] = d[i].min(v);
        }
    }
    d
}

/// Traces the skeleton into strokes: paths between nodes (end points, junctions),
/// then closed loops. Returns pixel paths.
fn trace(s: &Bits) -> Vec<Vec<(u32, u32)>> {
    let (w, h) = (s.w, s.h);
    // Node: not exactly two 0→1 transitions around it, or fewer than two neighbours.
    let is_node = |x: isize, y: isize| -> bool {
        let p: [u8; 8] = std::array::from_fn(|k| s.get(x + RING[k].0, y + RING[k].1));
        let n: u8 = p.iter().sum();
        let t = (0..8).filter(|&k| p[k] == 0 && p[(k + 1) % 8] == 1).count();
        n < 2 || t != 2
    };
    let mut node = vec![false; w * h];
    let mut ink = Vec::new();
    for (i, &v) in s.px.iter().enumerate() {
        if v == 1 {
            ink.push(i);
            node[i] = is_node((i % w) as isize, (i / w) as isize);
        }
    }
    let mut visited = vec![false; w * h];
    let mut paths = Vec::new();
    let neighbours = |i: usize| -> Vec<usize> {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        // 4-neighbours first: a diagonal step is taken only where no straight one is.
        [0usize, 2, 4, 6, 1, 3, 5, 7]
            .iter()
            .map(|&k| (x + RING[k].0, y + RING[k].1))
            .filter(|&(nx, ny)| s.get(nx, ny) == 1)
            .map(|(nx, ny)| ny as usize * w + nx as usize)
            .collect()
    };
    // Walks from `start` through `first` along regular pixels until a node.
    let walk = |start: usize, first: usize, visited: &mut Vec<bool>| -> Vec<usize> {
        let mut path = vec![start, first];
        let (mut prev, mut cur) = (start, first);
        while !node[cur] {
            visited[cur] = true;
            let next = neighbours(cur).into_iter().find(|&n| {
                n != prev
                    && !path[path.len().saturating_sub(3)..].contains(&n)
                    && (node[n] || !visited[n])
            });
            match next {
                Some(n) => {
                    path.push(n);
                    prev = cur;
                    cur = n;
                }
                None => break,
            }
        }
        path
    };
    for &i in &ink {
        if !node[i] {
            continue;
        }
        visited[i] = true;
        for n in neighbours(i) {
            if node[n] || visited[n] {
                continue;
            }
            paths.push(walk(i, n, &mut visited));
        }
    }
    // Closed loops (circles) have no node: start anywhere on them.
    for &i in &ink {
        if visited[i] || node[i] {
            continue;
        }
        visited[i] = true;
        if let Some(n) = neighbours(i).into_iter().find(|&n| !visited[n]) {
            let mut p = walk(i, n, &mut visited);
            p.push(i);
            paths.push(p);
        }
    }
    paths
        .into_iter()
        .filter(|p| p.len() >= MIN_TRACE_PX)
        .map(|p| {
            p.into_iter()
                .map(|i| ((i % w) as u32, (i / w) as u32))
                .collect()
        })
        .collect()
}

/// Least-squares cubic Bézier through `pts` with fixed end points (chord-length
/// parameters): the control polygon's length and the RMS distance of the points.
fn bezier_fit(pts: &[(f32, f32)]) -> (f32, f32) {
    let n = pts.len();
    let mut t = vec![0f32; n];
    for i in 1..n {
        let d = ((pts[i].0 - pts[i - 1].0).powi(2) + (pts[i].1 - pts[i - 1].1).powi(2)).sqrt();
        t[i] = t[i - 1] + d;
    }
    let total = t[n - 1].max(1e-6);
    t.iter_mut().for_each(|v| *v /= total);
    let (p0, p3) = (pts[0], pts[n - 1]);
    // Normal equations for P1, P2: [a11 a12; a12 a22] [P1; P2] = [r1; r2].
    let (mut a11, mut a12, mut a22) = (0f32, 0f32, 0f32);
    let (mut r1, mut r2) = ((0f32, 0f32), (0f32, 0f32));
    for (i, &ti) in t.iter().enumerate() {
        let u = 1.0 - ti;
        let (b0, b1, b2, b3) = (u * u * u, 3.0 * ti * u * u, 3.0 * ti * ti * u, ti * ti * ti);
        a11 += b1 * b1;
        a12 += b1 * b2;
        a22 += b2 * b2;
        let rx = pts[i].0 - b0 * p0.0 - b3 * p3.0;
        let ry = pts[i].1 - b0 * p0.1 - b3 * p3.1;
        r1 = (r1.0 + b1 * rx, r1.1 + b1 * ry);
        r2 = (r2.0 + b2 * rx, r2.1 + b2 * ry);
    }
    let det = a11 * a22 - a12 * a12;
    let (p1, p2) = if det.abs() < 1e-9 {
        (
            (p0.0 + (p3.0 - p0.0) / 3.0, p0.1 + (p3.1 - p0.1) / 3.0),
            (
                p0.0 + 2.0 * (p3.0 - p0.0) / 3.0,
                p0.1 + 2.0 * (p3.1 - p0.1) / 3.0,
            ),
        )
    } else {
        (
            (
                (a22 * r1.0 - a12 * r2.0) / det,
                (a22 * r1.1 - a12 * r2.1) / det,
            ),
            (
                (a11 * r2.0 - a12 * r1.0) / det,
                (a11 * r2.1 - a12 * r1.1) / det,
            ),
        )
    };
    let dist = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let polygon = dist(p0, p1) + dist(p1, p2) + dist(p2, p3);
    let mut sq = 0f32;
    for (i, &ti) in t.iter().enumerate() {
        let u = 1.0 - ti;
        let (b0, b1, b2, b3) = (u * u * u, 3.0 * ti * u * u, 3.0 * ti * ti * u, ti * ti * ti);
        let c = (
            b0 * p0.0 + b1 * p1.0 + b2 * p2.0 + b3 * p3.0,
            b0 * p0.1 + b1 * p1.1 + b2 * p2.1 + b3 * p3.1,
        );
        sq += dist(c, pts[i]).powi(2);
    }
    (polygon, (sq / n as f32).sqrt())
}

/// The 19 features of one trace (see [`FEATURES`]); `median_len` and `diag` are the
/// page's median trace length and diagonal.
fn features(
    points: &[(u32, u32)],
    dist: &[f32],
    w: usize,
    median_len: f32,
    diag: f32,
) -> [f32; 19] {
    let n = points.len();
    let pts: Vec<(f32, f32)> = points.iter().map(|&(x, y)| (x as f32, y as f32)).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in &pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (bw, bh) = (x1 - x0 + 1.0, y1 - y0 + 1.0);
    let mut arc = 0f32;
    for i in 1..n {
        arc += ((pts[i].0 - pts[i - 1].0).powi(2) + (pts[i].1 - pts[i - 1].1).powi(2)).sqrt();
    }
    let arc = arc.max(1.0);
    let chord = ((pts[n - 1].0 - pts[0].0).powi(2) + (pts[n - 1].1 - pts[0].1).powi(2)).sqrt();
    let closed = f32::from(u8::from(chord <= 2.0 && arc > 8.0));
    let widths: Vec<f32> = points
        .iter()
        .map(|&(x, y)| 2.0 * dist[y as usize * w + x as usize])
        .collect();
    let wmean = widths.iter().sum::<f32>() / n as f32;
    let wstd = (widths.iter().map(|v| (v - wmean).powi(2)).sum::<f32>() / n as f32).sqrt();
    // Orientation: principal axis of the points (defined for closed strokes too).
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f32>() / n as f32,
        pts.iter().map(|p| p.1).sum::<f32>() / n as f32,
    );
    let (mut sxx, mut syy, mut sxy) = (0f32, 0f32, 0f32);
    for &(x, y) in &pts {
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
        sxy += (x - mx) * (y - my);
    }
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    // Turning angles on the path resampled every 3 pixels.
    let step = 3usize;
    let sampled: Vec<(f32, f32)> = pts
        .iter()
        .step_by(step)
        .copied()
        .chain(std::iter::once(pts[n - 1]))
        .collect();
    let mut turns = Vec::new();
    for i in 1..sampled.len().saturating_sub(1) {
        let a = (sampled[i].1 - sampled[i - 1].1).atan2(sampled[i].0 - sampled[i - 1].0);
        let b = (sampled[i + 1].1 - sampled[i].1).atan2(sampled[i + 1].0 - sampled[i].0);
        let mut d = b - a;
        while d > std::f32::consts::PI {
            d -= 2.0 * std::f32::consts::PI;
        }
        while d < -std::f32::consts::PI {
            d += 2.0 * std::f32::consts::PI;
        }
        turns.push(d.abs());
    }
    let (mean_turn, max_turn, total_turn) = if turns.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        let s: f32 = turns.iter().sum();
        (
            s / turns.len() as f32,
            turns.iter().copied().fold(0.0, f32::max),
            s / (2.0 * std::f32::consts::PI),
        )
    };
    let (polygon, residual) = bezier_fit(&pts);
    [
        bw.ln_1p(),
        bh.ln_1p(),
        bw.min(bh) / bw.max(bh),
        n as f32 / (bw * bh),
        (chord / arc).min(1.0),
        closed,
        wmean,
        wstd,
        arc.ln_1p(),
        chord.ln_1p(),
        polygon.ln_1p(),
        (arc / median_len.max(1.0)).ln(),
        arc / diag * 1000.0,
        (2.0 * theta).sin(),
        (2.0 * theta).cos(),
        mean_turn,
        max_turn,
        total_turn,
        residual.ln_1p(),
    ]
}

/// Undirected edges between components with skeleton points within [`EDGE_PX`].
fn proximity_edges(components: &[Component], w: usize, h: usize) -> Vec<(u32, u32)> {
    let cell = EDGE_PX as usize;
    let (cw, ch) = (w / cell + 1, h / cell + 1);
    let mut grid: Vec<Vec<(u32, u16, u16)>> = vec![Vec::new(); cw * ch];
    for (ci, c) in components.iter().enumerate() {
        // Every second pixel: a stroke is continuous, so no gap exceeds 2 px.
        for &(x, y) in c.points.iter().step_by(2).chain(c.points.last()) {
            grid[(y as usize / cell) * cw + x as usize / cell]
                .push((ci as u32, x as u16, y as u16));
        }
    }
    let r2 = EDGE_PX * EDGE_PX;
    let mut edges = HashSet::new();
    for gy in 0..ch {
        for gx in 0..cw {
            let here = &grid[gy * cw + gx];
            if here.is_empty() {
                continue;
            }
            // This cell against itself and its 4 "forward" neighbours: each pair once.
            for (dx, dy) in [(0isize, 0isize), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (nx, ny) = (gx as isize + dx, gy as isize + dy);
                if nx < 0 || ny < 0 || nx >= cw as isize || ny >= ch as isize {
                    continue;
                }
                let there = &grid[ny as usize * cw + nx as usize];
                for &(a, ax, ay) in here {
                    for &(b, bx, by) in there {
                        if a == b || edges.contains(&(a.min(b), a.max(b))) {
                            continue;
                        }
                        let (ddx, ddy) = (ax as f32 - bx as f32, ay as f32 - by as f32);
                        if ddx * ddx + ddy * ddy <= r2 {
                            edges.insert((a.min(b), a.max(b)));
                        }
                    }
                }
            }
        }
    }
    let mut edges: Vec<(u32, u32)> = edges.into_iter().collect();
    edges.sort_unstable();
    edges
}

/// Vectorises a grayscale page (row-major, `w`×`h`).
pub fn vectorise(gray: &[u8], w: usize, h: usize) -> Graph {
    let ink = binarise(gray, w, h);
    let dist = distance_to_background(&ink);
    let mut skeleton = ink;
    thin(&mut skeleton);
    let paths = trace(&skeleton);
    let mut lengths: Vec<usize> = paths.iter().map(Vec::len).collect();
    lengths.sort_unstable();
    let median = lengths.get(lengths.len() / 2).copied().unwrap_or(1) as f32;
    let diag = ((w * w + h * h) as f32).sqrt();
    let components: Vec<Component> = paths
        .into_iter()
        .map(|points| {
            let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
            for &(x, y) in &points {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
            Component {
                bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                length: points.len() as u32,
                features: features(&points, &dist, w, median, diag),
                points,
            }
        })
        .collect();
    let edges = proximity_edges(&components, w, h);
    Graph {
        components,
        edges,
        width: w as u32,
        height: h as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: usize, h: usize) -> Vec<u8> {
        vec![255u8; w * h]
    }

    fn line(
        img: &mut [u8],
        w: usize,
        (x0, y0): (usize, usize),
        (x1, y1): (usize, usize),
        thick: usize,
    ) {
        let n = (x1 as isize - x0 as isize)
            .abs()
            .max((y1 as isize - y0 as isize).abs()) as usize;
        for i in 0..=n {
            let t = i as f32 / n.max(1) as f32;
            let x = x0 as f32 + t * (x1 as f32 - x0 as f32);
            let y = y0 as f32 + t * (y1 as f32 - y0 as f32);
            for dy in 0..thick {
                for dx in 0..thick {
                    img[(y as usize + dy) * w + x as usize + dx] = 0;
                }
            }
        }
    }

    /// Zhang–Suen as the paper states it: every ink pixel looked at in every
    /// sub-iteration. The reference [`thin`] must agree with.
    fn plain_zhang_suen(b: &mut Bits) {
        loop {
            let mut changed = false;
            for step in 0..2 {
                let mut remove = Vec::new();
                for i in (0..b.px.len()).filter(|&i| b.px[i] == 1) {
                    let (x, y) = ((i % b.w) as isize, (i / b.w) as isize);
                    let p: [u8; 8] = std::array::from_fn(|k| b.get(x + RING[k].0, y + RING[k].1));
                    let n: u8 = p.iter().sum();
                    let transitions = (0..8).filter(|&k| p[k] == 0 && p[(k + 1) % 8] == 1).count();
                    let ok = if step == 0 {
                        p[0] * p[2] * p[4] == 0 && p[2] * p[4] * p[6] == 0
                    } else {
                        p[0] * p[2] * p[6] == 0 && p[0] * p[4] * p[6] == 0
                    };
                    if (2..=6).contains(&n) && transitions == 1 && ok {
                        remove.push(i);
                    }
                }
                for &i in &remove {
                    b.px[i] = 0;
                }
                changed |= !remove.is_empty();
            }
            if !changed {
                return;
            }
        }
    }

    /// The fast thinning gives the plain algorithm's skeleton, pixel for pixel: on
    /// drawn strokes (ink touching the image edge too) and on the three labelled
    /// drawings. `--nocapture` prints both times.
    #[test]
    fn thinning_matches_plain_zhang_suen() {
        let (w, h) = (160, 90);
        let mut img = canvas(w, h);
        line(&mut img, w, (0, 0), (150, 80), 7);
        line(&mut img, w, (10, 80), (150, 5), 4);
        line(&mut img, w, (0, 40), (150, 40), 9);
        for y in 20..60 {
            for x in 100..140 {
                img[y * w + x] = 0;
            }
        }
        let mut pages = vec![("drawn".to_string(), img, w, h)];
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drawings");
        for name in ["BM_part.jpg", "Candle_holder.jpg", "example_dwg.png"] {
            use opencv::prelude::*;
            let m = opencv::imgcodecs::imread(
                dir.join(name).to_str().unwrap(),
                opencv::imgcodecs::IMREAD_GRAYSCALE,
            )
            .unwrap();
            let (w, h) = (m.cols() as usize, m.rows() as usize);
            pages.push((name.to_string(), m.data_bytes().unwrap().to_vec(), w, h));
        }
        for (name, gray, w, h) in pages {
            let mut fast = binarise(&gray, w, h);
            let mut plain = binarise(&gray, w, h);
            let ink = fast.px.iter().filter(|&&v| v == 1).count();
            let t = std::time::Instant::now();
            thin(&mut fast);
            let fast_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = std::time::Instant::now();
            plain_zhang_suen(&mut plain);
            let plain_ms = t.elapsed().as_secs_f64() * 1e3;
            let left = fast.px.iter().filter(|&&v| v == 1).count();
            println!("{name}: {ink} ink pixels, {left} in the skeleton; thin {fast_ms:.1} ms, plain {plain_ms:.1} ms");
            assert!(left > 0 && left < ink, "{name}: {left} of {ink}");
            assert!(fast.px == plain.px, "{name}: skeletons differ");
        }
    }

    #[test]
    fn a_thick_line_thins_to_one_straight_stroke() {
        let (w, h) = (200, 60);
        let mut img = canvas(w, h);
        line(&mut img, w, (20, 30), (180, 30), 5);
        let g = vectorise(&img, w, h);
        assert_eq!(
            g.components.len(),
            1,
            "{:?}",
            g.components.iter().map(|c| c.bbox).collect::<Vec<_>>()
        );
        let c = &g.components[0];
        assert!(c.length >= 150 && c.length <= 165, "length {}", c.length);
        let f = c.features;
        assert!(f[4] > 0.98, "straightness {}", f[4]);
        assert!((f[6] - 5.0).abs() < 2.5, "stroke width {}", f[6]);
        assert!(f[14] > 0.99, "cos 2θ of a horizontal line {}", f[14]);
        assert!(g.edges.is_empty());
    }

    #[test]
    fn a_circle_is_one_closed_curved_stroke_and_near_strokes_connect() {
        let (w, h) = (200, 200);
        let mut img = canvas(w, h);
        for k in 0..720 {
            let a = k as f32 / 720.0 * std::f32::consts::TAU;
            let (x, y) = (100.0 + 60.0 * a.cos(), 100.0 + 60.0 * a.sin());
            for dy in 0..3 {
                for dx in 0..3 {
                    img[(y as usize + dy) * w + x as usize + dx] = 0;
                }
            }
        }
        // A short tick 6 px outside the circle: within EDGE_PX, so an edge.
        line(&mut img, w, (168, 95), (190, 95), 2);
        let g = vectorise(&img, w, h);
        let circle = g
            .components
            .iter()
            .position(|c| c.length > 300)
            .expect("the circle");
        let f = g.components[circle].features;
        assert_eq!(f[5], 1.0, "closed");
        assert!(f[17] > 0.8, "total turning ≈ one turn, got {}", f[17]);
        assert!(g
            .edges
            .iter()
            .any(|&(a, b)| a as usize == circle || b as usize == circle));
        // Every component respects the minimum trace length.
        assert!(g
            .components
            .iter()
            .all(|c| c.length as usize >= MIN_TRACE_PX));
    }
}
