//! DXF drawings in: what the file states exactly, and a raster for the stages that
//! need pixels.
//!
//! Read with the `dxf` crate (ASCII and binary). From the model space:
//! - `DIMENSION` entities: the measured value (group 42), the text override (group 1,
//!   `<>` standing for the measured value), the dimension style's tolerance fields
//!   (`DIMTOL`, `DIMLIM`, `DIMTP`, `DIMTM`, `DIMDEC`, `DIMDSEP`) with the entity's own overrides (`ACAD`
//!   `DSTYLE` extended data) applied, and its kind (linear, diameter, radius, angle);
//! - `TEXT` and `MTEXT` (formatting codes removed, `\P` line breaks, stacked
//!   fractions `\S1/2;` and stacked tolerances `\S+0.1^-0.05;`), with `%%c`, `%%d`,
//!   `%%p` as `Ø`, `°`, `±`;
//! - `TOLERANCE` entities (GD&T frames in the `gdt` font's codes), parsed into frames;
//! - `ATTRIB`s of `INSERT`s (a title block's fields), by tag.
//!
//! Every text becomes a line of the page's text layer, in the raster's pixels, so the
//! `ocr` and `edocr` stages read a DXF as they read a vector PDF (`source:
//! text_layer`). Lines, circles, arcs and polylines are drawn into the raster, with
//! the blocks that `INSERT`s place (nested up to 4 deep) and that `DIMENSION`s draw. Values are in model units
//! (`$INSUNITS`), reported with the sheet.

use std::collections::BTreeMap;
use std::io::Cursor;

use ::dxf::entities::{Entity, EntityType};
use ::dxf::enums::Units;
use ::dxf::tables::DimStyle;
use ::dxf::{Drawing, XDataItem};
use opencv::core::{Mat, Point, Scalar, Size, Vector, CV_8UC1};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::stages::edocr::parse::{parse_gdt, title_block_key, GdtFrame};
use crate::text_layer::LayerLine;

/// At most this many entities are read (a bound on work and memory).
pub const MAX_ENTITIES: usize = 200_000;
/// Longest raster side, pixels (A3 at 300 DPI).
const RASTER_SIDE: f64 = 4961.0;
const MARGIN: f64 = 80.0;

/// One `DIMENSION` entity as the file states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CadDimension {
    /// `linear`, `aligned`, `diameter`, `radius`, `angle`, `ordinate`.
    pub kind: String,
    /// Group 42, in model units (degrees for angles).
    pub measurement: f64,
    /// Group 1 as written (`<>` or empty: the measured value).
    pub text_override: String,
    pub style: String,
    /// Upper and lower deviation when the style (or the entity's override) turns
    /// tolerances or limits on (`DIMTOL`, `DIMLIM`).
    pub upper: Option<f64>,
    pub lower: Option<f64>,
    /// The text printed: what the text layer gets.
    pub text: String,
}

/// A `TOLERANCE` entity's frame and where it lies (raster pixels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CadGdt {
    #[serde(flatten)]
    pub frame: GdtFrame,
    /// `[x, y, width, height]`, raster pixels.
    pub bbox: [f32; 4],
}

/// What a DXF file states, beside its raster (`preprocess` output key `cad`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CadSummary {
    /// `$INSUNITS` (`mm`, `in`, …; `unitless` when not set).
    pub units: String,
    /// Entities read, by DXF type.
    pub entities: BTreeMap<String, usize>,
    pub dimensions: Vec<CadDimension>,
    /// GD&T frames from `TOLERANCE` entities.
    pub gdt: Vec<CadGdt>,
    /// `ATTRIB` tag → value, for every `INSERT`'s attributes.
    pub attributes: BTreeMap<String, String>,
    /// Title-block fields recognised among the attribute tags.
    pub title_block: BTreeMap<String, String>,
    /// Model units per raster pixel.
    pub units_per_pixel: f64,
}

