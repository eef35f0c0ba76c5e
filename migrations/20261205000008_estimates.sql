-- The cost estimate (`tolerance` stage, workers/src/stages/estimate): one row per
-- quantity priced, with its breakdown (each line: item, amount per part, inputs).
CREATE TABLE estimates (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    quantity    integer NOT NULL,
    unit_price  double precision NOT NULL,
    total       double precision NOT NULL,
    currency    text NOT NULL,
    lines       jsonb NOT NULL,
    PRIMARY KEY (job_id, quantity)
);
