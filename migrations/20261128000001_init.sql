-- drawpipe schema, version 1. A public interface: see migrations/README.md.

CREATE TABLE drawings (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type  text NOT NULL,
    size_bytes  bigint NOT NULL CHECK (size_bytes >= 0),
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    key_prefix    text NOT NULL,
    key_sha256    text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

CREATE TABLE jobs (
    id                uuid PRIMARY KEY,
    drawing_sha256    text NOT NULL REFERENCES drawings (sha256),
    filename          text,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'partial', 'failed', 'cancelled')),
    requested_stages  text[] NOT NULL,
    stages            text[] NOT NULL,
    options           jsonb NOT NULL DEFAULT '{}'::jsonb,
    priority          smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    idempotency_key   text,
    api_key_id        bigint REFERENCES api_keys (id),
    source            text NOT NULL CHECK (source IN ('http', 'amqp')),
    error             text,
    report            jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_created_at ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_created_at ON jobs (status, created_at DESC, id DESC);

CREATE TABLE stage_runs (
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    stage        text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    attempts     integer NOT NULL DEFAULT 0,
    worker       text,
    device       text,
    queued_at    timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    duration_ms  double precision,
    output       jsonb,
    error        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, stage)
);
CREATE INDEX stage_runs_active ON stage_runs (updated_at) WHERE status IN ('queued', 'running');

CREATE TABLE pages (
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_index   integer NOT NULL CHECK (page_index >= 0),
    width        integer NOT NULL,
    height       integer NOT NULL,
    dpi          real,
    raster_png   bytea NOT NULL,
    PRIMARY KEY (job_id, page_index)
);

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    job_id       uuid,
    exchange     text NOT NULL,
    routing_key  text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW job_summary AS
SELECT j.id AS job_id,
       j.status,
       j.source,
       j.filename,
       d.media_type,
       d.size_bytes,
       j.stages,
       j.priority,
       j.created_at,
       j.started_at,
       j.finished_at,
       round((extract(epoch FROM (j.finished_at - j.created_at)) * 1000)::numeric, 1) AS total_ms,
       (SELECT count(*) FROM pages p WHERE p.job_id = j.id) AS page_count,
       (SELECT count(*) FROM stage_runs s WHERE s.job_id = j.id AND s.status = 'succeeded') AS stages_succeeded,
       (SELECT count(*) FROM stage_runs s WHERE s.job_id = j.id AND s.status = 'failed') AS stages_failed,
       (SELECT coalesce(sum(s.attempts), 0) FROM stage_runs s WHERE s.job_id = j.id) AS attempts_total,
       j.error
FROM jobs j
JOIN drawings d ON d.sha256 = j.drawing_sha256;
