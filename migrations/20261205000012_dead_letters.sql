-- Stage messages RabbitMQ dead-lettered (the worker kept dying on them, past the
-- quorum queue's delivery limit), kept for an operator: the run was failed when the
-- message arrived; `drawpipe dead-letters requeue` runs the stage again (the job
-- reopens), `discard` accepts the failure. One row per dead-lettered message.
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    stage        text NOT NULL,
    attempt      integer NOT NULL,
    error        text NOT NULL,
    dead_at      timestamptz NOT NULL DEFAULT now(),
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'requeued', 'discarded')),
    resolved_at  timestamptz,
    resolved_by  text
);
CREATE INDEX dead_letters_by_state ON dead_letters (state, id);
CREATE INDEX dead_letters_by_job ON dead_letters (job_id);
