//! ONNX Runtime for the inference stages: the shared library is loaded once per
//! process (never downloaded at build time), and each session gets the device its
//! stage asks for.
//!
//! Where things are found, in order:
//! - the model repository: `DRAWPIPE_MODELS`, else the first `models/` folder holding
//!   `fetch.sh` in the current directory, the executable's directory, or one of their
//!   ancestors (so `cargo test` and `target/*/drawpipe` both find the workspace's
//!   `models/`), else `./models`;
//! - the library: `DRAWPIPE_ORT_DYLIB`, else `<models>/runtime/onnxruntime-gpu/
//!   libonnxruntime.so` when `models/fetch.sh --gpu` unpacked it, else
//!   `<models>/runtime/onnxruntime/libonnxruntime.so` (`models/fetch.sh`).
//!
//! These two environment reads are the only ones: they locate files that a deployment
//! mounts, like `ORT_DYLIB_PATH` does for the `ort` crate itself.
//!
//! Devices: [`Device::Auto`] uses the CUDA execution provider when the loaded library
//! has it and a session actually builds on it, else the CPU, and logs which and why;
//! [`Device::Cuda`] fails rather than fall back.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use ort::ep::{self, ExecutionProvider};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use serde::{Deserialize, Serialize};

/// What to tell a person whose runtime or model files are missing.
pub const FETCH_HINT: &str = "run models/fetch.sh";

/// Where a stage's inference runs. Serialised as `auto`, `cpu` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Device {
    /// CUDA device 0 when it is usable, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// CUDA device N; an error when unusable.
    Cuda(u32),
}

impl FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("unknown device '{other}'; expected auto, cpu or cuda:N")),
        }
    }
}

impl TryFrom<String> for Device {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Device> for String {
    fn from(d: Device) -> String {
        d.to_string()
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Failures to load the runtime or to build a session.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrtEnvError {
    #[error("onnx runtime library not found at {0}; {FETCH_HINT} (or set DRAWPIPE_ORT_DYLIB)")]
    Missing(PathBuf),
    #[error("could not load onnx runtime from {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("{0}")]
    Device(String),
    #[error("onnx runtime session for {path}: {reason}")]
    Session { path: PathBuf, reason: String },
}

/// The loaded runtime; lives for the rest of the process.
#[derive(Debug)]
pub struct Runtime {
    /// The library file loaded (symlinks resolved).
    pub dylib: PathBuf,
    /// Whether the library was built with the CUDA execution provider.
    pub has_cuda: bool,
    env: ort::environment::Environment,
}

// One per process: ONNX Runtime allows a single environment, and sessions borrow it.
static RUNTIME: OnceLock<Result<Runtime, OrtEnvError>> = OnceLock::new();

/// The model repository folder (see the module doc for the search order).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRAWPIPE_MODELS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf)),
    ];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .map(|a| a.join("models"))
                .find(|m| m.join("fetch.sh").is_file())
        })
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// The ONNX Runtime library to load for a model repository.
pub fn dylib_path(models: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("DRAWPIPE_ORT_DYLIB").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let gpu = models.join("runtime/onnxruntime-gpu/libonnxruntime.so");
    if gpu.exists() {
        return gpu;
    }
    models.join("runtime/onnxruntime/libonnxruntime.so")
}

/// Loads ONNX Runtime from [`dylib_path`] of [`models_dir`], once per process.
///
/// # Errors
/// [`OrtEnvError::Missing`] names the path and the fetch command; later calls return
/// the first call's result.
pub fn init() -> Result<&'static Runtime, OrtEnvError> {
    init_from(&dylib_path(&models_dir()))
}

/// Loads ONNX Runtime from `dylib`, once per process; a later call with another path
/// gets the library loaded first.
pub fn init_from(dylib: &Path) -> Result<&'static Runtime, OrtEnvError> {
    RUNTIME
        .get_or_init(|| load(dylib))
        .as_ref()
        .map_err(Clone::clone)
}