/// A read DXF: its raster (grayscale PNG), the text layer, and the summary.
pub struct Sheet {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    frame: PixelFrame,
    pub lines: Vec<LayerLine>,
    pub summary: CadSummary,
}

/// A text to place: model-space anchor (left baseline or centre), height, rotation.
struct Placed {
    text: String,
    x: f64,
    y: f64,
    height: f64,
    rotation_deg: f64,
    centred: bool,
}

/// Reads a DXF file.
///
/// # Errors
/// A message for the user: malformed, empty, or over [`MAX_ENTITIES`].
pub fn read(bytes: &[u8]) -> Result<Sheet, String> {
    let drawing =
        Drawing::load(&mut Cursor::new(bytes)).map_err(|e| format!("malformed DXF: {e}"))?;
    let entities: Vec<&Entity> = drawing.entities().collect();
    if entities.len() > MAX_ENTITIES {
        return Err(format!(
            "the DXF has {} entities, over the limit of {MAX_ENTITIES}",
            entities.len()
        ));
    }
    if entities.is_empty() {
        return Err("the DXF has no entities in its model space".into());
    }
    let styles: BTreeMap<String, &DimStyle> = drawing
        .dim_styles()
        .map(|s| (s.name.to_uppercase(), s))
        .collect();
    let units = match drawing.header.default_drawing_units {
        Units::Millimeters => "mm".into(),
        Units::Inches => "in".into(),
        Units::Centimeters => "cm".into(),
        Units::Meters => "m".into(),
        other => format!("{other:?}").to_lowercase(),
    };
    let mut summary = CadSummary {
        units,
        ..CadSummary::default()
    };
    let mut texts: Vec<Placed> = Vec::new();
    let mut frames: Vec<(GdtFrame, f64, f64, usize)> = Vec::new();
    let mut bounds = Bounds::default();
    let blocks: BTreeMap<&str, &::dxf::Block> =
        drawing.blocks().map(|b| (b.name.as_str(), b)).collect();
    let mut geoms = Vec::new();
    for e in &entities {
        geometry(e, &Transform::IDENTITY, &blocks, 0, &mut geoms);
    }
    if geoms.len() > MAX_ENTITIES {
        return Err(format!(
            "the DXF's blocks expand to {} pieces of geometry, over the limit of {MAX_ENTITIES}",
            geoms.len()
        ));
    }
    for g in &geoms {
        match g {
            Geom::Line(a, b) => {
                bounds.add(a.0, a.1);
                bounds.add(b.0, b.1);
            }
            Geom::Arc(c, r, ..) => {
                bounds.add(c.0 - r, c.1 - r);
                bounds.add(c.0 + r, c.1 + r);
            }
            Geom::Poly(pts, _) => pts.iter().for_each(|p| bounds.add(p.0, p.1)),
        }
    }
    for e in &entities {
        *summary
            .entities
            .entry(type_name(&e.specific).into())
            .or_default() += 1;
        match &e.specific {
            EntityType::Text(t) => {
                bounds.add(t.location.x, t.location.y);
                texts.push(Placed {
                    text: control_codes(&t.value),
                    x: t.location.x,
                    y: t.location.y,
                    height: t.text_height,
                    rotation_deg: t.rotation,
                    centred: false,
                });
            }
            EntityType::MText(m) => {
                bounds.add(m.insertion_point.x, m.insertion_point.y);
                let raw: String = m.extended_text.concat() + &m.text;
                let rotation = if m.x_axis_direction.x != 0.0 || m.x_axis_direction.y != 0.0 {
                    m.x_axis_direction
                        .y
                        .atan2(m.x_axis_direction.x)
                        .to_degrees()
                } else {
                    m.rotation_angle
                };
                for (i, line) in control_codes(&mtext_plain(&raw)).lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let step = m.initial_text_height * 1.6 * i as f64;
                    let (s, c) = rotation.to_radians().sin_cos();
                    texts.push(Placed {
                        text: line.trim().to_string(),
                        x: m.insertion_point.x + step * s,
                        y: m.insertion_point.y - m.initial_text_height - step * c,
                        height: m.initial_text_height,
                        rotation_deg: rotation,
                        centred: false,
                    });
                }
            }
            EntityType::Tolerance(t) => {
                bounds.add(t.insertion_point.x, t.insertion_point.y);
                for (row, frame) in t.display_text.split("^J").enumerate() {
                    let cells = gdt_cells(frame);
                    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                    if let Ok(f) = parse_gdt(&refs) {
                        let y = t.insertion_point.y - 5.0 * row as f64;
                        frames.push((f, t.insertion_point.x, y, cells.len()));
                    }
                }
            }
            EntityType::Insert(ins) => {
                bounds.add(ins.location.x, ins.location.y);
                for a in ins.attributes() {
                    let value = control_codes(&a.value);
                    summary
                        .attributes
                        .insert(a.attribute_tag.clone(), value.clone());
                    if let Some(key) = title_block_key(&a.attribute_tag.replace('_', " ")) {
                        summary
                            .title_block
                            .entry(key.to_string())
                            .or_insert(value.clone());
                    }
                    bounds.add(a.location.x, a.location.y);
                    texts.push(Placed {
                        text: value,
                        x: a.location.x,
                        y: a.location.y,
                        height: a.text_height,
                        rotation_deg: a.rotation,
                        centred: false,
                    });
                }
            }
            _ => {}
        }
        if let Some((dim, at)) = dimension(e, &styles) {
            bounds.add(at.0, at.1);
            if let Some(b) = dimension_base(e) {
                bounds.add(b.definition_point_1.x, b.definition_point_1.y);
            }
            texts.push(Placed {
                text: dim.text.clone(),
                x: at.0,
                y: at.1,
                height: text_height(&styles, &dim.style),
                rotation_deg: 0.0,
                centred: true,
            });
            summary.dimensions.push(dim);
        }
    }
    let Some((x0, y0, x1, y1)) = bounds.get() else {
        return Err("the DXF has no geometry or text to place".into());
    };
    let span = (x1 - x0).max(y1 - y0).max(1e-9);
    let scale = (RASTER_SIDE - 2.0 * MARGIN) / span;
    let width = ((x1 - x0) * scale + 2.0 * MARGIN).ceil().max(64.0) as i32;
    let height = ((y1 - y0) * scale + 2.0 * MARGIN).ceil().max(64.0) as i32;
    let frame = PixelFrame {
        origin: (x0, y1),
        scale,
    };
    let px = |x: f64, y: f64| frame.to_pixel(x, y);
    summary.units_per_pixel = 1.0 / scale;
    let cv = |e: opencv::Error| format!("DXF raster: {e}");
    let mut img =
        Mat::new_rows_cols_with_default(height, width, CV_8UC1, Scalar::all(255.0)).map_err(cv)?;
    let pt = |x: f64, y: f64| {
        let (a, b) = px(x, y);
        Point::new(a.round() as i32, b.round() as i32)
    };
    let black = Scalar::all(0.0);
    for g in &geoms {
        match g {
            Geom::Line(a, b) => {
                opencv::imgproc::line(
                    &mut img,
                    pt(a.0, a.1),
                    pt(b.0, b.1),
                    black,
                    2,
                    opencv::imgproc::LINE_8,
                    0,
                )
                .map_err(cv)?;
            }
            Geom::Arc(c, r, start, end) => {
                let r = (r * scale).round().max(1.0) as i32;
                // Image y points down: angles turn the other way.
                let (a0, mut a1) = (-start, -end);
                if a1 >= a0 {
                    a1 -= 360.0;
                }
                opencv::imgproc::ellipse(
                    &mut img,
                    pt(c.0, c.1),
                    Size::new(r, r),
                    0.0,
                    a0,
                    a1,
                    black,
                    2,
                    opencv::imgproc::LINE_8,
                    0,
                )
                .map_err(cv)?;
            }
            Geom::Poly(pts, closed) => {
                let pts: Vector<Point> = pts.iter().map(|p| pt(p.0, p.1)).collect();
                let mut all = Vector::<Vector<Point>>::new();
                all.push(pts);
                opencv::imgproc::polylines(
                    &mut img,
                    &all,
                    *closed,
                    black,
                    2,
                    opencv::imgproc::LINE_8,
                    0,
                )
                .map_err(cv)?;
            }
        }
    }
    // A frame's cells are about 2.5 text heights wide and 1.5 high (3.5 default).
    for (frame, x, y, cells) in frames {
        let (fx, fy) = px(x, y);
        let (cw, ch) = (8.75 * scale, 5.25 * scale);
        summary.gdt.push(CadGdt {
            frame,
            bbox: [
                fx as f32,
                (fy - ch) as f32,
                (cw * cells as f64) as f32,
                ch as f32,
            ],
        });
    }
    let mut lines = Vec::with_capacity(texts.len());
    for t in &texts {
        if t.text.trim().is_empty() {
            continue;
        }
        let h = (t.height * scale).max(8.0);
        let w = h * 0.72 * t.text.chars().count() as f64;
        let (ax, ay) = px(t.x, t.y);
        let vertical = ((t.rotation_deg.rem_euclid(180.0)) - 90.0).abs() < 20.0;
        let (bw, bh) = if vertical { (h, w) } else { (w, h) };
        let (bx, by) = if t.centred {
            (ax - bw / 2.0, ay - bh / 2.0)
        } else if vertical {
            (ax - bw, ay - bh)
        } else {
            (ax, ay - bh)
        };
        let ascii: String = t
            .text
            .chars()
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect();
        if !vertical {
            let scale_font = h / 30.0;
            opencv::imgproc::put_text(
                &mut img,
                &ascii,
                Point::new(bx.round() as i32, (by + bh).round() as i32),
                opencv::imgproc::FONT_HERSHEY_SIMPLEX,
                scale_font,
                black,
                ((h / 12.0).round() as i32).max(1),
                opencv::imgproc::LINE_AA,
                false,
            )
            .map_err(cv)?;
        }
        lines.push(LayerLine {
            text: t.text.trim().to_string(),
            bbox: [bx as f32, by as f32, bw as f32, bh as f32],
        });
    }
    let mut png = Vector::<u8>::new();
    opencv::imgcodecs::imencode(".png", &img, &mut png, &Vector::new()).map_err(cv)?;
    Ok(Sheet {
        png: png.to_vec(),
        width: width as u32,
        height: height as u32,
        frame,
        lines,
        summary,
    })
}

