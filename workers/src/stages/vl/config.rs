//! Which vision-language provider answers which task: the worker's `vl` settings.
//!
//! Read once when the worker loads the stage, from a TOML file named by
//! `DRAWPIPE_VL_CONFIG`, or, for one provider serving every task, from
//! `DRAWPIPE_VL_PROVIDER` (`anthropic`, `openai`, `openai-compatible`),
//! `DRAWPIPE_VL_MODEL`, `DRAWPIPE_VL_BASE_URL` and the key in `DRAWPIPE_VL_API_KEY`
//! or the file `DRAWPIPE_VL_API_KEY_FILE`. With neither, no provider is configured
//! and the stage skips every job, saying so.
//!
//! ```toml
//! [providers.claude]
//! kind = "anthropic"                 # anthropic | openai | openai-compatible
//! api_key_env = "ANTHROPIC_API_KEY"  # or api_key_file = "/run/secrets/anthropic"
//! max_concurrency = 4                # requests in flight, shared by the worker's jobs
//! requests_per_minute = 50
//! input_usd_per_mtok = 3.0           # for the cost recorded per job
//! output_usd_per_mtok = 15.0
//!
//! [providers.local]
//! kind = "openai-compatible"
//! base_url = "http://vllm.internal:8000"
//!
//! [tasks]                            # provider and model per task
//! info_block = { provider = "claude", model = "claude-sonnet-4-5" }
//! dimensions = { provider = "claude", model = "claude-sonnet-4-5" }
//! processes  = { provider = "local",  model = "qwen2.5-vl-7b" }
//! qc_checklist = { provider = "local", model = "qwen2.5-vl-7b" }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::tasks::Task;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The Anthropic Messages API (`POST /v1/messages`, tool use for the answer).
    Anthropic,
    /// The OpenAI Chat Completions API (`POST /v1/chat/completions`, JSON schema
    /// response format).
    Openai,
    /// A server speaking the OpenAI format at its own base URL (vLLM, Ollama,
    /// llama.cpp server); the key is optional.
    OpenaiCompatible,
}

impl Kind {
    fn default_base_url(self) -> Option<&'static str> {
        match self {
            Kind::Anthropic => Some("https://api.anthropic.com"),
            Kind::Openai => Some("https://api.openai.com"),
            Kind::OpenaiCompatible => None,
        }
    }

    /// The longest image side the provider takes without downscaling it itself.
    fn default_max_image_side(self) -> u32 {
        match self {
            Kind::Anthropic => 1568,
            Kind::Openai | Kind::OpenaiCompatible => 2048,
        }
    }
}

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(key: impl Into<String>) -> Secret {
        Secret(key.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

/// One provider, as the file gives it (keys resolved into [`Provider`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    kind: Kind,
    base_url: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    #[serde(default = "defaults::concurrency")]
    max_concurrency: usize,
    #[serde(default = "defaults::rpm")]
    requests_per_minute: u32,
    #[serde(default = "defaults::timeout")]
    timeout_secs: f64,
    #[serde(default = "defaults::retries")]
    max_retries: u32,
    #[serde(default = "defaults::backoff")]
    backoff_base_secs: f64,
    #[serde(default = "defaults::max_tokens")]
    max_tokens: u32,
    max_image_side: Option<u32>,
    #[serde(default)]
    input_usd_per_mtok: f64,
    #[serde(default)]
    output_usd_per_mtok: f64,
}

mod defaults {
    pub fn concurrency() -> usize {
        4
    }
    pub fn rpm() -> u32 {
        60
    }
    pub fn timeout() -> f64 {
        60.0
    }
    pub fn retries() -> u32 {
        4
    }
    pub fn backoff() -> f64 {
        1.0
    }
    pub fn max_tokens() -> u32 {
        4096
    }
}

/// One provider, ready to call.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: Kind,
    /// Without a trailing slash; the API path is appended.
    pub base_url: String,
    pub api_key: Secret,
    pub max_concurrency: usize,
    pub requests_per_minute: u32,
    /// Per request.
    pub timeout_secs: f64,
    /// Retries after the first try, on 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff; doubled per retry, with full jitter, capped at 30 s.
    pub backoff_base_secs: f64,
    pub max_tokens: u32,
    /// Longest side of the page image sent, pixels.
    pub max_image_side: u32,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
}

impl Provider {
    /// A provider with the defaults (tests and the environment shortcut).
    pub fn new(
        name: &str,
        kind: Kind,
        base_url: Option<&str>,
        api_key: Secret,
    ) -> Result<Provider, String> {
        let base_url = base_url
            .or(kind.default_base_url())
            .ok_or_else(|| {
                format!("vl provider {name}: an openai-compatible provider needs base_url")
            })?
            .trim_end_matches('/')
            .to_string();
        Ok(Provider {
            name: name.into(),
            kind,
            base_url,
            api_key,
            max_concurrency: defaults::concurrency(),
            requests_per_minute: defaults::rpm(),
            timeout_secs: defaults::timeout(),
            max_retries: defaults::retries(),
            backoff_base_secs: defaults::backoff(),
            max_tokens: defaults::max_tokens(),
            max_image_side: kind.default_max_image_side(),
            input_usd_per_mtok: 0.0,
            output_usd_per_mtok: 0.0,
        })
    }
}

/// Which provider and model answer a task.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub provider: String,
    pub model: String,
}

/// The worker's `vl` settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub providers: BTreeMap<String, Provider>,
    pub tasks: BTreeMap<Task, Route>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: BTreeMap<String, ProviderFile>,
    #[serde(default)]
    tasks: BTreeMap<Task, Route>,
}

