//! drawpipe's dispatcher: the HTTP API, the AMQP intake consumer, the outbox relay,
//! the reaper and the dead-letter consumer. No inference code lives here.
//!
//! Lifecycle ([`serve`]): open (and migrate) the database, connect to the broker and
//! declare the topology, start the background tasks, then serve HTTP until the
//! shutdown token fires. On shutdown HTTP stops accepting first, the consumers stop,
//! and the relay goes last so that everything committed meanwhile is published.
//!
//! Layout: [`api`] (router and handlers), [`auth`] (bearer keys), [`intake`] (the one
//! `submit` path shared by HTTP and AMQP, plus the intake consumer), [`reaper`],
//! [`deadletter`], [`keys`] (the `keys` subcommands), [`metrics`], [`openapi`],
//! [`error`] (the HTTP error type).

pub mod admission;
pub mod api;
pub mod auth;
pub mod batch;
pub mod corrections;
pub mod deadletter;
pub mod error;
pub mod intake;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod overlay;
pub mod reaper;
pub mod viewer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use drawpipe_core::{db, mq, redact};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/drawpipe";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
pub const DEFAULT_STAGE_TIMEOUT_SECS: u64 = 600;
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 16;
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 120;
pub const DEFAULT_MAX_QUEUE_DEPTH: i64 = 50_000;

/// How often the relay looks for rows written by other processes.
const RELAY_POLL: Duration = Duration::from_millis(250);

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "drawpipe-dispatcher",
    version,
    about = "drawpipe's dispatcher: HTTP API, AMQP intake, outbox relay, reaper"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log lines as `text` (the default) or `json` (one object per line).
    #[arg(
        long,
        env = "DRAWPIPE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: drawpipe_core::logging::LogFormat,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run the background tasks (the default).
    Serve,
    /// Create the database if needed and apply the migrations, then exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// The dispatcher's settings; every flag also reads its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL URL; the database is created when missing.
    /// Default: postgres://postgres@127.0.0.1:5432/drawpipe.
    #[arg(long, env = "DRAWPIPE_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// RabbitMQ URL. Default: amqp://guest:guest@127.0.0.1:5672/%2f.
    #[arg(long, env = "DRAWPIPE_AMQP_URL", default_value = DEFAULT_AMQP_URL, global = true)]
    pub amqp_url: String,
    /// Address to serve HTTP on; port 0 picks a free one. Default: 127.0.0.1:8080.
    #[arg(long, env = "DRAWPIPE_LISTEN", default_value = DEFAULT_LISTEN, global = true)]
    pub listen: String,
    /// Serve /v1 without API keys. Default: false (keys required).
    #[arg(long, env = "DRAWPIPE_NO_AUTH", global = true)]
    pub no_auth: bool,
    /// Largest accepted drawing, in bytes. Default: 67108864 (64 MiB).
    #[arg(long, env = "DRAWPIPE_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES, global = true)]
    pub max_upload_bytes: usize,
    /// Seconds without progress after which the reaper re-drives a stage run. Default: 600.
    #[arg(long, env = "DRAWPIPE_STAGE_TIMEOUT_SECS", default_value_t = DEFAULT_STAGE_TIMEOUT_SECS, global = true)]
    pub stage_timeout_secs: u64,
    /// Size of the PostgreSQL pool. Default: 16.
    #[arg(long, env = "DRAWPIPE_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_DB_MAX_CONNECTIONS, global = true)]
    pub db_max_connections: u32,
    /// `/v1` requests served at once (the event stream aside); one more is answered
    /// 503 with Retry-After. 0: no bound. Default: 256.
    #[arg(long, env = "DRAWPIPE_MAX_CONCURRENT_REQUESTS", default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS, global = true)]
    pub max_concurrent_requests: usize,
    /// Seconds a `/v1` request (the event stream aside) may take, upload included;
    /// then 408. 0: no limit. Default: 120.
    #[arg(long, env = "DRAWPIPE_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS, global = true)]
    pub request_timeout_secs: u64,
    /// Requests a second per API key (a token bucket); over it, 429 with Retry-After.
    /// 0: no limit (the default).
    #[arg(long, env = "DRAWPIPE_RATE_LIMIT", default_value_t = 0, global = true)]
    pub rate_limit: u32,
    /// The bucket's size: requests a key may send at once. Default (0): the rate.
    #[arg(long, env = "DRAWPIPE_RATE_BURST", default_value_t = 0, global = true)]
    pub rate_burst: u32,
    /// When a stage queue holds more queued stage runs than this, submission answers
    /// 503 with Retry-After. 0: no limit. Default: 50000.
    #[arg(long, env = "DRAWPIPE_MAX_QUEUE_DEPTH", default_value_t = DEFAULT_MAX_QUEUE_DEPTH, global = true)]
    pub max_queue_depth: i64,
    /// Apply the migrations at start (the default). `false`: wait until `migrate`
    /// (a migration Job) has; for deployments that migrate once per release.
    #[arg(long, env = "DRAWPIPE_MIGRATE_ON_START", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub migrate_on_start: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DEFAULT_DATABASE_URL.into(),
            amqp_url: DEFAULT_AMQP_URL.into(),
            listen: DEFAULT_LISTEN.into(),
            no_auth: false,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            stage_timeout_secs: DEFAULT_STAGE_TIMEOUT_SECS,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            rate_limit: 0,
            rate_burst: 0,
            max_queue_depth: DEFAULT_MAX_QUEUE_DEPTH,
            migrate_on_start: true,
        }
    }
}