/// Geometry to draw, in model space: lines, arcs (a circle is an arc from 0° to
/// 360°; centre, radius, start and end angle in degrees) and polylines.
enum Geom {
    Line((f64, f64), (f64, f64)),
    Arc((f64, f64), f64, f64, f64),
    Poly(Vec<(f64, f64)>, bool),
}

/// A block reference's placement: `location + rotate(scale · (p − base))`.
struct Transform {
    base: (f64, f64),
    scale: (f64, f64),
    rotation_deg: f64,
    location: (f64, f64),
}

impl Transform {
    const IDENTITY: Transform = Transform {
        base: (0.0, 0.0),
        scale: (1.0, 1.0),
        rotation_deg: 0.0,
        location: (0.0, 0.0),
    };

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (
            (x - self.base.0) * self.scale.0,
            (y - self.base.1) * self.scale.1,
        );
        let (s, c) = self.rotation_deg.to_radians().sin_cos();
        (
            self.location.0 + dx * c - dy * s,
            self.location.1 + dx * s + dy * c,
        )
    }

    /// Lengths scale by the mean of the two factors (exact when they are equal).
    fn length(&self, r: f64) -> f64 {
        r * (self.scale.0.abs() + self.scale.1.abs()) / 2.0
    }

    /// This placement within `outer`'s.
    fn within(&self, outer: &Transform) -> Transform {
        let o = outer.apply(self.location.0, self.location.1);
        Transform {
            base: self.base,
            scale: (self.scale.0 * outer.scale.0, self.scale.1 * outer.scale.1),
            rotation_deg: self.rotation_deg + outer.rotation_deg,
            location: o,
        }
    }
}

