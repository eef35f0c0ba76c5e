//! Broker access shared by every process: connecting (and reconnecting, [`Broker`]),
//! declaring the topology idempotently, and the outbox relay.
//!
//! The relay is the only publisher of work: it takes committed `outbox` rows
//! (`FOR UPDATE SKIP LOCKED`, so several relays share the table), publishes them with
//! publisher confirms, and deletes them in the same transaction only once every
//! confirm is an ack. A crash between publish and commit republishes; consumers are
//! idempotent, so nothing is lost and nothing is done twice.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use sqlx::{PgPool, Row};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::stage::Stage;
use crate::topology::*;

/// Connects to RabbitMQ on the current tokio runtime.
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    Connection::connect(url, properties(name)).await
}

fn properties(name: &str) -> ConnectionProperties {
    let mut props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    props
        .client_properties
        .insert("product".into(), AMQPValue::LongString("drawpipe".into()));
    props
}

/// A process's broker connection, reopened whenever it is lost.
///
/// The connection comes from a `deadpool-lapin` pool of one: the pool hands back the
/// open connection, and replaces one that is no longer open (its recycle check) with a
/// fresh one. [`Broker::supervise`] declares the topology on it, then runs a session
/// (open channels, consume and relay) on it; when the session ends because the broker
/// went away, it waits (exponential backoff with jitter), reconnects and runs the
/// session again.
/// Nothing exits on a broker restart: committed work waits in the outbox, unacked
/// deliveries return to their queues, and claims make redelivered work idempotent.
#[derive(Clone)]
pub struct Broker {
    pool: deadpool_lapin::Pool,
    state: Arc<BrokerState>,
    /// The URL without its password, for messages.
    shown: String,
}

#[derive(Default)]
struct BrokerState {
    up: AtomicBool,
    reconnects: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Backoff between reconnection attempts: doubles from `FIRST` to `MAX`; each wait is
/// drawn between half and all of it (jitter), so a fleet does not reconnect in step.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A session that lasted this long resets the backoff.
const BACKOFF_RESET: Duration = Duration::from_secs(30);

impl Broker {
    /// A broker handle for `url`; connects lazily (the first session).
    ///
    /// # Errors
    /// Only when the pool cannot be built (never for a well-formed configuration).
    pub fn new(url: &str, name: &str) -> Result<Self, String> {
        let manager = deadpool_lapin::Manager::new(url, properties(name));
        let pool = deadpool_lapin::Pool::builder(manager)
            .max_size(1)
            .runtime(deadpool_lapin::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| format!("cannot build the broker connection pool: {e}"))?;
        Ok(Broker {
            pool,
            state: Arc::new(BrokerState::default()),
            shown: crate::redact::url(url),
        })
    }

    /// Whether a session is running on an open connection now.
    pub fn is_up(&self) -> bool {
        self.state.up.load(Ordering::Relaxed)
    }

    /// Why the broker is down (the last connection or session error), when it is.
    pub fn down_reason(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        let last = self.state.last_error.lock().ok().and_then(|e| e.clone());
        Some(last.unwrap_or_else(|| format!("not connected to RabbitMQ at {} yet", self.shown)))
    }

    /// How many times a lost connection was reopened.
    pub fn reconnects(&self) -> u64 {
        self.state.reconnects.load(Ordering::Relaxed)
    }

