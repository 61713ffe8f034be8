-- Model prices (issue 8 item 4): currency-neutral amounts per 1M tokens. A model keeps every
-- price it has had; the one in force at a time is the row with the latest effective_from at or
-- before it, so a price can be announced ahead and past spend stays explained.
CREATE TABLE prices (
  model                    TEXT NOT NULL,
  effective_from           INTEGER NOT NULL,   -- unix seconds
  input_per_million        REAL NOT NULL CHECK (input_per_million >= 0),
  output_per_million       REAL NOT NULL CHECK (output_per_million >= 0),
  cached_input_per_million REAL NOT NULL CHECK (cached_input_per_million >= 0),
  created_at_ms            INTEGER NOT NULL,
  updated_at_ms            INTEGER NOT NULL,
  PRIMARY KEY (model, effective_from)
);
