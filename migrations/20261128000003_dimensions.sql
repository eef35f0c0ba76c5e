-- Dimensions, GD&T frames and title blocks read by the `edocr` stage, written by
-- `report` from the stage's output. Geometry in pixels of the page as submitted.

CREATE TABLE dimensions (
    job_id             uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    item_index         integer NOT NULL,
    page_index         integer NOT NULL,
    raw                text NOT NULL,
    kind               text NOT NULL,
    nominal            double precision,
    unit               text,
    upper              double precision,
    lower              double precision,
    fit                text,
    thread             text,
    count              integer,
    reference          boolean NOT NULL DEFAULT false,
    basic              boolean NOT NULL DEFAULT false,
    chamfer_angle      double precision,
    roughness          text,
    general_tolerance  text,
    confidence         real,
    polygon            real[] NOT NULL CHECK (cardinality(polygon) = 8),
    x                  real NOT NULL,
    y                  real NOT NULL,
    width              real NOT NULL,
    height             real NOT NULL,
    PRIMARY KEY (job_id, item_index)
);
CREATE INDEX dimensions_kind ON dimensions (kind);

CREATE TABLE gdt_frames (
    job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    item_index      integer NOT NULL,
    page_index      integer NOT NULL,
    raw             text NOT NULL,
    characteristic  text NOT NULL,
    symbol          text,
    tolerance       double precision,
    diameter_zone   boolean NOT NULL DEFAULT false,
    modifiers       text[] NOT NULL DEFAULT '{}',
    datums          text[] NOT NULL DEFAULT '{}',
    confidence      real,
    polygon         real[] NOT NULL CHECK (cardinality(polygon) = 8),
    x               real NOT NULL,
    y               real NOT NULL,
    width           real NOT NULL,
    height          real NOT NULL,
    PRIMARY KEY (job_id, item_index)
);

CREATE TABLE title_blocks (
    job_id             uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    drawing_number     text,
    title              text,
    material           text,
    scale              text,
    sheet              text,
    revision           text,
    date               text,
    weight             text,
    general_tolerance  text,
    -- Every field read, keyed as above (a superset of the columns).
    fields             jsonb NOT NULL DEFAULT '{}'::jsonb
);
