//! Jobs submitted by queue producers on the AMQP intake reach `completed`.

use std::time::Duration;

use base64::Engine;
use drawpipe_core::message::IntakeReply;
use drawpipe_tests::{fixture, EnvOptions, TestEnv};
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

use crate::e2e::{assert_completed_rows, DRAWINGS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_jobs_complete_with_rows() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker(&[]).unwrap();
    let conn = drawpipe_core::mq::connect(&env.amqp_url, "tests")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (replies, mut consumer) = reply_queue(&ch).await;
    for (i, (name, _, _)) in DRAWINGS.iter().enumerate() {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let props = BasicProperties::default()
            .with_reply_to(replies.clone())
            .with_correlation_id(ShortString::from(format!("c{i}")));
        // Alternate the two documented forms: JSON with base64, and raw body with headers.
        let (body, props) = if i % 2 == 0 {
            let msg = serde_json::json!({
                "v": 1,
                "drawing_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
                "filename": name,
                "stages": "preprocess,report",
            });
            (
                serde_json::to_vec(&msg).unwrap(),
                props.with_content_type(ShortString::from("application/json")),
            )
        } else {
            let mut headers = FieldTable::default();
            headers.insert(
                "x-drawpipe-stages".into(),
                AMQPValue::LongString(LongString::from("preprocess,report")),
            );
            headers.insert(
                "x-drawpipe-filename".into(),
                AMQPValue::LongString(LongString::from(name.to_string())),
            );
            (
                bytes,
                props
                    .with_content_type(ShortString::from("application/octet-stream"))
                    .with_headers(headers),
            )
        };
        ch.basic_publish(
            "",
            drawpipe_core::topology::INTAKE_QUEUE,
            BasicPublishOptions::default(),
            &body,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let mut ids = std::collections::HashMap::new();
    while ids.len() < DRAWINGS.len() {
        let d = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .expect("intake reply")
            .unwrap()
            .unwrap();
        let reply: IntakeReply = serde_json::from_slice(&d.data).unwrap();
        assert_eq!(reply.error, None);
        let corr = d.properties.correlation_id().as_ref().unwrap().to_string();
        ids.insert(corr, reply.job_id.unwrap().to_string());
    }
    for (i, (_, media, pages)) in DRAWINGS.iter().enumerate() {
        let id = &ids[&format!("c{i}")];
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{body}");
        assert_completed_rows(&env, id, media, pages).await;
    }
    let db = env.db().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE source = 'amqp'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_intake_message_is_answered_with_an_error() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let conn = drawpipe_core::mq::connect(&env.amqp_url, "tests")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    // Ready means the intake queue exists: the default exchange drops a message for a
    // queue not yet declared, and this test starts no worker that would declare it.
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare(
        drawpipe_core::topology::INTAKE_QUEUE,
        passive,
        FieldTable::default(),
    )
    .await
    .expect("the intake queue is declared before /readyz answers ready");
    let (replies, mut consumer) = reply_queue(&ch).await;
    let props = BasicProperties::default()
        .with_reply_to(replies.clone())
        .with_content_type(ShortString::from("application/json"));
    let body = serde_json::json!({"v": 1, "drawing_base64": "aGVsbG8=", "stages": "preprocess"});
    ch.basic_publish(
        "",
        drawpipe_core::topology::INTAKE_QUEUE,
        BasicPublishOptions::default(),
        body.to_string().as_bytes(),
        props,
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(30), consumer.next())
        .await
        .expect("reply")
        .unwrap()
        .unwrap();
    let reply: IntakeReply = serde_json::from_slice(&d.data).unwrap();
    assert_eq!(reply.job_id, None);
    assert!(reply.error.unwrap().contains("unsupported file type"));
}

/// An exclusive, auto-deleted queue for intake replies, and a no-ack consumer of it.
async fn reply_queue(ch: &lapin::Channel) -> (ShortString, lapin::Consumer) {
    let opts = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare("", opts, FieldTable::default())
        .await
        .unwrap();
    let consume = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let consumer = ch
        .basic_consume(q.name().as_str(), "replies", consume, FieldTable::default())
        .await
        .unwrap();
    (q.name().clone(), consumer)
}