/// An entity's geometry in model space: its own, or the geometry of the block an
/// `INSERT` places (nested up to 4 deep) or a `DIMENSION` draws (its lines and
/// arrows, in world coordinates already).
fn geometry(
    e: &Entity,
    xf: &Transform,
    blocks: &BTreeMap<&str, &::dxf::Block>,
    depth: usize,
    out: &mut Vec<Geom>,
) {
    if out.len() > MAX_ENTITIES {
        return;
    }
    let block = |name: &str, placement: Transform, out: &mut Vec<Geom>| {
        if depth >= 4 {
            return;
        }
        if let Some(b) = blocks.get(name) {
            let inner = Transform {
                base: (b.base_point.x, b.base_point.y),
                ..placement
            }
            .within(xf);
            for be in &b.entities {
                geometry(be, &inner, blocks, depth + 1, out);
            }
        }
    };
    match &e.specific {
        EntityType::Line(l) => out.push(Geom::Line(
            xf.apply(l.p1.x, l.p1.y),
            xf.apply(l.p2.x, l.p2.y),
        )),
        EntityType::Circle(c) => out.push(Geom::Arc(
            xf.apply(c.center.x, c.center.y),
            xf.length(c.radius),
            0.0,
            360.0,
        )),
        EntityType::Arc(a) => out.push(Geom::Arc(
            xf.apply(a.center.x, a.center.y),
            xf.length(a.radius),
            a.start_angle + xf.rotation_deg,
            a.end_angle + xf.rotation_deg,
        )),
        EntityType::LwPolyline(p) => out.push(Geom::Poly(
            p.vertices.iter().map(|v| xf.apply(v.x, v.y)).collect(),
            p.flags & 1 == 1,
        )),
        EntityType::Insert(ins) => block(
            &ins.name,
            Transform {
                base: (0.0, 0.0),
                scale: (ins.x_scale_factor, ins.y_scale_factor),
                rotation_deg: ins.rotation,
                location: (ins.location.x, ins.location.y),
            },
            out,
        ),
        _ => {
            if let Some(base) = dimension_base(e) {
                block(&base.block_name, Transform::IDENTITY, out);
            }
        }
    }
}

