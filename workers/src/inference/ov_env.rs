//! OpenVINO's CPU runtime: the `ocr` stage's bf16 path (`stages::ocr::Precision`).
//!
//! ONNX Runtime's CPU kernels are f32 only on x86. CPUs with native bf16 arithmetic
//! (AVX-512 BF16 or AMX) run PP-OCR about twice as fast in bf16, and OpenVINO's CPU
//! plugin reads the same `.onnx` files and computes in bf16 when asked
//! (`INFERENCE_PRECISION_HINT`). The library comes from the pinned `openvino` wheel
//! that `models/fetch.sh` unpacks into `<models>/runtime/openvino/`; it is opened at
//! run time (never linked, never downloaded), once per process.
//!
//! Also here: [`onnx_metadata`], which reads a model file's `metadata_props` without
//! any runtime (the recogniser's dictionary lives there).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use drawpipe_core::StageError;
use openvino::{
    CompiledModel, Core, DeviceType, ElementType, InferRequest, RwPropertyKey, Shape, Tensor,
};

use super::ort_env::FETCH_HINT;
use super::{Model, ReadOutput};

/// The C API library inside the model repository.
pub fn lib_path(models: &Path) -> PathBuf {
    models.join("runtime/openvino/libopenvino_c.so.2641")
}

/// Why OpenVINO could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OvError {
    #[error("openvino runtime not found at {0}; {FETCH_HINT}")]
    Missing(PathBuf),
    #[error("cannot load openvino from {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("openvino cannot compile {path}: {reason}")]
    Compile { path: PathBuf, reason: String },
}

// One Core per process: it owns the CPU plugin and its thread pools.
static CORE: OnceLock<Result<Mutex<Core>, OvError>> = OnceLock::new();

fn core(models: &Path) -> Result<&'static Mutex<Core>, OvError> {
    CORE.get_or_init(|| {
        let lib = lib_path(models);
        if !lib.exists() {
            return Err(OvError::Missing(lib));
        }
        let load = |reason: String| OvError::Load {
            path: lib.clone(),
            reason,
        };
        openvino_sys::library::load_from(&lib).map_err(load)?;
        let core = Core::new().map_err(|e| load(e.to_string()))?;
        tracing::info!(lib = %lib.display(), "openvino loaded");
        Ok(Mutex::new(core))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The CPU feature that gives native bf16 arithmetic, read from `/proc/cpuinfo`'s
/// flags (`amx_bf16` or `avx512_bf16`); `None` when the CPU has neither.
pub fn native_bf16() -> Option<&'static str> {
    static FLAG: OnceLock<Option<&'static str>> = OnceLock::new();
    *FLAG.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| bf16_flag(&c))
    })
}

/// [`native_bf16`] over the text of a `/proc/cpuinfo`.
pub fn bf16_flag(cpuinfo: &str) -> Option<&'static str> {
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, f)| f)?;
    let has = |name: &str| flags.split_whitespace().any(|f| f == name);
    ["amx_bf16", "avx512_bf16"].into_iter().find(|f| has(f))
}

/// A model compiled for OpenVINO's CPU plugin, as an `ocr` [`Model`]. Runs are
/// serialised: one inference already uses every thread it was given.
pub struct OvModel {
    name: String,
    inner: Mutex<Compiled>,
}

struct Compiled {
    // Kept alive for as long as its request.
    _model: CompiledModel,
    request: InferRequest,
}

impl OvModel {
    /// Compiles the `.onnx` file at `path` for the CPU in `precision` (`bf16` or
    /// `f32`) with `threads` inference threads (0: OpenVINO's default, one per core).
    ///
    /// # Errors
    /// A missing or unloadable runtime, or a model OpenVINO cannot read.
    pub fn compile(
        models: &Path,
        path: &Path,
        name: &str,
        precision: &str,
        threads: usize,
    ) -> Result<Self, OvError> {
        let fail = |reason: String| OvError::Compile {
            path: path.to_path_buf(),
            reason,
        };
        let mut core = core(models)?.lock().unwrap_or_else(|p| p.into_inner());
        let cpu = DeviceType::CPU;
        let mut props = vec![
            (RwPropertyKey::HintInferencePrecision, precision.to_string()),
            // One inference at a time, as fast as possible.
            (RwPropertyKey::HintPerformanceMode, "LATENCY".to_string()),
        ];
        if threads > 0 {
            props.push((RwPropertyKey::InferenceNumThreads, threads.to_string()));
        }
        for (key, value) in &props {
            core.set_property(&cpu, key, value)
                .map_err(|e| fail(format!("setting {}={value}: {e}", key.as_ref())))?;
        }
        let model = core
            .read_model_from_file(&path.to_string_lossy(), "")
            .map_err(|e| fail(e.to_string()))?;
        let mut compiled = core
            .compile_model(&model, cpu)
            .map_err(|e| fail(e.to_string()))?;
        let request = compiled
            .create_infer_request()
            .map_err(|e| fail(e.to_string()))?;
        Ok(OvModel {
            name: name.to_string(),
            inner: Mutex::new(Compiled {
                _model: compiled,
                request,
            }),
        })
    }
}

