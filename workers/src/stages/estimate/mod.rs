//! A traceable cost estimate from what was read, without an LLM: material from the
//! stock size, setup and machining time per process from the features read, a premium
//! for tight tolerances, priced at a few quantities from an editable rate card.
//!
//! - **Stock**: a bar for a turned part (largest Ø × length), a block for a milled one
//!   (length × width × thickness: the largest, second largest and smallest linear
//!   dimensions), each grown by the card's allowance on every side.
//! - **Processes**: the main one (turning or milling, as the tolerance stage decided),
//!   drilling for the holes of a milled part (Ø dimensions, times their count), tapping
//!   for threads, grinding for fits of IT7 or finer and Ra ≤ 0.8 µm.
//! - **Time**: setup once per batch (shared by the quantity), then per part the
//!   process's base minutes plus minutes per feature; cost at the process's hourly rate.
//! - **Premium**: a share of the machining cost by the tightest tolerance width.
//!
//! Every line names its inputs; a quantity's unit price is the sum of its lines
//! (rounded to cents first) and its total the unit price times the quantity. The card
//! (`rate_card.toml`, embedded) is replaced by `DRAWPIPE_RATE_CARD=/path/card.toml`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The default card, embedded.
pub const DEFAULT_RATE_CARD: &str = include_str!("rate_card.toml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    pub currency: String,
    pub quantities: Vec<u32>,
    pub stock: StockRule,
    pub materials: BTreeMap<String, MaterialRate>,
    pub processes: BTreeMap<String, ProcessRate>,
    #[serde(default)]
    pub tolerance_premium: Vec<Premium>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockRule {
    pub allowance_mm: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialRate {
    pub density_g_cm3: f64,
    pub price_per_kg: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessRate {
    pub hourly_rate: f64,
    pub setup_min: f64,
    pub base_min: f64,
    pub per_feature_min: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Premium {
    pub below_mm: f64,
    pub share: f64,
}

impl RateCard {
    /// Parses and checks a card.
    ///
    /// # Errors
    /// Malformed TOML, or a card the estimate cannot use (no steel, no milling or
    /// turning, a negative figure), named.
    pub fn parse(text: &str) -> Result<RateCard, String> {
        let card: RateCard = toml::from_str(text).map_err(|e| format!("rate card: {e}"))?;
        for needed in ["turning", "milling"] {
            if !card.processes.contains_key(needed) {
                return Err(format!("rate card: no [processes.{needed}]"));
            }
        }
        if !card.materials.contains_key("steel") {
            return Err("rate card: no [materials.steel] (the default material)".into());
        }
        let negative = card
            .processes
            .values()
            .flat_map(|p| [p.hourly_rate, p.setup_min, p.base_min, p.per_feature_min])
            .chain(
                card.materials
                    .values()
                    .flat_map(|m| [m.density_g_cm3, m.price_per_kg]),
            )
            .chain([card.stock.allowance_mm])
            .any(|v| !(v >= 0.0 && v.is_finite()));
        if negative {
            return Err("rate card: every rate, time, density and price must be ≥ 0".into());
        }
        Ok(card)
    }
}

/// The card in use: `DRAWPIPE_RATE_CARD`'s file, else the embedded default; read once.
///
/// # Errors
/// The file cannot be read or is not a usable card (the message names it).
pub fn rate_card() -> Result<&'static RateCard, String> {
    static CARD: OnceLock<Result<RateCard, String>> = OnceLock::new();
    CARD.get_or_init(|| match std::env::var_os("DRAWPIPE_RATE_CARD") {
        Some(path) if !path.is_empty() => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "DRAWPIPE_RATE_CARD: cannot read {}: {e}",
                    path.to_string_lossy()
                )
            })?;
            RateCard::parse(&text).map_err(|e| format!("{} ({})", e, path.to_string_lossy()))
        }
        _ => RateCard::parse(DEFAULT_RATE_CARD),
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// What the estimate needs to know about the part.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub material: String,
    /// The tolerance stage's process (`turning`, `milling`, …).
    pub process: String,
    pub largest_diameter_mm: f64,
    pub length_mm: f64,
    /// The second largest linear dimension, when there is one.
    pub width_mm: Option<f64>,
    pub thickness_mm: f64,
    pub tightest_tolerance_mm: f64,
    /// Machined features (dimensions read that are not references), holes, threads,
    /// and features that need grinding.
    pub features: u32,
    pub holes: u32,
    pub threads: u32,
    pub ground: u32,
}

/// The estimate: one price per quantity, each with its breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub currency: String,
    pub material: String,
    pub stock: String,
    pub processes: Vec<String>,
    pub quantities: Vec<QuantityPrice>,
    /// Values not read from the drawing, in words.
    pub assumptions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantityPrice {
    pub quantity: u32,
    /// The sum of `lines`.
    pub unit_price: f64,
    /// `unit_price` × `quantity`.
    pub total: f64,
    pub lines: Vec<Line>,
}

/// One line of a breakdown: per part, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub item: String,
    pub amount: f64,
    pub inputs: String,
}

fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn num(v: f64) -> String {
    super::decimal(v, 2)
}

/// Prices `part` with `card` at the card's quantities and `extra` ones.
pub fn estimate(card: &RateCard, part: &Part, extra: &[u32]) -> Estimate {
    let mut assumptions = Vec::new();
    let cur = &card.currency;
    let a = card.stock.allowance_mm;
    let (material_name, rate) = match card.materials.get(&part.material) {
        Some(m) => (part.material.clone(), m),
        None => {
            assumptions.push(format!(
                "material {:?} is not on the rate card: priced as steel",
                part.material
            ));
            ("steel".to_string(), &card.materials["steel"])
        }
    };
    let turned = part.process == "turning" && part.largest_diameter_mm > 0.0;
    let main = if turned { "turning" } else { "milling" };
    if part.process != main {
        assumptions.push(format!(
            "process {:?}: priced as {main} (the rate card's machining processes)",
            part.process
        ));
    }
    let (volume_mm3, stock) = if turned {
        let (d, l) = (part.largest_diameter_mm + 2.0 * a, part.length_mm + 2.0 * a);
        (
            std::f64::consts::PI / 4.0 * d * d * l,
            format!("bar Ø{} × {} mm", num(d), num(l)),
        )
    } else {
        let width = part.width_mm.unwrap_or_else(|| {
            assumptions.push("one linear dimension: width taken as length / 2".into());
            part.length_mm / 2.0
        });
        let (l, w, t) = (
            part.length_mm + 2.0 * a,
            width + 2.0 * a,
            part.thickness_mm.min(width) + 2.0 * a,
        );
        (
            l * w * t,
            format!("block {} × {} × {} mm", num(l), num(w), num(t)),
        )
    };
    let kg = volume_mm3 / 1000.0 * rate.density_g_cm3 / 1000.0;
    let material_line = Line {
        item: "material".into(),
        amount: cents(kg * rate.price_per_kg),
        inputs: format!(
            "{stock} ({} mm allowance a side) of {material_name}: {} g/cm³ → {:.3} kg × {} {cur}/kg",
            num(a),
            num(rate.density_g_cm3),
            kg,
            num(rate.price_per_kg)
        ),
    };
    // (process, features it machines, what they are).
    let mut steps: Vec<(&str, u32, String)> = vec![(
        main,
        part.features,
        format!("{} features read", part.features),
    )];
    if !turned && part.holes > 0 {
        steps.push(("drilling", part.holes, format!("{} holes", part.holes)));
    }
    if part.threads > 0 {
        steps.push(("tapping", part.threads, format!("{} threads", part.threads)));
    }
    if part.ground > 0 {
        steps.push((
            "grinding",
            part.ground,
            format!("{} fits of IT7 or finer / Ra ≤ 0.8 µm", part.ground),
        ));
    }
    let steps: Vec<(&str, &ProcessRate, u32, String)> = steps
        .into_iter()
        .filter_map(|(p, n, why)| match card.processes.get(p) {
            Some(r) => Some((p, r, n, why)),
            None => {
                assumptions.push(format!(
                    "no [processes.{p}] on the rate card: {why} not priced"
                ));
                None
            }
        })
        .collect();
    let premium = card
        .tolerance_premium
        .iter()
        .filter(|p| part.tightest_tolerance_mm < p.below_mm)
        .map(|p| p.share)
        .fold(0.0, f64::max);

    let mut quantities: Vec<u32> = card
        .quantities
        .iter()
        .chain(extra)
        .copied()
        .filter(|q| *q > 0)
        .collect();
    quantities.sort_unstable();
    quantities.dedup();
    let priced = quantities
        .into_iter()
        .map(|q| {
            let mut lines = vec![material_line.clone()];
            let mut machining = 0.0;
            for (p, r, n, why) in &steps {
                if r.setup_min > 0.0 {
                    lines.push(Line {
                        item: format!("setup: {p}"),
                        amount: cents(r.setup_min * r.hourly_rate / 60.0 / q as f64),
                        inputs: format!(
                            "{} min at {} {cur}/h, shared by {q}",
                            num(r.setup_min),
                            num(r.hourly_rate)
                        ),
                    });
                }
                let minutes = r.base_min + r.per_feature_min * *n as f64;
                let amount = cents(minutes * r.hourly_rate / 60.0);
                machining += amount;
                lines.push(Line {
                    item: format!("machining: {p}"),
                    amount,
                    inputs: format!(
                        "{} min base + {} min × {why} = {} min at {} {cur}/h",
                        num(r.base_min),
                        num(r.per_feature_min),
                        num(minutes),
                        num(r.hourly_rate)
                    ),
                });
            }
            if premium > 0.0 {
                lines.push(Line {
                    item: "tolerance premium".into(),
                    amount: cents(premium * machining),
                    inputs: format!(
                        "{}% of machining {} {cur}: tightest tolerance {} mm",
                        num(premium * 100.0),
                        num(machining),
                        num(part.tightest_tolerance_mm)
                    ),
                });
            }
            let unit_price = cents(lines.iter().map(|l| l.amount).sum());
            QuantityPrice {
                quantity: q,
                unit_price,
                total: cents(unit_price * q as f64),
                lines,
            }
        })
        .collect();
    Estimate {
        currency: cur.clone(),
        material: material_name,
        stock,
        processes: steps.iter().map(|(p, ..)| p.to_string()).collect(),
        quantities: priced,
        assumptions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turned() -> Part {
        Part {
            material: "steel".into(),
            process: "turning".into(),
            largest_diameter_mm: 42.0,
            length_mm: 16.0,
            width_mm: Some(5.0),
            thickness_mm: 5.0,
            tightest_tolerance_mm: 0.2,
            features: 10,
            holes: 0,
            threads: 0,
            ground: 0,
        }
    }

    #[test]
    fn the_default_card_parses_and_a_bad_one_is_named() {
        let card = RateCard::parse(DEFAULT_RATE_CARD).unwrap();
        assert_eq!(card.quantities, [1, 10, 100]);
        assert!(RateCard::parse("currency = 1")
            .unwrap_err()
            .starts_with("rate card:"));
        let no_milling = DEFAULT_RATE_CARD.replace("[processes.milling]", "[processes.planing]");
        assert!(RateCard::parse(&no_milling)
            .unwrap_err()
            .contains("processes.milling"));
        let negative = DEFAULT_RATE_CARD.replace("hourly_rate = 70.0", "hourly_rate = -70.0");
        assert!(RateCard::parse(&negative).is_err());
    }

    #[test]
    fn each_breakdown_sums_to_its_price_and_setup_is_shared() {
        let card = RateCard::parse(DEFAULT_RATE_CARD).unwrap();
        let e = estimate(&card, &turned(), &[25]);
        assert_eq!(
            e.quantities.iter().map(|q| q.quantity).collect::<Vec<_>>(),
            [1, 10, 25, 100]
        );
        assert_eq!(e.stock, "bar Ø46 × 20 mm");
        assert_eq!(e.processes, ["turning"]);
        for q in &e.quantities {
            let sum: f64 = q.lines.iter().map(|l| l.amount).sum();
            assert!((sum - q.unit_price).abs() < 1e-9, "{q:?}");
            assert!(
                (q.unit_price * q.quantity as f64 - q.total).abs() < 0.005,
                "{q:?}"
            );
            assert!(q.lines.iter().all(|l| !l.inputs.is_empty()));
        }
        // Ø46 × 20 mm of steel: 33.2 cm³, 0.261 kg at 2.5/kg.
        assert_eq!(e.quantities[0].lines[0].amount, 0.65);
        // Setup 30 min at 70/h = 35 for one part, 0.35 each for a hundred.
        let setup = |q: &QuantityPrice| {
            q.lines
                .iter()
                .find(|l| l.item == "setup: turning")
                .unwrap()
                .amount
        };
        assert_eq!(setup(&e.quantities[0]), 35.0);
        assert_eq!(setup(&e.quantities[3]), 0.35);
        assert!(e.quantities[0].unit_price > e.quantities[3].unit_price);
        // No premium at 0.2 mm; 30 % of machining below 0.02 mm.
        assert!(e.quantities[0]
            .lines
            .iter()
            .all(|l| l.item != "tolerance premium"));
        let tight = estimate(
            &card,
            &Part {
                tightest_tolerance_mm: 0.01,
                ..turned()
            },
            &[],
        );
        let q = &tight.quantities[0];
        let machining: f64 = q
            .lines
            .iter()
            .filter(|l| l.item.starts_with("machining"))
            .map(|l| l.amount)
            .sum();
        let premium = q
            .lines
            .iter()
            .find(|l| l.item == "tolerance premium")
            .unwrap();
        assert!((premium.amount - cents(0.3 * machining)).abs() < 1e-9);
    }

    #[test]
    fn a_milled_part_with_holes_and_threads_adds_those_processes() {
        let card = RateCard::parse(DEFAULT_RATE_CARD).unwrap();
        let part = Part {
            material: "unobtainium".into(),
            process: "milling".into(),
            largest_diameter_mm: 6.0,
            length_mm: 120.0,
            width_mm: None,
            thickness_mm: 10.0,
            holes: 4,
            threads: 2,
            ground: 1,
            ..turned()
        };
        let e = estimate(&card, &part, &[]);
        assert_eq!(e.processes, ["milling", "drilling", "tapping", "grinding"]);
        assert_eq!(e.stock, "block 124 × 64 × 14 mm");
        assert_eq!(e.material, "steel");
        assert_eq!(e.assumptions.len(), 2, "{:?}", e.assumptions);
    }
}
