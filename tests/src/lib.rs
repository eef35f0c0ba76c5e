//! Test harness: a private PostgreSQL database and RabbitMQ vhost per environment,
//! the real `drawpipe-dispatcher` and `drawpipe worker` processes, and HTTP helpers.
//!
//! Each [`TestEnv`] owns its database, vhost and processes and removes them on drop,
//! so tests run in parallel without colliding.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

/// Base PostgreSQL URL (without database); env `DRAWPIPE_TEST_PG`, default
/// `postgres://postgres:postgres@127.0.0.1:5432`.
pub fn pg_base() -> String {
    std::env::var("DRAWPIPE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432".into())
}

/// Base AMQP URL (without vhost); env `DRAWPIPE_TEST_AMQP`, default `amqp://guest:guest@127.0.0.1:5672`.
pub fn amqp_base() -> String {
    std::env::var("DRAWPIPE_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into())
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures/drawings").join(name)
}

/// The folder holding the built binaries (`target/debug` or `target/release`, by
/// this test binary's own profile), building them once per test process so they
/// are never stale.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test-binary> or target/<profile>/<bench-binary>
        let mut dir = exe.parent().unwrap().to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let release = dir.ends_with("release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace()).args([
            "build",
            "-q",
            "-p",
            "drawpipe-dispatcher",
            "-p",
            "drawpipe-workers",
            "--bins",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
        dir
    })
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, …), KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    status_kib(
        &std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        field,
    )
}

