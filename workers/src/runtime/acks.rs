//! Acks gathered per channel: one `basic.ack` with `multiple` for a run of settled
//! deliveries, instead of one frame (and one wake-up of lapin's I/O thread) per
//! message.
//!
//! RabbitMQ numbers a channel's deliveries 1, 2, 3, …, and `ack(n, multiple)` settles
//! every delivery of the channel up to `n` that is still unsettled. A worker has
//! several batches of one channel in flight and they finish in any order, so a
//! finished batch is acked only as far as no earlier delivery is still being worked
//! on: the window holds the channel's unsettled tags in order, each marked when its
//! batch is done, and acks the longest done prefix in one frame.
//!
//! Each channel carries a single consumer, so its deliveries are handed out in tag
//! order: a delivery the consumer has not handed out yet has a higher tag than any
//! in the window, and a `multiple` ack never covers it. A delivery rejected or nacked
//! on its own leaves the window after that frame is sent, so no later `multiple` ack
//! covers it either (RabbitMQ would close the channel on a tag it no longer knows).
//! The window's lock is held while a frame is sent, so acks leave in tag order.

use std::collections::VecDeque;

use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use tokio::sync::Mutex;

pub(super) struct AckWindow {
    ch: lapin::Channel,
    /// Unsettled delivery tags in increasing order, each with "done" (ack it).
    tags: Mutex<VecDeque<(u64, bool)>>,
}

impl AckWindow {
    pub fn new(ch: lapin::Channel) -> Self {
        Self {
            ch,
            tags: Mutex::new(VecDeque::new()),
        }
    }

    /// A delivery its channel's consumer handed out (tags arrive in increasing order).
    pub async fn received(&self, tag: u64) {
        self.tags.lock().await.push_back((tag, false));
    }

    /// Marks deliveries done and acks every done one that no unsettled delivery
    /// precedes.
    pub async fn ack(&self, tags: &[u64]) -> lapin::Result<()> {
        let mut w = self.tags.lock().await;
        for t in tags {
            if let Ok(i) = w.binary_search_by_key(t, |e| e.0) {
                w[i].1 = true;
            }
        }
        self.flush(&mut w).await
    }

    /// Rejects one delivery without requeue (it dead-letters).
    pub async fn reject(&self, tag: u64) -> lapin::Result<()> {
        let sent = self
            .ch
            .basic_reject(tag, BasicRejectOptions { requeue: false })
            .await;
        self.settled_alone(tag).await?;
        sent
    }

    /// Returns deliveries to their queue.
    pub async fn requeue(&self, tags: &[u64]) -> lapin::Result<()> {
        let mut sent = Ok(());
        for &t in tags {
            let r = self
                .ch
                .basic_nack(
                    t,
                    BasicNackOptions {
                        requeue: true,
                        multiple: false,
                    },
                )
                .await;
            sent = sent.and(r);
            self.settled_alone(t).await?;
        }
        sent
    }

    /// A delivery settled by a frame of its own leaves the window; what it held back
    /// is acked.
    async fn settled_alone(&self, tag: u64) -> lapin::Result<()> {
        let mut w = self.tags.lock().await;
        if let Ok(i) = w.binary_search_by_key(&tag, |e| e.0) {
            w.remove(i);
        }
        self.flush(&mut w).await
    }

    async fn flush(&self, w: &mut VecDeque<(u64, bool)>) -> lapin::Result<()> {
        let mut last = None;
        while let Some(&(t, true)) = w.front() {
            last = Some(t);
            w.pop_front();
        }
        match last {
            Some(t) => {
                self.ch
                    .basic_ack(t, BasicAckOptions { multiple: true })
                    .await
            }
            None => Ok(()),
        }
    }

    #[cfg(test)]
    pub async fn unsettled(&self) -> Vec<(u64, bool)> {
        self.tags.lock().await.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::BasicProperties;

    use super::*;

    async fn ready(ch: &lapin::Channel, queue: &str) -> u32 {
        ch.queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count()
    }

    /// Against the real broker: a finished delivery is acked only once every earlier
    /// one is settled, rejected and requeued deliveries are never covered by a later
    /// `multiple` ack, and exactly the unsettled ones return when the channel closes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acks_wait_for_earlier_deliveries_and_skip_those_settled_alone() {
        let base = std::env::var("DRAWPIPE_TEST_AMQP")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into());
        let conn = drawpipe_core::mq::connect(&format!("{base}/%2f"), "acks-test")
            .await
            .unwrap();
        let setup = conn.create_channel().await.unwrap();
        let queue = setup
            .queue_declare(
                "",
                // Exclusive: gone with the connection (not auto-delete, which would
                // drop it with its only consumer before the count below).
                QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap()
            .name()
            .to_string();
        for i in 0..6u8 {
            setup
                .basic_publish(
                    "",
                    &queue,
                    BasicPublishOptions::default(),
                    &[i],
                    BasicProperties::default(),
                )
                .await
                .unwrap();
        }
        while ready(&setup, &queue).await < 6 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let ch = conn.create_channel().await.unwrap();
        let mut consumer = drawpipe_core::mq::consume(&ch, &queue, "acks-test", 16)
            .await
            .unwrap();
        let window = AckWindow::new(ch.clone());
        let mut next = async || {
            let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
                .await
                .expect("a delivery")
                .unwrap()
                .unwrap();
            window.received(d.delivery_tag).await;
            d.delivery_tag
        };
        let mut tags = Vec::new();
        for _ in 0..6 {
            tags.push(next().await);
        }
        assert_eq!(tags, [1, 2, 3, 4, 5, 6]);

        // 3 and 4 are done but 1 and 2 are not: nothing is acked yet.
        window.ack(&[3, 4]).await.unwrap();
        assert_eq!(
            window.unsettled().await,
            [
                (1, false),
                (2, false),
                (3, true),
                (4, true),
                (5, false),
                (6, false)
            ]
        );
        // 2 dead-letters (this queue has no dead-letter exchange: it is dropped);
        // 5 goes back to the queue and comes round again as tag 7.
        window.reject(2).await.unwrap();
        window.requeue(&[5]).await.unwrap();
        assert_eq!(next().await, 7);
        // 1 done: 1, 3 and 4 go in one ack, which must not touch 2 or 5.
        window.ack(&[1]).await.unwrap();
        assert_eq!(window.unsettled().await, [(6, false), (7, false)]);

        // An ack of a tag the broker no longer knows would have closed the channel.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            ch.status().connected(),
            "the channel was closed by the broker"
        );
        // Closing the channel returns what is unsettled: 6 and the requeued 5.
        ch.close(200, "done").await.unwrap();
        let mut left = 0;
        for _ in 0..100 {
            left = ready(&setup, &queue).await;
            if left == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left, 2);
    }
}
