-- A size read from a table in the drawing area (a hole table, tabulated dimensions):
-- the header of its column (`X LOC`, `ØD`, `A`); NULL for a dimension on the views.
ALTER TABLE dimensions ADD COLUMN table_column text;
