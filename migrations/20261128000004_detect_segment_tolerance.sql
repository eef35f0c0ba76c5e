-- Results of the three trained-model stages, written by `report` from their outputs:
-- `detect` symbol detections, `segment` line-work summaries per page, and `tolerance`
-- predictions (one row per job). Geometry in pixels of the page as submitted.

CREATE TABLE detections (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    item_index  integer NOT NULL,
    page_index  integer NOT NULL,
    class_id    integer NOT NULL,
    class_name  text NOT NULL,
    confidence  real NOT NULL,
    x           real NOT NULL,
    y           real NOT NULL,
    width       real NOT NULL,
    height      real NOT NULL,
    PRIMARY KEY (job_id, item_index)
);
CREATE INDEX detections_class ON detections (class_name);

CREATE TABLE segments (
    job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_index      integer NOT NULL,
    components      integer NOT NULL,
    edges           integer NOT NULL,
    average_degree  real NOT NULL,
    contour         integer NOT NULL,
    text            integer NOT NULL,
    dimension       integer NOT NULL,
    PRIMARY KEY (job_id, page_index)
);

CREATE TABLE tolerance_predictions (
    job_id               uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    flatness_mm          double precision NOT NULL,
    cylindricity_mm      double precision NOT NULL,
    position_mm          double precision NOT NULL,
    perpendicularity_mm  double precision NOT NULL,
    manufacturability    double precision NOT NULL,
    difficulty           text NOT NULL,
    assemblability       double precision NOT NULL,
    material             text NOT NULL,
    material_source      text NOT NULL,
    process              text NOT NULL,
    process_source       text NOT NULL,
    features             jsonb NOT NULL,
    assumptions          text[] NOT NULL DEFAULT '{}',
    model_version        text NOT NULL
);
