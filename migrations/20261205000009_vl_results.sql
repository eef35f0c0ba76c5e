-- The `vl` stage (workers/src/stages/vl): one row per task asked of a
-- vision-language provider, with the validated answer, every raw answer text, the
-- requests made, the tokens used and their cost. A key is never stored.
CREATE TABLE vl_results (
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task          text NOT NULL,
    provider      text NOT NULL,
    model         text NOT NULL,
    status        text NOT NULL,
    answer        jsonb,
    raw           jsonb NOT NULL,
    requests      integer NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd      double precision NOT NULL,
    error         text,
    PRIMARY KEY (job_id, task)
);
