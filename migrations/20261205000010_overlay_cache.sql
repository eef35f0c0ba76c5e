-- The overlay PNG of a page (GET /v1/jobs/{id}/overlay.png), rendered by the
-- dispatcher from the job's report on first request and kept here; cleared when
-- the report changes.
ALTER TABLE pages ADD COLUMN overlay_png bytea;