fn load(dylib: &Path) -> Result<Runtime, OrtEnvError> {
    if !dylib.exists() {
        return Err(OrtEnvError::Missing(dylib.to_path_buf()));
    }
    let resolved = dylib.canonicalize().unwrap_or_else(|_| dylib.to_path_buf());
    let load_err = |reason: String| OrtEnvError::Load {
        path: resolved.clone(),
        reason,
    };
    let env = ort::init_from(&resolved)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("drawpipe")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    let has_cuda = ep::CUDA::is_available().unwrap_or(false);
    tracing::info!(dylib = %resolved.display(), has_cuda, "onnx runtime loaded");
    Ok(Runtime {
        dylib: resolved,
        has_cuda,
        env,
    })
}

/// A built session and the device it actually runs on.
pub struct BuiltSession {
    pub session: Session,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Why that device: logged, and shown by `drawpipe devices`.
    pub reason: String,
}

/// Builds a session for the model at `path` on `device`, with `threads` intra-op
/// threads (0: ONNX Runtime's default, one per physical core). Loads the runtime
/// first if needed.
///
/// # Errors
/// A missing runtime, a model ONNX Runtime refuses, or an explicit `cuda:N` that does
/// not work.
pub fn session(path: &Path, device: Device, threads: usize) -> Result<BuiltSession, OrtEnvError> {
    let rt = init()?;
    let no_cuda = || {
        format!(
            "the onnx runtime at {} has no CUDA execution provider (models/fetch.sh --gpu unpacks one)",
            rt.dylib.display()
        )
    };
    match device {
        Device::Cpu => Ok(BuiltSession {
            session: build(rt, path, None, threads)?,
            device: "cpu".into(),
            reason: "configured cpu".into(),
        }),
        Device::Cuda(n) => {
            if !rt.has_cuda {
                return Err(OrtEnvError::Device(format!(
                    "cuda:{n} requested but {}",
                    no_cuda()
                )));
            }
            let session = build(rt, path, Some(n), threads).map_err(|e| {
                OrtEnvError::Device(format!("cuda:{n} requested but unusable: {e}"))
            })?;
            Ok(BuiltSession {
                session,
                device: format!("cuda:{n}"),
                reason: "configured cuda".into(),
            })
        }
        Device::Auto if !rt.has_cuda => {
            let reason = format!("auto: {}", no_cuda());
            tracing::info!(model = %path.display(), device = "cpu", %reason, "device chosen");
            Ok(BuiltSession {
                session: build(rt, path, None, threads)?,
                device: "cpu".into(),
                reason,
            })
        }
        Device::Auto => match build(rt, path, Some(0), threads) {
            Ok(session) => {
                let reason =
                    "auto: CUDA execution provider available and the session built on cuda:0"
                        .to_string();
                tracing::info!(model = %path.display(), device = "cuda:0", %reason, "device chosen");
                Ok(BuiltSession {
                    session,
                    device: "cuda:0".into(),
                    reason,
                })
            }
            Err(e) => {
                let reason =
                    format!("auto: CUDA execution provider present but failed ({e}); using cpu");
                tracing::warn!(model = %path.display(), device = "cpu", %reason, "device chosen");
                Ok(BuiltSession {
                    session: build(rt, path, None, threads)?,
                    device: "cpu".into(),
                    reason,
                })
            }
        },
    }
}

/// Runs `f` with subnormal floats flushed to zero on the calling thread (x86-64
/// FTZ and DAZ), restoring the thread's previous mode afterwards, even on panic; on
/// other architectures it only calls `f`.
///
/// ONNX Runtime's `session.set_denormal_as_zero` ([`session`] sets it) covers only
/// its pool threads, while the thread calling `run` computes its share of every
/// operator too: without this the caller's share stays slow and the pool waits on it.
pub fn flush_denormals<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(deprecated)] // the replacement is inline assembly
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        // MXCSR bits: flush-to-zero (15) and denormals-are-zero (6).
        const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
        struct Restore(u32);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: restores the value read from this thread's MXCSR.
                #[allow(deprecated)]
                unsafe {
                    _mm_setcsr(self.0)
                }
            }
        }
        // SAFETY: reading and setting MXCSR only changes this thread's float modes,
        // and `Restore` puts the old modes back.
        #[allow(deprecated)]
        let old = unsafe { _mm_getcsr() };
        let _restore = Restore(old);
        #[allow(deprecated)]
        unsafe {
            _mm_setcsr(old | FTZ_DAZ)
        };
        f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

