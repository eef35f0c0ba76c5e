"""Celery baseline for drawpipe-bench: the same two-stage job (preprocess, report)
run by Celery with RabbitMQ as broker and a PostgreSQL result backend.

Env:
  CELERY_BROKER_URL   amqp://guest:guest@127.0.0.1:5672/<vhost>
  CELERY_RESULT_URL   db+postgresql://postgres:postgres@127.0.0.1:5432/<db>
  CELERY_DB_DSN       psycopg2 DSN of the same database (tables jobs, pages)
  CELERY_CONFIRM_PUBLISH  1 (default) = publisher confirms on every publish, 0 = off

Settings (durable, as a team that must not lose jobs would deploy Celery):
  task_acks_late=True            ack after the task ran, so a worker that dies mid-task
                                 has its message redelivered (drawpipe acks after the
                                 stage's rows are committed, too);
  task_acks_on_failure_or_timeout=True  (Celery's default) a task that raised is acked
                                 and its failure stored in the result backend, instead
                                 of being redelivered forever;
  task_reject_on_worker_lost=False (default) a killed child's message is acked, not
                                 requeued in a loop (Celery's documented default);
  worker_prefetch_multiplier=1   one unacked message per child: the setting Celery's
                                 docs recommend with acks_late for fair dispatch;
  task_default_delivery_mode=persistent, durable default queue (Celery's defaults);
  confirm_publish=True           the publisher waits for the broker's ack of each
                                 message, as drawpipe's outbox relay does.
  Serializer json (default); the PNG travels base64-encoded.
"""
import base64
import os

import cv2
import numpy as np
import psycopg2
from celery import Celery
from celery.signals import worker_process_init

BROKER = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
RESULT = os.environ.get(
    "CELERY_RESULT_URL", "db+postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
DSN = os.environ.get(
    "CELERY_DB_DSN", "host=127.0.0.1 port=5432 user=postgres password=postgres dbname=postgres"
)
CONFIRM = os.environ.get("CELERY_CONFIRM_PUBLISH", "1") != "0"

app = Celery("drawpipe_celery_bench", broker=BROKER, backend=RESULT)
app.conf.update(
    task_acks_late=True,
    task_acks_on_failure_or_timeout=True,
    task_reject_on_worker_lost=False,
    worker_prefetch_multiplier=1,
    task_default_delivery_mode="persistent",
    broker_transport_options={"confirm_publish": CONFIRM},
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_extended=False,
    worker_hijack_root_logger=False,
)

# One psycopg2 connection per worker process, opened after the fork.
_conn = None


@worker_process_init.connect
def _open_conn(**_):
    global _conn
    _conn = None
    _db()


def _db():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(DSN)
        _conn.autocommit = True
    return _conn


@app.task(name="bench.preprocess")
def preprocess(job_id, png_bytes_b64):
    data = np.frombuffer(base64.b64decode(png_bytes_b64), dtype=np.uint8)
    gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ValueError(f"job {job_id}: the PNG could not be decoded")
    enhanced = cv2.createCLAHE(3.0, (8, 8)).apply(gray)
    ok, png = cv2.imencode(".png", enhanced, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"job {job_id}: PNG encoding failed")
    h, w = enhanced.shape[:2]
    with _db().cursor() as cur:
        cur.execute(
            "INSERT INTO pages (job_id, page_index, width, height, raster_png) "
            "VALUES (%s, 0, %s, %s, %s) ON CONFLICT (job_id, page_index) DO UPDATE "
            "SET width = EXCLUDED.width, height = EXCLUDED.height, raster_png = EXCLUDED.raster_png",
            (job_id, w, h, psycopg2.Binary(png.tobytes())),
        )
    return {"pages": [{"index": 0, "width": w, "height": h, "png_bytes": int(png.size)}]}


@app.task(name="bench.report")
def report(prev_result, job_id, created_at):
    """Merges the stage results and marks the job done; created_at is the submitter's
    epoch seconds, finished_at the database clock (same machine, same clock)."""
    merged = {"job_id": job_id, "preprocess": prev_result}
    with _db().cursor() as cur:
        cur.execute(
            "INSERT INTO jobs (id, status, created_at, finished_at) "
            "VALUES (%s, 'completed', to_timestamp(%s), clock_timestamp()) "
            "ON CONFLICT (id) DO UPDATE SET status = 'completed', finished_at = clock_timestamp()",
            (job_id, created_at),
        )
    return merged
