//! `drawpipe submit | status | result | wait`: a small client of the dispatcher's
//! HTTP API.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

pub struct Client {
    http: reqwest::Client,
    api: String,
    key: Option<String>,
}

impl Client {
    pub fn new(api: &str, key: Option<String>) -> Self {
        Client {
            http: reqwest::Client::new(),
            api: api.trim_end_matches('/').to_string(),
            key,
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.api));
        match &self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    async fn json(&self, r: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = r
            .send()
            .await
            .with_context(|| format!("cannot reach the dispatcher at {}", self.api))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error message");
            bail!("dispatcher answered {status}: {msg}");
        }
        Ok(body)
    }

    /// Submits a file; returns the dispatcher's answer (holding `id`).
    pub async fn submit(
        &self,
        file: &Path,
        stages: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Value> {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "drawing".into());
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
        if let Some(s) = stages {
            form = form.text("stages", s.to_string());
        }
        let mut r = self.req(reqwest::Method::POST, "/v1/jobs").multipart(form);
        if let Some(k) = idempotency_key {
            r = r.header("Idempotency-Key", k);
        }
        self.json(r).await
    }

    pub async fn status(&self, id: &str) -> anyhow::Result<Value> {
        self.json(self.req(reqwest::Method::GET, &format!("/v1/jobs/{id}")))
            .await
    }

    pub async fn result(&self, id: &str) -> anyhow::Result<Value> {
        self.json(self.req(reqwest::Method::GET, &format!("/v1/jobs/{id}/result")))
            .await
    }

    /// One page of the jobs holding corrections (`GET /v1/corrections`).
    pub async fn corrected_jobs(
        &self,
        since: Option<&str>,
        cursor: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut q: Vec<(&str, &str)> = vec![("limit", "100")];
        q.extend(since.map(|s| ("since", s)));
        q.extend(cursor.map(|c| ("cursor", c)));
        self.json(self.req(reqwest::Method::GET, "/v1/corrections").query(&q))
            .await
    }

    /// Every dead letter in `state` (open, requeued, discarded or all), following
    /// `next_after` (`GET /v1/dead-letters`).
    pub async fn dead_letters(&self, state: &str) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = vec![("limit", "500"), ("state", state)];
            q.extend(after.as_deref().map(|a| ("after", a)));
            let page = self
                .json(self.req(reqwest::Method::GET, "/v1/dead-letters").query(&q))
                .await?;
            all.extend(page["dead_letters"].as_array().cloned().unwrap_or_default());
            match page["next_after"].as_i64() {
                Some(n) => after = Some(n.to_string()),
                None => return Ok(all),
            }
        }
    }

    /// Requeues or discards dead letter `id` (`POST /v1/dead-letters/{id}/{action}`).
    pub async fn resolve_dead_letter(&self, id: i64, action: &str) -> anyhow::Result<Value> {
        self.json(self.req(
            reqwest::Method::POST,
            &format!("/v1/dead-letters/{id}/{action}"),
        ))
        .await
    }

    /// Page `page` of job `id` as stored, PNG bytes (`GET /v1/jobs/{id}/page.png`).
    pub async fn page_png(&self, id: &str, page: u32) -> anyhow::Result<Vec<u8>> {
        let resp = self
            .req(reqwest::Method::GET, &format!("/v1/jobs/{id}/page.png"))
            .query(&[("page", page)])
            .send()
            .await
            .with_context(|| format!("cannot reach the dispatcher at {}", self.api))?;
        let status = resp.status();
        if !status.is_success() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            bail!(
                "dispatcher answered {status} for page {page} of job {id}: {}",
                body["error"].as_str().unwrap_or("no error message")
            );
        }
        Ok(resp.bytes().await?.to_vec())
    }

    /// Polls until the job is finished; prints each stage's progress to stderr.
    pub async fn wait(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::new();
        loop {
            let s = self.status(id).await?;
            let status = s["status"].as_str().unwrap_or("").to_string();
            let progress: Vec<String> = s["stages"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|st| {
                            format!(
                                "{}={}",
                                st["stage"].as_str().unwrap_or("?"),
                                st["status"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let line = format!("{id}: {status} [{}]", progress.join(" "));
            if line != last {
                eprintln!("{line}");
                last = line;
            }
            if matches!(
                status.as_str(),
                "completed" | "partial" | "failed" | "cancelled"
            ) {
                return Ok(s);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("job {id} is still {status} after {} s", timeout.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