impl Model for OvModel {
    fn run_with(
        &self,
        shape: [usize; 4],
        data: Vec<f32>,
        read: &mut ReadOutput<'_>,
    ) -> Result<(), StageError> {
        let other = |e: openvino::InferenceError| {
            StageError::Other(format!("{}: inference failed: {e}", self.name).into())
        };
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let mut input =
            Tensor::new(ElementType::F32, &Shape::new(&dims).map_err(other)?).map_err(other)?;
        input
            .get_data_mut::<f32>()
            .map_err(other)?
            .copy_from_slice(&data);
        drop(data);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.request.set_input_tensor(&input).map_err(other)?;
        inner.request.infer().map_err(other)?;
        let output = inner.request.get_output_tensor().map_err(other)?;
        let out_shape: Vec<usize> = output
            .get_shape()
            .map_err(other)?
            .get_dimensions()
            .iter()
            .map(|&d| d as usize)
            .collect();
        read(&out_shape, output.get_data::<f32>().map_err(other)?)
    }
}

/// The value of `key` in an ONNX model file's `metadata_props`, read straight from
/// the protobuf (ModelProto field 14, entries of key = 1 and value = 2) without
/// loading the model; `None` when absent.
///
/// # Errors
/// An unreadable file, or bytes that are not a protobuf message.
pub fn onnx_metadata(path: &Path, key: &str) -> Result<Option<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = || format!("{} is not an ONNX model (bad protobuf)", path.display());
    for (field, value) in fields(&bytes).ok_or_else(bad)? {
        if field != 14 {
            continue;
        }
        let Value::Bytes(entry) = value else {
            return Err(bad());
        };
        let (mut k, mut v) = (None, None);
        for (f, val) in fields(entry).ok_or_else(bad)? {
            match (f, val) {
                (1, Value::Bytes(b)) => k = Some(b),
                (2, Value::Bytes(b)) => v = Some(b),
                _ => {}
            }
        }
        if k == Some(key.as_bytes()) {
            return Ok(v.map(|b| String::from_utf8_lossy(b).into_owned()));
        }
    }
    Ok(None)
}

enum Value<'a> {
    Int,
    Bytes(&'a [u8]),
}

/// The top-level fields of a protobuf message, `None` when malformed.
fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Value<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let value = match tag & 7 {
            0 => varint(&mut buf).map(|_| Value::Int)?,
            1 => take(&mut buf, 8).map(|_| Value::Int)?,
            5 => take(&mut buf, 4).map(|_| Value::Int)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                Value::Bytes(take(&mut buf, len)?)
            }
            _ => return None,
        };
        out.push((tag >> 3, value));
    }
    Some(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bf16_flag_in_cpuinfo() {
        struct Case {
            cpuinfo: &'static str,
            want: Option<&'static str>,
        }
        let cases = [
            Case {
                cpuinfo: "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n",
                want: Some("avx512_bf16"),
            },
            Case {
                cpuinfo: "flags\t: avx512_bf16 amx_tile amx_bf16\n",
                want: Some("amx_bf16"),
            },
            Case {
                cpuinfo: "flags\t: fpu avx2 avx512f avx512_vnni\n",
                want: None,
            },
            Case {
                // A flag that merely contains the name is not the flag.
                cpuinfo: "flags\t: avx512_bf16x\n",
                want: None,
            },
            Case {
                cpuinfo: "",
                want: None,
            },
        ];
        for c in cases {
            assert_eq!(bf16_flag(c.cpuinfo), c.want, "{:?}", c.cpuinfo);
        }
    }

    #[test]
    fn reads_metadata_props_from_a_protobuf() {
        // ModelProto { ir_version: 8 (field 1), producer_name: "x" (2),
        //   metadata_props: [{key: "a", value: "1"}, {key: "character", value: "ab"}] (14) }
        let entry = |k: &str, v: &str| {
            let mut e = vec![0x0a, k.len() as u8];
            e.extend(k.as_bytes());
            e.extend([0x12, v.len() as u8]);
            e.extend(v.as_bytes());
            let mut f = vec![(14 << 3) | 2, e.len() as u8];
            f.extend(e);
            f
        };
        let mut model = vec![0x08, 0x08, 0x12, 0x01, b'x'];
        model.extend(entry("a", "1"));
        model.extend(entry("character", "ab"));
        let dir = std::env::temp_dir().join(format!("drawpipe-onnx-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(&path, &model).unwrap();
        assert_eq!(
            onnx_metadata(&path, "character").unwrap().as_deref(),
            Some("ab")
        );
        assert_eq!(onnx_metadata(&path, "a").unwrap().as_deref(), Some("1"));
        assert_eq!(onnx_metadata(&path, "missing").unwrap(), None);
        std::fs::write(&path, [0x0a, 0x05, b'x']).unwrap();
        assert!(onnx_metadata(&path, "character")
            .unwrap_err()
            .contains("not an ONNX model"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