/// Model space → raster pixels: x from the left extent, y down from the top one,
/// scaled, inside the margin.
#[derive(Clone, Copy)]
struct PixelFrame {
    /// The drawing's left and top extents, model units.
    origin: (f64, f64),
    /// Pixels per model unit.
    scale: f64,
}

impl PixelFrame {
    fn to_pixel(self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.origin.0) * self.scale + MARGIN,
            (self.origin.1 - y) * self.scale + MARGIN,
        )
    }
}

impl Sheet {
    /// Where a model-space point lies on the raster, pixels.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        self.frame.to_pixel(x, y)
    }
}

#[derive(Default)]
struct Bounds(Option<(f64, f64, f64, f64)>);

impl Bounds {
    fn add(&mut self, x: f64, y: f64) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        self.0 = Some(match self.0 {
            None => (x, y, x, y),
            Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
        });
    }
    fn get(&self) -> Option<(f64, f64, f64, f64)> {
        self.0
    }
}

fn type_name(e: &EntityType) -> &'static str {
    match e {
        EntityType::Line(_) => "LINE",
        EntityType::Circle(_) => "CIRCLE",
        EntityType::Arc(_) => "ARC",
        EntityType::LwPolyline(_) => "LWPOLYLINE",
        EntityType::Polyline(_) => "POLYLINE",
        EntityType::Text(_) => "TEXT",
        EntityType::MText(_) => "MTEXT",
        EntityType::Tolerance(_) => "TOLERANCE",
        EntityType::Insert(_) => "INSERT",
        EntityType::RotatedDimension(_)
        | EntityType::RadialDimension(_)
        | EntityType::DiameterDimension(_)
        | EntityType::AngularThreePointDimension(_)
        | EntityType::OrdinateDimension(_) => "DIMENSION",
        _ => "other",
    }
}