fn build(
    rt: &Runtime,
    path: &Path,
    cuda: Option<u32>,
    threads: usize,
) -> Result<Session, OrtEnvError> {
    let err = |e: ort::Error| OrtEnvError::Session {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    // Flush-to-zero: the detector's activations over a drawing's white paper decay
    // into subnormal floats, which x86 computes with microcode assists; treating them
    // as 0 made PP-OCRv6 det 1.6× faster on a 1536×1088 page (1.21 s → 0.74 s, 2
    // threads, tools/ocr-bench.sh, 2026-11-28) and changed no line read.
    let mut b = Session::builder(&rt.env)
        .map_err(err)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| err(e.into()))?
        .with_flush_to_zero()
        .map_err(|e| err(e.into()))?;
    if threads > 0 {
        b = b.with_intra_threads(threads).map_err(|e| err(e.into()))?;
    }
    if let Some(n) = cuda {
        let cuda = ep::CUDA::default()
            .with_device_id(n as i32)
            .build()
            .error_on_failure();
        b = b
            .with_execution_providers([cuda])
            .map_err(|e| err(e.into()))?;
    }
    b.commit_from_file(path).map_err(err)
}

/// A committed model read from `dir`: its `manifest.json` (parsed as `M`) and the
/// bytes of the file it names, after checking them against the manifest's sha256.
/// `file` and `sha256` are read from the manifest's fields of those names.
///
/// # Errors
/// A missing or malformed manifest, a missing model file or a sha256 mismatch, each
/// naming the file.
pub fn read_committed_model<M: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<(M, PathBuf, Vec<u8>), drawpipe_core::StageError> {
    use sha2::Digest;
    let other = |m: String| drawpipe_core::StageError::Other(m.into());
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath)
        .map_err(|e| other(format!("cannot read {}: {e}", mpath.display())))?;
    #[derive(Deserialize)]
    struct Pin {
        file: String,
        sha256: String,
    }
    let parse_err = |e: serde_json::Error| other(format!("malformed {}: {e}", mpath.display()));
    let pin: Pin = serde_json::from_str(&text).map_err(parse_err)?;
    let manifest: M = serde_json::from_str(&text).map_err(parse_err)?;
    let path = dir.join(&pin.file);
    let bytes = std::fs::read(&path).map_err(|e| {
        other(format!(
            "cannot read {}: {e} (it is committed; restore it with git checkout)",
            path.display()
        ))
    })?;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    if sha != pin.sha256 {
        return Err(other(format!(
            "sha256 mismatch for {}: manifest pins {}, file has {sha}",
            path.display(),
            pin.sha256
        )));
    }
    Ok((manifest, path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        struct Case {
            text: &'static str,
            want: Result<Device, ()>,
        }
        let cases = [
            Case {
                text: "auto",
                want: Ok(Device::Auto),
            },
            Case {
                text: "cpu",
                want: Ok(Device::Cpu),
            },
            Case {
                text: "cuda",
                want: Ok(Device::Cuda(0)),
            },
            Case {
                text: "cuda:1",
                want: Ok(Device::Cuda(1)),
            },
            Case {
                text: "cuda:x",
                want: Err(()),
            },
            Case {
                text: "gpu",
                want: Err(()),
            },
        ];
        for c in cases {
            assert_eq!(
                c.text.parse::<Device>().map_err(|_| ()),
                c.want,
                "{}",
                c.text
            );
        }
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
        assert_eq!(
            serde_json::to_string(&Device::Cuda(2)).unwrap(),
            "\"cuda:2\""
        );
        assert_eq!(
            serde_json::from_str::<Device>("\"cpu\"").unwrap(),
            Device::Cpu
        );
    }

    #[test]
    fn missing_library_names_the_path_and_the_fetch() {
        let e = load(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("/nonexistent/libonnxruntime.so") && msg.contains("models/fetch.sh"),
            "{msg}"
        );
    }
}