/// Creates the database when missing, opens a pool and applies the migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<PgPool> {
    open_database_with(config, true).await
}

/// [`open_database`]; without `migrate`, waits for the schema instead of migrating.
async fn open_database_with(config: &Config, migrate: bool) -> anyhow::Result<PgPool> {
    db::ensure_database(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot create or reach the database at {}",
                redact::url(&config.database_url)
            )
        })?;
    let pool = db::connect(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("cannot connect to {}", redact::url(&config.database_url)))?;
    db::ensure_schema(&pool, migrate)
        .await
        .context("cannot apply the migrations")?;
    Ok(pool)
}

/// A dispatcher started in the background by [`spawn`].
pub struct Server {
    /// The bound HTTP address.
    pub addr: SocketAddr,
    /// Cancel to shut the dispatcher down.
    pub shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down and waits until everything has stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.handle.await.context("the dispatcher task panicked")?
    }
}

/// Starts [`serve`] on a task and returns once HTTP is listening (use `listen =
/// "127.0.0.1:0"` in tests).
///
/// # Errors
/// Whatever [`serve`] fails with before it listens.
pub async fn spawn(config: Config) -> anyhow::Result<Server> {
    let shutdown = CancellationToken::new();
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(serve(config, shutdown.clone(), Some(tx)));
    match rx.await {
        Ok(addr) => Ok(Server {
            addr,
            shutdown,
            handle,
        }),
        Err(_) => Err(handle
            .await
            .context("the dispatcher task panicked")?
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("the dispatcher stopped before it listened"))),
    }
}

