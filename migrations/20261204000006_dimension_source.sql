-- Where a dimension's text came from: read from the pixels (`ocr`) or taken from the
-- PDF's own text layer (`text_layer`).
ALTER TABLE dimensions ADD COLUMN source text NOT NULL DEFAULT 'ocr'
    CHECK (source IN ('ocr', 'text_layer'));