/// The common part of a `DIMENSION` entity, whatever its kind.
fn dimension_base(e: &Entity) -> Option<&::dxf::entities::DimensionBase> {
    match &e.specific {
        EntityType::RotatedDimension(d) => Some(&d.dimension_base),
        EntityType::RadialDimension(d) => Some(&d.dimension_base),
        EntityType::DiameterDimension(d) => Some(&d.dimension_base),
        EntityType::AngularThreePointDimension(d) => Some(&d.dimension_base),
        EntityType::OrdinateDimension(d) => Some(&d.dimension_base),
        _ => None,
    }
}

fn text_height(styles: &BTreeMap<String, &DimStyle>, style: &str) -> f64 {
    styles
        .get(&style.to_uppercase())
        .map(|s| s.dimensioning_text_height)
        .filter(|h| *h > 0.0)
        .unwrap_or(2.5)
}

/// How a dimension's number is written: the style's settings with the entity's
/// `ACAD` `DSTYLE` overrides.
struct Format {
    /// `DIMTOL`, `DIMTP`, `DIMTM`.
    tolerances: bool,
    /// `DIMLIM`: the limits (value + `DIMTP` over value − `DIMTM`) instead of the value.
    limits: bool,
    plus: f64,
    minus: f64,
    /// `DIMDEC`; `None`: as many as the value needs (at most 4).
    decimals: Option<i16>,
    /// `DIMDSEP` (`,` in ISO styles).
    separator: char,
}

fn tolerance_settings(e: &Entity, style: Option<&DimStyle>) -> Format {
    let (mut on, mut limits, mut plus, mut minus, mut dec, mut sep) = match style {
        Some(s) => (
            s.generate_dimension_tolerances,
            s.generate_dimension_limits,
            s.dimension_plus_tolerance,
            s.dimension_minus_tolerance,
            (s.dimension_unit_tolerance_decimal_places > 0)
                .then_some(s.dimension_unit_tolerance_decimal_places),
            s.dimension_decilam_separator_char,
        ),
        None => (false, false, 0.0, 0.0, None, '.'),
    };
    for x in e
        .common
        .x_data
        .iter()
        .filter(|x| x.application_name == "ACAD")
    {
        let mut items = x.items.iter();
        while let Some(item) = items.next() {
            if !matches!(item, XDataItem::Str(s) if s == "DSTYLE") {
                continue;
            }
            let Some(XDataItem::ControlGroup(group)) = items.next() else {
                break;
            };
            let mut g = group.iter();
            while let (Some(XDataItem::Integer(code)), Some(value)) = (g.next(), g.next()) {
                let num = match value {
                    XDataItem::Real(v) | XDataItem::Distance(v) | XDataItem::ScaleFactor(v) => {
                        Some(*v)
                    }
                    XDataItem::Integer(v) => Some(f64::from(*v)),
                    XDataItem::Long(v) => Some(f64::from(*v)),
                    _ => None,
                };
                match (code, num) {
                    (71, Some(v)) => on = v != 0.0,
                    (72, Some(v)) => limits = v != 0.0,
                    (47, Some(v)) => plus = v,
                    (48, Some(v)) => minus = v,
                    (271, Some(v)) => dec = Some(v as i16),
                    (278, Some(v)) => sep = char::from_u32(v as u32).unwrap_or('.'),
                    _ => {}
                }
            }
        }
    }
    if !matches!(sep, '.' | ',') {
        sep = '.';
    }
    // Limits and tolerances exclude each other (setting one clears the other).
    Format {
        tolerances: on && !limits,
        limits,
        plus,
        minus,
        decimals: dec,
        separator: sep,
    }
}

