-- Text lines read by the `ocr` stage, written by `report` from the stage's output.

CREATE TABLE text_lines (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    page_index  integer NOT NULL,
    line_index  integer NOT NULL,
    text        text NOT NULL,
    confidence  real NOT NULL,
    -- Four corners x1, y1, …, x4, y4 (clockwise from top-left) in pixels of the page
    -- as submitted (a PDF page at its render DPI, see pages.dpi).
    polygon     real[] NOT NULL CHECK (cardinality(polygon) = 8),
    x           real NOT NULL,
    y           real NOT NULL,
    width       real NOT NULL,
    height      real NOT NULL,
    PRIMARY KEY (job_id, page_index, line_index)
);
CREATE INDEX text_lines_text ON text_lines USING btree (text);
