-- Corrections a person made to what was read (PATCH /v1/jobs/{id}/dimensions/{n},
-- the web viewer): the reading before and the fields after, who (the key's name)
-- and when. The job's report and its `dimensions` row show the corrected values;
-- the reading stays here (and in the report's `correction.original`).
CREATE TABLE corrections (
    id            bigserial PRIMARY KEY,
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    item          text NOT NULL,
    item_index    integer NOT NULL,
    original      jsonb NOT NULL,
    corrected     jsonb NOT NULL,
    corrected_by  text NOT NULL,
    corrected_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX corrections_by_job ON corrections (job_id, item_index);