fn number(v: f64, f: &Format) -> String {
    let s = match f.decimals {
        Some(d) => format!("{v:.*}", d.clamp(0, 8) as usize),
        None => {
            let s = format!("{v:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    s.replace('.', &f.separator.to_string())
}

/// A `DIMENSION` entity's reading and its text's place (model space).
fn dimension(
    e: &Entity,
    styles: &BTreeMap<String, &DimStyle>,
) -> Option<(CadDimension, (f64, f64))> {
    let base = dimension_base(e)?;
    let kind = match &e.specific {
        EntityType::RotatedDimension(d) if d.rotation_angle == 0.0 => "linear",
        EntityType::RotatedDimension(_) => "aligned",
        EntityType::RadialDimension(_) => "radius",
        EntityType::DiameterDimension(_) => "diameter",
        EntityType::AngularThreePointDimension(_) => "angle",
        _ => "ordinate",
    };
    let style = styles
        .get(&base.dimension_style_name.to_uppercase())
        .copied();
    let f = tolerance_settings(e, style);
    let measurement = if kind == "angle" {
        base.actual_measurement.to_degrees()
    } else {
        base.actual_measurement
    };
    let mut value = if f.limits {
        format!(
            "{}/{}",
            number(measurement + f.plus, &f),
            number(measurement - f.minus, &f)
        )
    } else {
        number(measurement, &f)
    };
    match kind {
        "diameter" => value = format!("Ø{value}"),
        "radius" => value = format!("R{value}"),
        "angle" => value.push('°'),
        _ => {}
    }
    let (upper, lower) = if f.tolerances || f.limits {
        (Some(f.plus), Some(-f.minus))
    } else {
        (None, None)
    };
    if f.tolerances {
        if (f.plus - f.minus).abs() < 1e-12 {
            value.push_str(&format!("±{}", number(f.plus, &f)));
        } else {
            let sign = |v: f64| if v < 0.0 { "-" } else { "+" };
            value.push_str(&format!(
                " {}{} {}{}",
                sign(f.plus),
                number(f.plus.abs(), &f),
                sign(-f.minus),
                number(f.minus.abs(), &f)
            ));
        }
    }
    let written = base.text.clone();
    let text = if written.is_empty() || written == "<>" {
        value
    } else if written.contains("<>") {
        control_codes(&mtext_plain(&written.replace("<>", &value)))
    } else {
        control_codes(&mtext_plain(&written))
    };
    Some((
        CadDimension {
            kind: kind.into(),
            measurement,
            text_override: written,
            style: base.dimension_style_name.clone(),
            upper,
            lower,
            text: text.replace('\n', " "),
        },
        (base.text_mid_point.x, base.text_mid_point.y),
    ))
}

/// `%%c`, `%%d`, `%%p` as `Ø`, `°`, `±`; `%%u`/`%%o` (underline, overline) and
/// `%%%` handled; anything else left as written.
pub fn control_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("%%") {
        out.push_str(&rest[..i]);
        let code = rest[i + 2..].chars().next();
        match code.map(|c| c.to_ascii_lowercase()) {
            Some('c') => out.push('Ø'),
            Some('d') => out.push('°'),
            Some('p') => out.push('±'),
            Some('u') | Some('o') => {}
            Some('%') => out.push('%'),
            _ => {
                out.push_str("%%");
                rest = &rest[i + 2..];
                continue;
            }
        }
        rest = &rest[i + 2 + code.map_or(0, char::len_utf8)..];
    }
    out.push_str(rest);
    out
}

/// MTEXT with its formatting codes removed: `\P` becomes a line break, stacked text
/// `\Sa/b;` a fraction and `\Sa^b;` a tolerance pair (`a b`), font, height, width,
/// colour and alignment codes (`\f…;` `\H…;` …) and grouping braces dropped.
pub fn mtext_plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '\\' => match chars.next() {
                Some('P') => out.push('\n'),
                Some('~') => out.push(' '),
                Some('\\') => out.push('\\'),
                Some('{') => out.push('{'),
                Some('}') => out.push('}'),
                Some('S') => {
                    let mut stacked = String::new();
                    for d in chars.by_ref() {
                        if d == ';' {
                            break;
                        }
                        stacked.push(d);
                    }
                    if let Some((a, b)) = stacked.split_once('^') {
                        out.push_str(&format!(" {} {}", a.trim(), b.trim()));
                    } else if let Some((a, b)) = stacked.split_once('#') {
                        out.push_str(&format!("{}/{}", a.trim(), b.trim()));
                    } else {
                        out.push_str(stacked.trim());
                    }
                }
                Some('L' | 'l' | 'O' | 'o' | 'K' | 'k') => {}
                Some(_) => {
                    // `\f…;`, `\H…;`, `\W…;`, `\Q…;`, `\T…;`, `\A…;`, `\C…;`, `\c…;`, `\px…;`
                    for d in chars.by_ref() {
                        if d == ';' {
                            break;
                        }
                    }
                }
                None => {}
            },
            _ => out.push(c),
        }
    }
    out
}

