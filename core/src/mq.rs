//! Broker access shared by every process: connecting, declaring the topology
//! idempotently, and the outbox relay.
//!
//! The relay is the only publisher of work: it takes committed `outbox` rows
//! (`FOR UPDATE SKIP LOCKED`, so several relays share the table), publishes them with
//! publisher confirms, and deletes them in the same transaction only once every
//! confirm is an ack. A crash between publish and commit republishes; consumers are
//! idempotent, so nothing is lost and nothing is done twice.

use std::sync::Arc;
use std::time::Duration;

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
    let mut props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(name.into());
    props
        .client_properties
        .insert("product".into(), AMQPValue::LongString("drawpipe".into()));
    Connection::connect(url, props).await
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
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

/// Declares exchanges, queues and bindings. Idempotent; every process calls it at start.
pub async fn declare_topology(ch: &Channel) -> lapin::Result<()> {
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
        let q = stage_queue(stage);
        ch.queue_declare(&q, durable(), quorum_args()).await?;
        ch.queue_bind(
            &q,
            RETRY_EXCHANGE,
            &format!("*.{}", stage.name()),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
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
        ch.queue_bind(
            &q,
            DELAY_EXCHANGE,
            &format!("{tier}.*"),
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

/// Publishes committed outbox rows; see the module docs.
#[derive(Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    channel: Channel,
    wake: Arc<Notify>,
    batch: i64,
    poll: Duration,
}

impl OutboxRelay {
    /// `channel` is switched to confirm mode. `poll` bounds how long a row written by
    /// another process (or left by a crashed one) waits.
    pub async fn new(pool: PgPool, channel: Channel, poll: Duration) -> lapin::Result<Self> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(OutboxRelay {
            pool,
            channel,
            wake: Arc::new(Notify::new()),
            batch: 500,
            poll,
        })
    }

    /// Wakes the relay now (after a commit that wrote outbox rows).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown`; publishes what is committed before returning.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow_like::Result {
        loop {
            match self.drain().await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: publish failed; will retry");
                    if !self.channel.status().connected() {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = self.drain().await;
                    return Ok(());
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Publishes every committed row, batch by batch. Returns how many.
    pub async fn drain(&self) -> anyhow_like::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.publish_batch().await?;
            total += n;
            if (n as i64) < self.batch {
                return Ok(total);
            }
        }
    }

    async fn publish_batch(&self) -> anyhow_like::Result<usize> {
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
        for r in &rows {
            let id: i64 = r.get(0);
            let exchange: String = r.get(1);
            let key: String = r.get(2);
            let payload: String = r.get(3);
            let props =
                json_properties().with_message_id(ShortString::from(format!("outbox-{id}")));
            confirms.push(
                self.channel
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

/// A boxed error for the relay's loop (core stays free of anyhow).
pub mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    pub type Result<T = ()> = std::result::Result<T, Error>;
}