/// Runs the dispatcher until `shutdown` is cancelled (or the broker connection is
/// lost). Sends the bound address on `ready` once HTTP listens.
///
/// # Errors
/// Database or broker unreachable at start, the listen address unusable, or a
/// background task that lost its infrastructure.
pub async fn serve(
    config: Config,
    shutdown: CancellationToken,
    ready: Option<oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let pool = open_database_with(&config, config.migrate_on_start).await?;
    let broker =
        mq::Broker::new(&config.amqp_url, "drawpipe-dispatcher").map_err(|e| anyhow::anyhow!(e))?;
    let relay = mq::OutboxRelay::new(pool.clone(), RELAY_POLL);
    let wake = relay.waker();
    let metrics = Arc::new(metrics::Metrics::default());
    let submitter = intake::Submitter {
        pool: pool.clone(),
        inserter: batch::Inserter::start(pool.clone()),
        wake: wake.clone(),
        metrics: metrics.clone(),
        max_upload_bytes: config.max_upload_bytes,
        limits: drawpipe_core::limits::Limits::from_env()
            .map_err(|e| anyhow::anyhow!("option limits: {e}"))?,
    };

    // `stop` ends HTTP and the consumers. The broker sessions (consumers and relay)
    // have their own token so that the relay drains after HTTP and the consumers stop;
    // a lost broker ends a session, never the process.
    let stop = shutdown.child_token();
    let broker_stop = CancellationToken::new();
    let broker_task = {
        let (broker, stop, broker_stop) = (broker.clone(), stop.clone(), broker_stop.clone());
        let (submitter, pool, wake) = (submitter.clone(), pool.clone(), wake.clone());
        tokio::spawn(async move {
            broker
                .supervise("dispatcher", broker_stop.clone(), |conn| {
                    broker_session(
                        conn,
                        relay.clone(),
                        submitter.clone(),
                        pool.clone(),
                        wake.clone(),
                        stop.clone(),
                        broker_stop.clone(),
                    )
                })
                .await
        })
    };
    let stage_timeout = Duration::from_secs(config.stage_timeout_secs);
    let tasks = vec![fatal_on_error(
        stop.clone(),
        reaper::run(pool.clone(), wake.clone(), stage_timeout, stop.clone()),
    )];
    let admission = Arc::new(admission::Admission::new(admission::Limits {
        max_concurrent_requests: config.max_concurrent_requests,
        rate_limit: config.rate_limit,
        rate_burst: config.rate_burst,
        max_queue_depth: config.max_queue_depth,
    }));
    let depth_task = tokio::spawn(admission.clone().sample_depth(pool.clone(), stop.clone()));

    let state = api::AppState {
        submitter,
        auth: Arc::new(auth::Auth::new(pool.clone(), config.no_auth)),
        broker: Some(broker.clone()),
        shutdown: stop.clone(),
        admission,
        request_timeout: (config.request_timeout_secs > 0)
            .then(|| Duration::from_secs(config.request_timeout_secs)),
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, auth = !config.no_auth, "dispatcher listening");
    if let Some(ready) = ready {
        let _ = ready.send(addr);
    }
    let http = axum::serve(listener, api::router(state))
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    stop.cancel();

    let mut first_error = http.context("the HTTP server failed").err();
    for t in tasks {
        if let Err(e) = t
            .await
            .context("a background task panicked")
            .and_then(|r| r)
        {
            first_error.get_or_insert(e);
        }
    }
    let _ = depth_task.await;
    broker_stop.cancel();
    if let Err(e) = broker_task.await {
        first_error.get_or_insert(anyhow::anyhow!("the broker task panicked: {e}"));
    }
    pool.close().await;
    tracing::info!("dispatcher stopped");
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One broker session, on a connection whose topology [`mq::Broker::supervise`] has
/// declared: consume intake and dead letters and relay the outbox until `stop`
/// (consumers) and `relay_stop` (relay) fire, or until the connection is lost (`Err`:
/// [`mq::Broker::supervise`] reconnects).
async fn broker_session(
    conn: mq::Session,
    relay: mq::OutboxRelay,
    submitter: intake::Submitter,
    pool: PgPool,
    wake: Arc<tokio::sync::Notify>,
    stop: CancellationToken,
    relay_stop: CancellationToken,
) -> mq::anyhow_like::Result {
    let relay_channel = conn.create_channel().await?;
    let intake_channel = conn.create_channel().await?;
    let dead_channel = conn.create_channel().await?;
    drop(conn);
    let metrics = submitter.metrics.clone();
    let mut relay_task = tokio::spawn(relay.run(relay_channel, relay_stop.clone()));
    let consumers = async {
        tokio::try_join!(
            intake::consume(intake_channel, submitter, stop.clone()),
            deadletter::consume(dead_channel, pool, wake, metrics, stop.clone()),
        )
    };
    let consumed = tokio::select! {
        r = consumers => r.map(|_| ()),
        r = &mut relay_task => {
            return match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(format!("the relay task panicked: {e}").into()),
            };
        }
    };
    if let Err(e) = consumed {
        relay_task.abort();
        return Err(format!("{e:#}").into());
    }
    // The consumers stopped for shutdown; the relay drains once `relay_stop` fires.
    match relay_task.await {
        Ok(r) => r,
        Err(e) => Err(format!("the relay task panicked: {e}").into()),
    }
}

fn fatal_on_error(
    stop: CancellationToken,
    fut: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let res = fut.await;
        if let Err(e) = &res {
            tracing::error!(
                error = format!("{e:#}"),
                "background task failed; shutting down"
            );
            stop.cancel();
        }
        res
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_defaults_match_config_default() {
        let cli = Cli::try_parse_from(["drawpipe-dispatcher", "--listen", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config.listen, "127.0.0.1:0");
        assert_eq!(
            cli.config.max_upload_bytes,
            Config::default().max_upload_bytes
        );
    }
}
