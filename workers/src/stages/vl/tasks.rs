//! The four questions `vl` asks about a drawing, each with the type its answer must
//! have. The JSON schema sent to the provider is derived from that type
//! ([`Task::schema`]), and an answer is valid when it deserialises into the type and
//! passes its range checks ([`Task::validate`]): one definition for both.

use std::fmt;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    InfoBlock,
    Dimensions,
    Processes,
    QcChecklist,
}

impl Task {
    pub const ALL: [Task; 4] = [
        Task::InfoBlock,
        Task::Dimensions,
        Task::Processes,
        Task::QcChecklist,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::InfoBlock => "info_block",
            Task::Dimensions => "dimensions",
            Task::Processes => "processes",
            Task::QcChecklist => "qc_checklist",
        }
    }

    /// What the model is asked.
    pub fn prompt(self) -> &'static str {
        match self {
            Task::InfoBlock => {
                "This is an engineering drawing. Read its title block (information block): \
                 drawing number, title, material, revision, scale, units, company, date and \
                 sheet, exactly as printed. Use null for a field that is not printed; never \
                 guess, and never return a label (such as 'MATERIAL') as a value."
            }
            Task::Dimensions => {
                "This is an engineering drawing. List every dimension printed in the drawing \
                 area (not the title block, not tables, not notes): its text exactly as \
                 printed (with Ø, R, ±, °, fits such as H7, and decimal commas kept), its \
                 nominal value as a number, its upper and lower deviations as signed numbers \
                 when printed, its ISO fit when printed, its kind, and where it is: bbox = \
                 [x0, y0, x1, y1] as fractions (0 to 1) of the page width and height, \
                 origin top left."
            }
            Task::Processes => {
                "This is an engineering drawing of a part. List the manufacturing processes \
                 a machine shop would use to make it (for example turning, milling, drilling, \
                 tapping, grinding, heat treatment, coating), in order, each with the feature \
                 it makes and the reason read from the drawing."
            }
            Task::QcChecklist => {
                "This is an engineering drawing. Write the quality-control checklist for \
                 inspecting the part: each characteristic to check (from the dimensions, \
                 tolerances, fits, threads, GD&T frames, surface finish and notes), the \
                 requirement as printed, the inspection method or gauge, and how often."
            }
        }
    }

    /// The JSON schema of a valid answer (draft 7, inlined, without `$schema`).
    pub fn schema(self) -> Value {
        match self {
            Task::InfoBlock => schema_of::<InfoBlock>(),
            Task::Dimensions => schema_of::<Dimensions>(),
            Task::Processes => schema_of::<Processes>(),
            Task::QcChecklist => schema_of::<QcChecklist>(),
        }
    }

    /// The answer, checked against its type and ranges and re-serialised.
    ///
    /// # Errors
    /// What is wrong with it, for the model to fix when asked again.
    pub fn validate(self, answer: &Value) -> Result<Value, String> {
        match self {
            Task::InfoBlock => typed::<InfoBlock>(answer),
            Task::Dimensions => {
                let d: Dimensions = typed_value(answer)?;
                for (i, x) in d.dimensions.iter().enumerate() {
                    if x.text.trim().is_empty() {
                        return Err(format!("dimensions[{i}].text is empty"));
                    }
                    if let Some(b) = x.bbox {
                        if b.iter().any(|v| !(0.0..=1.0).contains(v)) || b[0] > b[2] || b[1] > b[3]
                        {
                            return Err(format!(
                                "dimensions[{i}].bbox must be [x0, y0, x1, y1] fractions in 0..1 with x0 <= x1 and y0 <= y1"
                            ));
                        }
                    }
                }
                serde_json::to_value(d).map_err(|e| e.to_string())
            }
            Task::Processes => typed::<Processes>(answer),
            Task::QcChecklist => typed::<QcChecklist>(answer),
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn schema_of<T: JsonSchema>() -> Value {
    let schema = SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let mut v = schema.to_value();
    if let Value::Object(m) = &mut v {
        m.remove("$schema");
    }
    v
}

fn typed_value<T: DeserializeOwned>(answer: &Value) -> Result<T, String> {
    serde_json::from_value(answer.clone())
        .map_err(|e| format!("the answer does not match the schema: {e}"))
}

fn typed<T: DeserializeOwned + Serialize>(answer: &Value) -> Result<Value, String> {
    let t: T = typed_value(answer)?;
    serde_json::to_value(t).map_err(|e| e.to_string())
}

/// The title block as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InfoBlock {
    pub drawing_number: Option<String>,
    pub title: Option<String>,
    pub material: Option<String>,
    pub revision: Option<String>,
    pub scale: Option<String>,
    pub units: Option<String>,
    pub company: Option<String>,
    pub date: Option<String>,
    pub sheet: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    pub dimensions: Vec<VlDimension>,
}

/// One dimension as the model read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VlDimension {
    /// The text exactly as printed.
    pub text: String,
    /// Nominal value (mm, or degrees for angles).
    pub value: Option<f64>,
    /// Upper deviation, signed.
    pub upper: Option<f64>,
    /// Lower deviation, signed.
    pub lower: Option<f64>,
    /// ISO fit such as H7 or g6.
    pub fit: Option<String>,
    /// linear, diameter, radius, angle, chamfer, thread or other.
    pub kind: Option<String>,
    /// [x0, y0, x1, y1], fractions of the page width and height, origin top left.
    pub bbox: Option<[f64; 4]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Processes {
    pub processes: Vec<ProcessStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessStep {
    pub process: String,
    pub feature: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QcChecklist {
    pub checks: Vec<QcCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QcCheck {
    pub characteristic: String,
    pub requirement: Option<String>,
    pub method: Option<String>,
    pub frequency: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schema_is_the_types_and_validation_holds_to_it() {
        let s = Task::Dimensions.schema();
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["dimensions"]["type"], "array");
        assert!(s.get("$schema").is_none());
        let ok = json!({"dimensions": [{"text": "Ø38 H12", "value": 38.0, "upper": null, "lower": null,
                         "fit": "H12", "kind": "diameter", "bbox": [0.1, 0.2, 0.2, 0.25]}]});
        assert!(Task::Dimensions.validate(&ok).is_ok());
        let outside = json!({"dimensions": [{"text": "5", "value": 5.0, "upper": null, "lower": null,
                              "fit": null, "kind": null, "bbox": [0.1, 0.2, 1.5, 0.25]}]});
        assert!(Task::Dimensions
            .validate(&outside)
            .unwrap_err()
            .contains("bbox"));
        let extra = json!({"drawing_number": "A1", "colour": "red"});
        assert!(Task::InfoBlock
            .validate(&extra)
            .unwrap_err()
            .contains("colour"));
    }
}
