//! Calling one provider: the request in its documented format, the answer out of its
//! response, retries with backoff and jitter (honouring `Retry-After`), and the
//! provider's concurrency and request-rate limits, shared by every job of the worker.
//! A key never appears in an error: messages are built from the status and the
//! provider's own error text, with the key cut out should it echo it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::config::{Kind, Provider};
use super::tasks::Task;

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
    }
}

/// One task's outcome against one provider (stored flattened into
/// [`super::TaskResult`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asked {
    /// The validated answer; `None` when the task failed.
    pub answer: Option<Value>,
    /// Every answer text the provider gave, as given (one, or two when asked again).
    pub raw: Vec<String>,
    /// HTTP requests made.
    pub requests: u32,
    /// Whether the first answer was invalid and the model was asked again.
    pub asked_again: bool,
    /// Whether an answer needed local repair (JSON inside prose or a code fence).
    pub repaired: bool,
    pub usage: Usage,
    pub error: Option<String>,
}

enum Failure {
    /// Worth another request, no sooner than `after` when the provider said.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fatal(String),
}

/// A provider with its shared limits.
pub struct Client {
    pub provider: Provider,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    rate: DefaultDirectRateLimiter,
}

impl Client {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(provider: Provider) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(provider.timeout_secs))
            .connect_timeout(Duration::from_secs_f64(provider.timeout_secs.min(10.0)))
            .build()
            .map_err(|e| format!("vl provider {}: {e}", provider.name))?;
        let rpm = NonZeroU32::new(provider.requests_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Client {
            slots: Arc::new(Semaphore::new(provider.max_concurrency.max(1))),
            rate: RateLimiter::direct(Quota::per_minute(rpm)),
            http,
            provider,
        })
    }

    /// Asks `task` about the page image (PNG bytes, base64), validating the answer;
    /// an invalid answer is repaired locally when it only wraps valid JSON in prose,
    /// and otherwise asked again once with what was wrong.
    pub async fn ask(&self, model: &str, task: Task, png_base64: &str) -> Asked {
        let mut out = Asked::default();
        let mut problem: Option<String> = None;
        for round in 0..2 {
            let reply = self
                .request_with_retries(
                    model,
                    task,
                    png_base64,
                    problem.as_deref(),
                    &mut out.requests,
                )
                .await;
            let (text, structured, usage) = match reply {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            };
            out.usage += usage;
            out.raw.push(text.clone());
            let (candidate, repaired) = match structured {
                Some(v) => (Some(v), false),
                None => match serde_json::from_str::<Value>(text.trim()) {
                    Ok(v) => (Some(v), false),
                    Err(_) => (extract_json(&text), true),
                },
            };
            match candidate.map(|v| task.validate(&v)) {
                Some(Ok(v)) => {
                    out.repaired |= repaired;
                    out.answer = Some(v);
                    out.error = None;
                    return out;
                }
                Some(Err(e)) => problem = Some(e),
                None => problem = Some("the answer is not JSON".into()),
            }
            if round == 0 {
                out.asked_again = true;
            }
        }
        out.error = Some(format!(
            "{task}: the answer was invalid twice ({})",
            problem.unwrap_or_default()
        ));
        out
    }

    async fn request_with_retries(
        &self,
        model: &str,
        task: Task,
        image: &str,
        problem: Option<&str>,
        requests: &mut u32,
    ) -> Result<(String, Option<Value>, Usage), String> {
        let p = &self.provider;
        let mut attempt = 0u32;
        loop {
            *requests += 1;
            let result = {
                let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
                self.rate.until_ready().await;
                self.request_once(model, task, image, problem).await
            };
            match result {
                Ok(r) => return Ok(r),
                Err(Failure::Fatal(why)) => return Err(self.redact(&why)),
                Err(Failure::Retry { why, after }) => {
                    if attempt >= p.max_retries {
                        return Err(self.redact(&format!(
                            "provider {} gave up after {} requests: {why}",
                            p.name,
                            attempt + 1
                        )));
                    }
                    let cap = 30.0f64;
                    let backoff = (p.backoff_base_secs * 2f64.powi(attempt as i32)).min(cap);
                    let jittered = rand::rng().random_range(0.0..=backoff.max(0.0));
                    let wait = after.map_or(jittered, |a| a.as_secs_f64().min(120.0).max(jittered));
                    tracing::warn!(provider = %p.name, %task, attempt, wait_s = wait, "vl request will be retried: {}", self.redact(&why));
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// A request that got no answer (timeout, connection, body): worth retrying.
    fn transport(&self, e: &reqwest::Error, what: &str) -> Failure {
        let why = if e.is_timeout() {
            format!("no answer within {} s", self.provider.timeout_secs)
        } else {
            format!("{what}: {}", without_url(e))
        };
        Failure::Retry { why, after: None }
    }

    fn redact(&self, text: &str) -> String {
        let key = self.provider.api_key.expose();
        if key.len() >= 4 {
            text.replace(key, "…")
        } else {
            text.to_string()
        }
    }

    async fn request_once(
        &self,
        model: &str,
        task: Task,
        image: &str,
        problem: Option<&str>,
    ) -> Result<(String, Option<Value>, Usage), Failure> {
        let p = &self.provider;
        let mut prompt = task.prompt().to_string();
        if let Some(problem) = problem {
            prompt.push_str(&format!(
                "\n\nYour previous answer was not valid: {problem}. Answer again with only what the schema allows."
            ));
        }
        let schema = task.schema();
        let request = match p.kind {
            Kind::Anthropic => {
                let body = json!({
                    "model": model,
                    "max_tokens": p.max_tokens,
                    "tools": [{"name": "answer", "description": format!("Record the {task} answer."), "input_schema": schema}],
                    "tool_choice": {"type": "tool", "name": "answer"},
                    "messages": [{"role": "user", "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
                        {"type": "text", "text": prompt},
                    ]}],
                });
                self.http
                    .post(format!("{}/v1/messages", p.base_url))
                    .header("x-api-key", p.api_key.expose())
                    .header("anthropic-version", "2023-06-01")
                    .json(&body)
            }
            Kind::Openai | Kind::OpenaiCompatible => {
                let tokens_field = if p.kind == Kind::Openai {
                    "max_completion_tokens"
                } else {
                    "max_tokens"
                };
                let mut body = json!({
                    "model": model,
                    "messages": [{"role": "user", "content": [
                        {"type": "text", "text": prompt},
                        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{image}")}},
                    ]}],
                    "response_format": {"type": "json_schema", "json_schema": {"name": task.name(), "schema": schema}},
                });
                body[tokens_field] = json!(p.max_tokens);
                let mut req = self
                    .http
                    .post(format!("{}/v1/chat/completions", p.base_url))
                    .json(&body);
                if !p.api_key.is_empty() {
                    req = req.bearer_auth(p.api_key.expose());
                }
                req
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.transport(&e, "request failed"))?;
        let status = response.status();
        let after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| self.transport(&e, "reading the answer failed"))?;
        if !status.is_success() {
            let msg = provider_message(&body);
            let why = format!(
                "provider {} answered HTTP {}: {msg}",
                p.name,
                status.as_u16()
            );
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::Fatal(format!(
                    "provider {} refused the API key (HTTP {}): {msg}",
                    p.name,
                    status.as_u16()
                )),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
                    Failure::Retry { why, after }
                }
                s if s.is_server_error() || s.as_u16() == 529 => Failure::Retry { why, after },
                _ => Failure::Fatal(why),
            });
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| Failure::Retry {
            why: format!("provider {} sent a response that is not JSON: {e}", p.name),
            after: None,
        })?;
        Ok(match p.kind {
            Kind::Anthropic => {
                let usage = Usage {
                    input_tokens: v["usage"]["input_tokens"].as_u64().unwrap_or(0),
                    output_tokens: v["usage"]["output_tokens"].as_u64().unwrap_or(0),
                };
                let blocks = v["content"].as_array().cloned().unwrap_or_default();
                match blocks.iter().find(|b| b["type"] == "tool_use") {
                    Some(b) => (b["input"].to_string(), Some(b["input"].clone()), usage),
                    None => {
                        let text: String = blocks
                            .iter()
                            .filter_map(|b| b["text"].as_str())
                            .collect::<Vec<_>>()
                            .join("\n");
                        (text, None, usage)
                    }
                }
            }
            Kind::Openai | Kind::OpenaiCompatible => {
                let usage = Usage {
                    input_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                    output_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                };
                let message = &v["choices"][0]["message"];
                if let Some(refusal) = message["refusal"].as_str() {
                    return Err(Failure::Fatal(format!(
                        "provider {} refused: {refusal}",
                        p.name
                    )));
                }
                (
                    message["content"].as_str().unwrap_or_default().to_string(),
                    None,
                    usage,
                )
            }
        })
    }
}

/// The provider's own error message (`{"error": {"message": …}}` in both formats),
/// or the start of the body.
fn provider_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// A reqwest error without its URL (which may carry a query-string key).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "the provider");
    }
    s
}

/// `Retry-After` in seconds (an HTTP date is not used by these providers).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The JSON object inside an answer that wraps it in prose or a code fence.
pub fn extract_json(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start)
        .then(|| serde_json::from_str(&text[start..=end]).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_inside_a_fence_or_prose() {
        let v = extract_json("Here you go:\n```json\n{\"a\": 1}\n```\nDone.").unwrap();
        assert_eq!(v["a"], 1);
        assert!(extract_json("no json here").is_none());
    }

    #[test]
    fn the_providers_message_is_taken_from_its_error_body() {
        assert_eq!(
            provider_message(
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#
            ),
            "invalid x-api-key"
        );
    }
}