    /// Runs `session` on an open connection until `shutdown`, reconnecting after each
    /// loss. `session` returns `Ok` when it ended because of `shutdown`, `Err` when the
    /// broker (or its channel) went away. Returns once `shutdown` fires.
    pub async fn supervise<F, Fut>(&self, what: &str, shutdown: CancellationToken, mut session: F)
    where
        F: FnMut(Session) -> Fut,
        Fut: Future<Output = anyhow_like::Result>,
    {
        let mut backoff = BACKOFF_FIRST;
        let mut sessions = 0u64;
        while !shutdown.is_cancelled() {
            let started = Instant::now();
            let outcome = match self.open().await {
                Ok(conn) => {
                    sessions += 1;
                    if sessions > 1 {
                        self.state.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%what, broker = %self.shown, "broker connection reopened");
                    }
                    self.state.up.store(true, Ordering::Relaxed);
                    let r = session(conn.clone()).await;
                    self.state.up.store(false, Ordering::Relaxed);
                    if r.is_ok() || shutdown.is_cancelled() {
                        let _ = conn.close(200, "shutting down").await;
                        return;
                    }
                    r
                }
                Err(e) => Err(e),
            };
            let Err(e) = outcome else { continue };
            let why = format!("RabbitMQ at {}: {e}", self.shown);
            tracing::warn!(%what, error = %why, retry_in_ms = backoff.as_millis() as u64, "broker unavailable; reconnecting");
            if let Ok(mut last) = self.state.last_error.lock() {
                *last = Some(why);
            }
            if started.elapsed() >= BACKOFF_RESET {
                backoff = BACKOFF_FIRST;
            }
            let wait = backoff.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// The pool's connection (checked open), or a new one when the last was lost, with
    /// the topology declared on it: the broker counts as up (`/readyz`) only once every
    /// queue exists, so nothing published after that lands on a queue not yet declared
    /// (the default exchange drops such a message). The session holds the connection;
    /// once every handle is dropped it returns to the pool.
    async fn open(&self) -> anyhow_like::Result<Session> {
        let obj = self.pool.get().await.map_err(|e| match e {
            deadpool_lapin::PoolError::Backend(e) => e.to_string(),
            other => other.to_string(),
        })?;
        let setup = obj.create_channel().await?;
        declare_topology(&setup).await?;
        let _ = setup.close(200, "topology declared").await;
        Ok(Arc::new(obj))
    }
}

/// The connection a [`Broker::supervise`] session runs on (derefs to
/// [`lapin::Connection`]). Hand channels, not this, to spawned tasks: the pool gets
/// the connection back only when every handle is gone.
pub type Session = Arc<deadpool_lapin::Connection>;

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

/// Header `name` of a message as text, whatever AMQP type the producer chose.
pub fn header_text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    Some(match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        _ => return None,
    })
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

/// Arguments of a work queue: quorum, delivery limit, dead-lettering.
fn quorum_args() -> FieldTable {
    table(&[
        ("x-queue-type", text("quorum")),
        ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
        ("x-dead-letter-exchange", text(DEAD_LETTER_EXCHANGE)),
    ])
}

/// Declares exchanges, queues and bindings. Idempotent; [`Broker`] calls it on every
/// connection it opens, before a session runs.
async fn declare_topology(ch: &Channel) -> lapin::Result<()> {
    let ex = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        EVENTS_EXCHANGE,
        ExchangeKind::Topic,
        ex,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        DELAY_EXCHANGE,
        ExchangeKind::Topic,
        ex,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        RETRY_EXCHANGE,
        ExchangeKind::Topic,
        ex,
        FieldTable::default(),
    )
    .await?;
    ch.exchange_declare(
        DEAD_LETTER_EXCHANGE,
        ExchangeKind::Fanout,
        ex,
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        DEAD_LETTER_QUEUE,
        durable(),
        table(&[("x-queue-type", text("quorum"))]),
    )
    .await?;
    ch.queue_bind(
        DEAD_LETTER_QUEUE,
        DEAD_LETTER_EXCHANGE,
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(INTAKE_QUEUE, durable(), quorum_args())
        .await?;
    for stage in Stage::ALL {
        for (q, key) in [
            (stage_queue(stage), format!("*.{}", stage.name())),
            (
                interactive_queue(stage),
                format!("*.{}{INTERACTIVE_SUFFIX}", stage.name()),
            ),
        ] {
            ch.queue_declare(&q, durable(), quorum_args()).await?;
            ch.queue_bind(
                &q,
                RETRY_EXCHANGE,
                &key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    for (tier, delay) in DELAY_TIERS {
        let q = delay_queue(tier);
        let args = table(&[
            (
                "x-message-ttl",
                AMQPValue::LongLongInt(delay.as_millis() as i64),
            ),
            ("x-dead-letter-exchange", text(RETRY_EXCHANGE)),
        ]);
        ch.queue_declare(&q, durable(), args).await?;
        // `#`: `<tier>.<stage>` and `<tier>.<stage>.interactive` (a broker declared
        // before interactive queues keeps its `<tier>.*` binding too: harmless).
        ch.queue_bind(
            &q,
            DELAY_EXCHANGE,
            &format!("{tier}.#"),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    Ok(())
}

/// Starts a manual-ack consumer on `queue` with a per-consumer prefetch (quorum
/// queues refuse a global one).
pub async fn consume(
    ch: &Channel,
    queue: &str,
    tag: &str,
    prefetch: u16,
) -> lapin::Result<Consumer> {
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    ch.basic_consume(
        queue,
        tag,
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// A consumer that can deliver no more: the channel or connection is gone.
#[derive(Debug, thiserror::Error)]
#[error("consumer of {queue} {why}")]
pub struct ConsumerLost {
    pub queue: String,
    pub why: String,
}

/// The next delivery, or `Ok(None)` once `shutdown` fires.
///
/// # Errors
/// [`ConsumerLost`] when the consumer failed or the broker closed it.
pub async fn next_delivery(
    consumer: &mut Consumer,
    queue: &str,
    shutdown: &CancellationToken,
) -> Result<Option<Delivery>, ConsumerLost> {
    let lost = |why: String| ConsumerLost {
        queue: queue.to_string(),
        why,
    };
    tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        d = consumer.next() => match d {
            Some(Ok(d)) => Ok(Some(d)),
            Some(Err(e)) => Err(lost(format!("failed: {e}"))),
            None if shutdown.is_cancelled() => Ok(None),
            None => Err(lost("was closed by the broker".into())),
        },
    }
}

/// Persistent JSON message properties.
pub fn json_properties() -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
}

/// Publishes committed outbox rows; see the module docs. One relay per process; each
/// broker session runs it on that session's channel ([`OutboxRelay::run`]).
#[derive(Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    wake: Arc<Notify>,
    batch: i64,
    poll: Duration,
}

impl OutboxRelay {
    /// `poll` bounds how long a row written by another process (or left by a crashed
    /// one) waits.
    pub fn new(pool: PgPool, poll: Duration) -> Self {
        OutboxRelay {
            pool,
            wake: Arc::new(Notify::new()),
            batch: 500,
            poll,
        }
    }

    /// Wakes the relay now (after a commit that wrote outbox rows).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Publishes on `channel` (switched to confirm mode) until `shutdown`, then
    /// publishes what is committed and returns `Ok`.
    ///
    /// # Errors
    /// When the channel is lost: the rows stay in the outbox for the next session.
    pub async fn run(self, channel: Channel, shutdown: CancellationToken) -> anyhow_like::Result {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        loop {
            match self.drain(&channel).await {
                Ok(_) => {}
                Err(e) => {
                    if !channel.status().connected() {
                        return Err(format!("outbox relay: the channel is lost: {e}").into());
                    }
                    tracing::warn!(error = %e, "outbox relay: publish failed; will retry");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = self.drain(&channel).await;
                    return Ok(());
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Publishes every committed row, batch by batch. Returns how many.
    pub async fn drain(&self, channel: &Channel) -> anyhow_like::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.publish_batch(channel).await?;
            total += n;
            if (n as i64) < self.batch {
                return Ok(total);
            }
        }
    }

    async fn publish_batch(&self, channel: &Channel) -> anyhow_like::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, exchange, routing_key, payload::text",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut confirms = Vec::with_capacity(rows.len());
        let mut spans = Vec::new();
        for r in &rows {
            let id: i64 = r.get(0);
            let exchange: String = r.get(1);
            let key: String = r.get(2);
            let payload: String = r.get(3);
            let mut props =
                json_properties().with_message_id(ShortString::from(format!("outbox-{id}")));
            if let Some(tp) = traceparent(&payload) {
                // With OpenTelemetry exporting, the publish is a span of its own
                // (ended when the batch is confirmed) and the header names it.
                let (tp, span) = crate::logging::otel::publish_span(tp);
                spans.extend(span);
                props = props.with_headers(table(&[(crate::trace::HEADER, text(&tp.to_string()))]));
            }
            confirms.push(
                channel
                    .basic_publish(
                        &exchange,
                        &key,
                        BasicPublishOptions::default(),
                        payload.as_bytes(),
                        props,
                    )
                    .await?,
            );
        }
        for c in futures::future::join_all(confirms).await {
            match c? {
                Confirmation::Ack(_) | Confirmation::NotRequested => {}
                Confirmation::Nack(_) => return Err(
                    "the broker refused (nacked) a publish; the outbox rows stay for the next try"
                        .into(),
                ),
            }
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}

/// The `traceparent` of an outbox message: the span of its job's trace that
/// publishing it starts (a stage message's stage and attempt; an event's kind).
fn traceparent(payload: &str) -> Option<crate::trace::TraceParent> {
    #[derive(serde::Deserialize)]
    struct Traced {
        job_id: crate::JobId,
        #[serde(default)]
        stage: Option<String>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        attempt: u32,
    }
    let t: Traced = serde_json::from_str(payload).ok()?;
    let what = t.stage.or(t.kind).unwrap_or_default();
    Some(crate::trace::TraceParent::for_message(
        t.job_id, &what, t.attempt,
    ))
}

/// A boxed error for the relay's loop (core stays free of anyhow).
pub mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    pub type Result<T = ()> = std::result::Result<T, Error>;
}