impl Config {
    /// No provider: every job is skipped.
    pub fn none() -> Config {
        Config::default()
    }

    /// One provider and model for every task.
    pub fn single(provider: Provider, model: &str) -> Config {
        let route = Route {
            provider: provider.name.clone(),
            model: model.into(),
        };
        Config {
            tasks: Task::ALL.iter().map(|t| (*t, route.clone())).collect(),
            providers: [(provider.name.clone(), provider)].into_iter().collect(),
        }
    }

    pub fn is_configured(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// From the environment (see the module docs).
    ///
    /// # Errors
    /// A message naming the variable or file that is wrong (never a key's value).
    pub fn from_env() -> Result<Config, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(path) = var("DRAWPIPE_VL_CONFIG") {
            return Config::from_file(Path::new(&path));
        }
        let Some(kind) = var("DRAWPIPE_VL_PROVIDER") else {
            return Ok(Config::none());
        };
        let kind: Kind =
            serde_json::from_value(serde_json::Value::String(kind.clone())).map_err(|_| {
                format!(
                    "DRAWPIPE_VL_PROVIDER={kind}: expected anthropic, openai or openai-compatible"
                )
            })?;
        let model = var("DRAWPIPE_VL_MODEL")
            .ok_or("DRAWPIPE_VL_PROVIDER is set but DRAWPIPE_VL_MODEL is not")?;
        let key = match (var("DRAWPIPE_VL_API_KEY"), var("DRAWPIPE_VL_API_KEY_FILE")) {
            (Some(k), _) => Secret::new(k.trim()),
            (None, Some(f)) => read_key_file(&f)?,
            (None, None) => Secret::default(),
        };
        let provider = Provider::new("default", kind, var("DRAWPIPE_VL_BASE_URL").as_deref(), key)?;
        Config::single(provider, &model).checked()
    }

    /// From a TOML file (see the module docs).
    ///
    /// # Errors
    /// The file cannot be read or parsed, or names what it does not define.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("DRAWPIPE_VL_CONFIG {}: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| format!("DRAWPIPE_VL_CONFIG {}: {e}", path.display()))
    }

    /// # Errors
    /// As [`Config::from_file`].
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut providers = BTreeMap::new();
        for (name, p) in file.providers {
            let key = match (&p.api_key_env, &p.api_key_file) {
                (Some(var), _) => Secret::new(
                    std::env::var(var)
                        .map_err(|_| {
                            format!("provider {name}: environment variable {var} is not set")
                        })?
                        .trim(),
                ),
                (None, Some(f)) => read_key_file(f)?,
                (None, None) => Secret::default(),
            };
            let mut provider = Provider::new(&name, p.kind, p.base_url.as_deref(), key)?;
            provider.max_concurrency = p.max_concurrency.max(1);
            provider.requests_per_minute = p.requests_per_minute.max(1);
            provider.timeout_secs = p.timeout_secs;
            provider.max_retries = p.max_retries;
            provider.backoff_base_secs = p.backoff_base_secs;
            provider.max_tokens = p.max_tokens;
            provider.max_image_side = p.max_image_side.unwrap_or(provider.max_image_side);
            provider.input_usd_per_mtok = p.input_usd_per_mtok;
            provider.output_usd_per_mtok = p.output_usd_per_mtok;
            providers.insert(name, provider);
        }
        Config {
            providers,
            tasks: file.tasks,
        }
        .checked()
    }

    /// Every task names a defined provider; hosted providers have a key.
    fn checked(self) -> Result<Config, String> {
        for (task, route) in &self.tasks {
            let p = self.providers.get(&route.provider).ok_or_else(|| {
                format!(
                    "task {task} names provider {}, which is not defined",
                    route.provider
                )
            })?;
            if p.api_key.is_empty() && p.kind != Kind::OpenaiCompatible {
                return Err(format!(
                    "provider {} ({:?}) has no API key (api_key_env, api_key_file, or DRAWPIPE_VL_API_KEY)",
                    p.name, p.kind
                ));
            }
            if !(p.timeout_secs > 0.0 && p.timeout_secs.is_finite()) {
                return Err(format!(
                    "provider {}: timeout_secs must be positive",
                    p.name
                ));
            }
        }
        Ok(self)
    }
}

fn read_key_file(path: &str) -> Result<Secret, String> {
    let key = std::fs::read_to_string(path).map_err(|e| format!("API key file {path}: {e}"))?;
    Ok(Secret::new(key.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_routes_tasks_to_providers_and_refuses_undefined_ones() {
        let c = Config::from_toml(
            r#"
            [providers.local]
            kind = "openai-compatible"
            base_url = "http://127.0.0.1:9/"
            requests_per_minute = 10
            [tasks]
            info_block = { provider = "local", model = "m" }
            "#,
        )
        .unwrap();
        assert_eq!(c.providers["local"].base_url, "http://127.0.0.1:9");
        assert_eq!(c.providers["local"].requests_per_minute, 10);
        assert_eq!(c.tasks[&Task::InfoBlock].model, "m");
        let err =
            Config::from_toml("[tasks]\ninfo_block = { provider = \"nowhere\", model = \"m\" }")
                .unwrap_err();
        assert!(err.contains("nowhere"), "{err}");
        let err = Config::from_toml(
            "[providers.a]\nkind = \"openai\"\n[tasks]\ndimensions = { provider = \"a\", model = \"m\" }",
        )
        .unwrap_err();
        assert!(err.contains("no API key"), "{err}");
    }

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("sk-very-secret");
        assert!(!format!("{s} {s:?}").contains("very-secret"));
    }
}