/// A `TOLERANCE` frame's cells (`%%v` separates them) with the `gdt` font's codes as
/// symbols: `{\Fgdt;j}` is position, `n` a diameter zone, `m` MMC, …
fn gdt_cells(frame: &str) -> Vec<String> {
    const SYMBOLS: [(char, &str); 20] = [
        ('a', "∠"),
        ('b', "⟂"),
        ('c', "⏥"),
        ('d', "⌓"),
        ('e', "○"),
        ('f', "∥"),
        ('g', "⌭"),
        ('h', "↗"),
        ('i', "⌯"),
        ('j', "⌖"),
        ('k', "⌒"),
        ('r', "◎"),
        ('t', "⌰"),
        ('u', "⏤"),
        ('n', "Ø"),
        ('m', "Ⓜ"),
        ('l', "Ⓛ"),
        ('s', "Ⓢ"),
        ('p', "Ⓟ"),
        ('q', "℄"),
    ];
    frame
        .split("%%v")
        .map(|cell| {
            let mut out = String::new();
            let mut rest = cell;
            while let Some(i) = rest.find("{\\Fgdt;") {
                out.push_str(&mtext_plain(&rest[..i]));
                let after = &rest[i + 7..];
                let end = after.find('}').unwrap_or(after.len());
                for ch in after[..end].chars() {
                    match SYMBOLS.iter().find(|(k, _)| *k == ch) {
                        Some((_, sym)) => out.push_str(sym),
                        None => out.push(ch),
                    }
                }
                rest = &after[(end + 1).min(after.len())..];
            }
            out.push_str(&mtext_plain(rest));
            control_codes(out.trim())
        })
        .filter(|c| !c.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtext_codes_and_control_codes_become_plain_text() {
        assert_eq!(
            mtext_plain(r"{\fArial|b0|i0;\H2.5;%%c12}\PTYP"),
            "%%c12\nTYP"
        );
        assert_eq!(control_codes("%%c12 %%p0.1 45%%d"), "Ø12 ±0.1 45°");
        assert_eq!(mtext_plain(r"21,00\S+0,10^-0,05;"), "21,00 +0,10 -0,05");
        assert_eq!(mtext_plain(r"1\S1#2;"), "11/2");
        assert_eq!(mtext_plain(r"\A1;3\S1/8;"), "31/8");
    }

    #[test]
    fn a_tolerance_frames_gdt_codes_become_symbols() {
        let cells = gdt_cells(r"{\Fgdt;j}%%v{\Fgdt;n}0.05{\Fgdt;m}%%vA%%vB");
        assert_eq!(cells, ["⌖", "Ø0.05Ⓜ", "A", "B"]);
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let f = parse_gdt(&refs).unwrap();
        assert_eq!(f.characteristic, "position");
        assert_eq!(f.tolerance, Some(0.05));
        assert!(f.diameter_zone);
        assert_eq!(f.datums, ["A", "B"]);
    }
}