/// A `kB` field of a `/proc/PID/status` text, KiB.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `rabbitmqctl` (vhost management needs it; the tests run beside the broker).
pub fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .context("cannot run rabbitmqctl")?;
    if !out.status.success() {
        bail!(
            "rabbitmqctl {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A private database + vhost, and the processes started in them.
pub struct TestEnv {
    pub name: String,
    pub database_url: String,
    pub amqp_url: String,
    pub api: String,
    pub api_key: Option<String>,
    dispatcher: Option<Child>,
    workers: Vec<Child>,
    admin_url: String,
    /// The HTTP client of [`TestEnv::http`], for the key it was built with: one
    /// client, so requests reuse its kept-alive connections as a real client's do.
    client: std::sync::Mutex<Option<(Option<String>, reqwest::Client)>>,
}

#[derive(Default)]
pub struct EnvOptions {
    pub auth: bool,
    pub max_upload_bytes: Option<u64>,
    pub release: bool,
    /// Extra environment for the dispatcher (`DRAWPIPE_RATE_LIMIT`, …).
    pub dispatcher_env: Vec<(&'static str, String)>,
    /// Leave the database unmigrated and do not wait for the dispatcher to be ready
    /// (it may be waiting for the schema).
    pub unmigrated: bool,
}

impl TestEnv {
    /// Creates the database and vhost and starts a dispatcher (no workers yet).
    pub async fn start(opts: EnvOptions) -> anyhow::Result<TestEnv> {
        let name = format!(
            "drawpipe_t_{}",
            uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap()
        );
        let admin_url = format!("{}/postgres", pg_base());
        let database_url = format!("{}/{name}", pg_base());
        let vhost = name.clone();
        rabbitmqctl(&["add_vhost", &vhost])?;
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])?;
        let amqp_url = format!("{}/{vhost}", amqp_base());
        let mut env = TestEnv {
            name,
            database_url,
            amqp_url,
            api: String::new(),
            api_key: None,
            dispatcher: None,
            workers: vec![],
            admin_url,
            client: Default::default(),
        };
        if opts.unmigrated {
            // The database exists, empty: `migrate` would create it too.
            let admin = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&env.admin_url)
                .await?;
            sqlx::query(&format!("CREATE DATABASE \"{}\"", env.name))
                .execute(&admin)
                .await?;
        } else {
            env.migrate()?;
        }
        if opts.auth {
            let out = env
                .dispatcher_cmd()
                .args(["keys", "create", "tests"])
                .output()?;
            let stdout = String::from_utf8(out.stdout)?;
            env.api_key = Some(
                stdout
                    .lines()
                    .last()
                    .context("keys create printed nothing")?
                    .trim()
                    .to_string(),
            );
        }
        let port = free_port();
        env.api = format!("http://127.0.0.1:{port}");
        let mut cmd = env.dispatcher_cmd();
        cmd.env("DRAWPIPE_LISTEN", format!("127.0.0.1:{port}"));
        if !opts.auth {
            cmd.env("DRAWPIPE_NO_AUTH", "true");
        }
        if let Some(max) = opts.max_upload_bytes {
            cmd.env("DRAWPIPE_MAX_UPLOAD_BYTES", max.to_string());
        }
        for (k, v) in &opts.dispatcher_env {
            cmd.env(k, v);
        }
        env.dispatcher = Some(cmd.spawn().context("start drawpipe-dispatcher")?);
        if !opts.unmigrated {
            env.wait_ready().await?;
        }
        Ok(env)
    }

    /// Runs `drawpipe-dispatcher migrate` on this environment's database.
    pub fn migrate(&self) -> anyhow::Result<()> {
        let status = self.dispatcher_cmd().arg("migrate").status()?;
        if !status.success() {
            bail!("drawpipe-dispatcher migrate failed");
        }
        Ok(())
    }

    fn base_cmd(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin_dir().join(bin));
        cmd.env("DRAWPIPE_DATABASE_URL", &self.database_url)
            .env("DRAWPIPE_AMQP_URL", &self.amqp_url)
            .env(
                "DRAWPIPE_LOG",
                std::env::var("DRAWPIPE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null());
        cmd
    }

    pub fn dispatcher_cmd(&self) -> Command {
        self.base_cmd("drawpipe-dispatcher")
    }

    /// Starts a worker process with extra arguments (`--stages`, `--batch-max`, …).
    pub fn spawn_worker(&mut self, args: &[&str]) -> anyhow::Result<u32> {
        self.spawn_worker_with_env(args, &[])
    }

    /// Starts a worker process with extra arguments and environment
    /// (`DRAWPIPE_VL_PROVIDER`, …).
    pub fn spawn_worker_with_env(
        &mut self,
        args: &[&str],
        env: &[(&str, String)],
    ) -> anyhow::Result<u32> {
        let mut cmd = self.base_cmd("drawpipe");
        cmd.arg("worker").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("start drawpipe worker")?;
        let pid = child.id();
        self.workers.push(child);
        Ok(pid)
    }

    /// Creates another API key (`keys create NAME [--admin]`); returns the key.
    pub fn create_key(&self, name: &str, admin: bool) -> anyhow::Result<String> {
        let mut cmd = self.dispatcher_cmd();
        cmd.args(["keys", "create", name]);
        if admin {
            cmd.arg("--admin");
        }
        let out = cmd.output()?;
        if !out.status.success() {
            bail!(
                "keys create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?
            .lines()
            .last()
            .context("keys create printed nothing")?
            .trim()
            .to_string())
    }

    /// Whether the dispatcher and every worker started here are still running.
    pub fn all_running(&mut self) -> bool {
        self.workers
            .iter_mut()
            .chain(self.dispatcher.iter_mut())
            .all(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Has the broker close every connection of this environment's vhost (what a
    /// broker restart does to them), without touching other tests' vhosts.
    pub fn close_broker_connections(&self) -> anyhow::Result<()> {
        rabbitmqctl(&[
            "close_all_connections",
            "-p",
            &self.name,
            "drawpipe test: connection closed by the broker",
        ])
    }

    /// Stops one worker as an orchestrator does: SIGTERM, then waits for it to exit
    /// (SIGKILL after `grace`). Returns whether it exited within the grace.
    pub fn stop_worker(&mut self, pid: u32, grace: Duration) -> bool {
        let Some(i) = self.workers.iter().position(|c| c.id() == pid) else {
            return false;
        };
        let mut c = self.workers.remove(i);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Kills one worker with SIGKILL (no chance to ack or clean up).
    pub fn kill_worker(&mut self, pid: u32) {
        if let Some(i) = self.workers.iter().position(|c| c.id() == pid) {
            let mut c = self.workers.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.api)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(Some(status)) = self
                .dispatcher
                .as_mut()
                .map(|c| c.try_wait().ok().flatten())
            {
                bail!("drawpipe-dispatcher exited early: {status}");
            }
            if Instant::now() > deadline {
                bail!("dispatcher not ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.database_url)
            .await
            .expect("connect to test database")
    }

    /// A client sending this environment's key; one per key, shared (cloning a
    /// `reqwest::Client` shares its connection pool).
    pub fn http(&self) -> reqwest::Client {
        let mut cached = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((key, client)) = cached.as_ref() {
            if *key == self.api_key {
                return client.clone();
            }
        }
        let client = self.new_client();
        *cached = Some((self.api_key.clone(), client.clone()));
        client
    }

    fn new_client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(k) = &self.api_key {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {k}").parse().unwrap(),
            );
        }
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap()
    }

    /// POSTs a file as multipart; returns (status, body).
    pub async fn submit_bytes(
        &self,
        bytes: Vec<u8>,
        filename: &str,
        stages: Option<&str>,
        idem: Option<&str>,
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
        if let Some(s) = stages {
            form = form.text("stages", s.to_string());
        }
        let mut req = self
            .http()
            .post(format!("{}/v1/jobs", self.api))
            .multipart(form);
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.expect("POST /v1/jobs");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` of the API (with this environment's key) and returns the body as text.
    pub async fn get_text(&self, path: &str) -> String {
        self.http()
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("read the body")
    }

    /// Submits and expects 202; returns the job id.
    pub async fn submit(&self, bytes: Vec<u8>, filename: &str, stages: &str) -> String {
        let (status, body) = self.submit_bytes(bytes, filename, Some(stages), None).await;
        assert_eq!(status, 202, "submit {filename}: {body}");
        body["id"].as_str().expect("id in 202 body").to_string()
    }

    /// Submits with an `options` JSON form field and expects 202; returns the job id.
    pub async fn submit_with_options(
        &self,
        bytes: Vec<u8>,
        filename: &str,
        stages: &str,
        options: &str,
    ) -> String {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
            )
            .text("stages", stages.to_string())
            .text("options", options.to_string());
        let resp = self
            .http()
            .post(format!("{}/v1/jobs", self.api))
            .multipart(form)
            .send()
            .await
            .expect("POST /v1/jobs");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 202, "submit {filename}: {body}");
        body["id"].as_str().expect("id in 202 body").to_string()
    }

    /// POSTs the bytes as the raw body (`Content-Type: application/octet-stream`,
    /// stages in the query) and expects 202; returns the job id.
    pub async fn submit_raw(&self, bytes: Vec<u8>, stages: &str) -> String {
        let resp = self
            .http()
            .post(format!("{}/v1/jobs?stages={stages}", self.api))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("POST /v1/jobs");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 202, "raw submit: {body}");
        body["id"].as_str().expect("id in 202 body").to_string()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http()
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Polls `/readyz` until it answers `code` or `timeout` passes; returns the last
    /// answer (status, body).
    pub async fn wait_for_readyz(&self, code: u16, timeout: Duration) -> (u16, Value) {
        let (got, body) = wait_for_status(&format!("{}/readyz", self.api), code, timeout).await;
        (
            got,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// Polls `GET /v1/jobs/{id}` until the job is finished; returns its body.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, body) = self.get(&format!("/v1/jobs/{id}")).await;
            assert_eq!(code, 200, "GET job {id}: {body}");
            let s = body["status"].as_str().unwrap_or("");
            if matches!(s, "completed" | "partial" | "failed" | "cancelled") {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} still {s} after {timeout:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for c in self.workers.iter_mut().chain(self.dispatcher.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = rabbitmqctl(&["delete_vhost", &self.name]);
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside or outside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin)
                    .await
                {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&pool)
                            .await;
                }
            });
        })
        .join();
    }
}

/// `GET url`: (status, body); status 0 (and the error as body) when nothing answers,
/// e.g. a process not listening yet.
pub async fn probe(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// Polls [`probe`] until `url` answers `code` or `timeout` passes; returns the last
/// answer.
pub async fn wait_for_status(url: &str, code: u16, timeout: Duration) -> (u16, String) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = probe(url).await;
        if got.0 == code || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port to listen on that no other environment of this test process was given.
///
/// Ports come from below the kernel's ephemeral range (32768 and up), one after
/// another, so neither a parallel test nor an outgoing connection's source port can
/// take the port between this check and the dispatcher's `bind` (a port asked of the
/// kernel with `:0` and released can be handed out again at once: a test then talks
/// to another test's dispatcher). Each process starts at its own offset.
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id() % 400) * 30,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A small grayscale PNG, `w`×`h`, made in code (stored, uncompressed deflate).
pub fn tiny_png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn adler(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &d in data {
            a = (a + d as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            raw.push(((x * 7 + y * 13) as u8).wrapping_add(seed));
        }
    }
    let mut z = vec![0x78, 0x01];
    for (i, block) in raw.chunks(65535).enumerate() {
        let last = (i + 1) * 65535 >= raw.len();
        z.push(last as u8);
        z.extend_from_slice(&(block.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A valid PDF with `n` empty pages, each its own object.
pub fn many_page_pdf(n: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut obj = |out: &mut Vec<u8>, body: String| {
        offsets.push(out.len());
        out.extend_from_slice(body.as_bytes());
    };
    obj(
        &mut out,
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n".into(),
    );
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", i + 3)).collect();
    obj(
        &mut out,
        format!(
            "2 0 obj << /Type /Pages /Kids [{}] /Count {n} >> endobj\n",
            kids.join(" ")
        ),
    );
    for i in 0..n {
        obj(
            &mut out,
            format!(
                "{} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n",
                i + 3
            ),
        );
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", n + 3).as_bytes());
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer << /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            n + 3
        )
        .as_bytes(),
    );
    out
}
