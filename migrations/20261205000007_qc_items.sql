-- The inspection plan (`tolerance` stage, workers/src/stages/qc.rs): one row per item,
-- in balloon order; GET /v1/jobs/{id}/qc.csv reads it.
CREATE TABLE qc_items (
    job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    item_index      integer NOT NULL,
    balloon         integer NOT NULL,
    characteristic  text NOT NULL,
    raw             text NOT NULL,
    nominal         double precision,
    unit            text NOT NULL,
    tolerance       text NOT NULL,
    lower_limit     double precision,
    upper_limit     double precision,
    method          text NOT NULL,
    sampling        text NOT NULL,
    source          text NOT NULL,
    PRIMARY KEY (job_id, item_index)
);
