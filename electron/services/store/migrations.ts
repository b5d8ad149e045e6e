/**
 * Numbered schema migrations, applied in order inside one transaction each.
 * `PRAGMA user_version` holds the number of the last one applied. Never edit a shipped
 * migration: add the next number instead, so every project upgrades along the same path.
 *
 * Runtime: pure (strings only).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /**
   * The migration rebuilds a table that others refer to (SQLite's documented procedure for a
   * changed CHECK: create the new table, copy, drop the old, rename): it runs with foreign
   * keys off, and PRAGMA foreign_key_check must find nothing before it commits.
   */
  readonly rebuildsTables?: boolean;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE images (
  id                 INTEGER PRIMARY KEY,
  sha256             TEXT    NOT NULL UNIQUE,
  kind               TEXT    NOT NULL CHECK (kind IN ('dicom', 'raster')),
  format             TEXT    NOT NULL,             -- dicom, png, jpeg, bmp, tiff
  file_name          TEXT    NOT NULL,             -- name of the file as imported
  folder             TEXT    NOT NULL,             -- folder it came from, relative to the import root's parent
  media_path         TEXT    NOT NULL,             -- copy inside the project, relative to the project folder
  byte_size          INTEGER NOT NULL,
  width              INTEGER NOT NULL,
  height             INTEGER NOT NULL,
  frames             INTEGER NOT NULL DEFAULT 1,
  samples_per_pixel  INTEGER NOT NULL,
  bits_allocated     INTEGER NOT NULL,
  bits_stored        INTEGER NOT NULL,
  signed             INTEGER NOT NULL,
  photometric        TEXT    NOT NULL,
  rescale_slope      REAL    NOT NULL DEFAULT 1,
  rescale_intercept  REAL    NOT NULL DEFAULT 0,
  pixel_spacing      TEXT,                         -- JSON [row, column] in mm
  windows            TEXT    NOT NULL DEFAULT '[]', -- JSON WindowPreset[]
  transfer_syntax    TEXT,
  modality           TEXT,
  patient_name       TEXT,
  patient_id         TEXT,
  study_uid          TEXT,
  study_description  TEXT,
  series_uid         TEXT,
  series_description TEXT,
  series_number      REAL,
  sop_instance_uid   TEXT,
  instance_number    INTEGER,
  slice_position     REAL,                         -- IPP projected on the slice normal
  series_index       INTEGER NOT NULL DEFAULT 0,
  status             TEXT    NOT NULL DEFAULT 'unlabelled' CHECK (status IN ('unlabelled', 'in_progress', 'done')),
  imported_at        TEXT    NOT NULL,
  imported_by        TEXT    NOT NULL
) STRICT;
CREATE INDEX images_series ON images (series_uid);
CREATE INDEX images_folder ON images (kind, folder);

CREATE TABLE labels (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL UNIQUE,
  color TEXT NOT NULL
) STRICT;
INSERT INTO labels (name, color) VALUES ('lesion', '#e6194b'), ('defect', '#3cb44b');

CREATE TABLE masks (
  id         INTEGER PRIMARY KEY,
  image_id   INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  frame      INTEGER NOT NULL,
  label_id   INTEGER NOT NULL REFERENCES labels (id),
  instance   INTEGER NOT NULL,
  height     INTEGER NOT NULL,
  width      INTEGER NOT NULL,
  counts     BLOB    NOT NULL,                     -- COCO RLE counts as LEB128 varints
  area       INTEGER NOT NULL,
  prompts    TEXT,                                 -- JSON, as sent by the caller
  source     TEXT    NOT NULL,
  author     TEXT    NOT NULL,
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL,
  UNIQUE (image_id, frame, label_id, instance)
) STRICT;
CREATE INDEX masks_label ON masks (label_id);

CREATE TABLE audit (
  id        INTEGER PRIMARY KEY,
  at        TEXT    NOT NULL,
  author    TEXT    NOT NULL,
  action    TEXT    NOT NULL CHECK (action IN ('create', 'update', 'delete')),
  entity    TEXT    NOT NULL,
  entity_id INTEGER NOT NULL,
  image_id  INTEGER,                               -- the image the change is about, when there is one
  detail    TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_image ON audit (image_id, id);
`,
  },
  {
    version: 2,
    name: 'retrain loop: mask window and model, validation pins, jobs',
    sql: `
-- The window the user saw while drawing (JSON {center, width} in modality units, NULL for 8-bit
-- shown as stored): the dataset snapshot renders the image through it, as SAM saw it.
ALTER TABLE masks ADD COLUMN view_window TEXT;
-- The SAM model that produced a mask (NULL for hand-drawn masks).
ALTER TABLE masks ADD COLUMN model_id TEXT;
-- 1: this image (and so its whole study) is always on the validation side of a split.
ALTER TABLE images ADD COLUMN pinned_val INTEGER NOT NULL DEFAULT 0 CHECK (pinned_val IN (0, 1));

CREATE TABLE jobs (
  id           TEXT    PRIMARY KEY,
  kind         TEXT    NOT NULL,
  state        TEXT    NOT NULL,
  stage        TEXT    NOT NULL,
  detail       TEXT    NOT NULL DEFAULT '',
  settings     TEXT    NOT NULL,                  -- JSON, as asked for
  progress     TEXT    NOT NULL DEFAULT '{}',     -- JSON {step, steps, epoch, epochs, etaS}
  curves       TEXT    NOT NULL DEFAULT '[]',     -- JSON EpochPoint[]
  loss_steps   TEXT    NOT NULL DEFAULT '[]',     -- JSON [step, loss][]
  run_dir      TEXT    NOT NULL,                  -- relative to the project folder
  dataset_hash TEXT,
  outcome      TEXT,                              -- JSON TrainingOutcome
  error        TEXT,                              -- JSON {code, message, file?}
  author       TEXT    NOT NULL,
  created_at   TEXT    NOT NULL,
  updated_at   TEXT    NOT NULL
) STRICT;
CREATE INDEX jobs_created ON jobs (created_at);
`,
  },
  {
    version: 3,
    name: 'DICOM exports',
    sql: `
-- Every DICOM object written from the project's masks: what, from which masks and models,
-- by whom, and its UIDs (derived from the content, so the same masks give the same UIDs).
CREATE TABLE exports (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT    NOT NULL CHECK (kind IN ('seg')),
  source_series_uid   TEXT    NOT NULL,             -- the source series, or "<series UID>|<file sha256>" for one multi-frame instance
  file                TEXT    NOT NULL,             -- relative to the project folder
  sop_instance_uid    TEXT    NOT NULL,
  series_instance_uid TEXT    NOT NULL,
  version             INTEGER NOT NULL,             -- 1, 2, ... per source series: a new one when the masks changed
  masks_hash          TEXT    NOT NULL,
  masks               TEXT    NOT NULL,             -- JSON [[mask id, updated_at]]
  models              TEXT    NOT NULL,             -- JSON model ids
  replaces            TEXT,                         -- SOP Instance UID of the export this one supersedes
  frames              INTEGER NOT NULL,
  segments            INTEGER NOT NULL,
  author              TEXT    NOT NULL,
  created_at          TEXT    NOT NULL,
  UNIQUE (kind, sop_instance_uid)
) STRICT;
CREATE INDEX exports_series ON exports (kind, source_series_uid, version);
`,
  },
  {
    version: 4,
    name: 'PACS outbox',
    sql: `
-- What is to be sent to which PACS, and how it went. One row per object and destination:
-- sending the same object again re-queues that row, so a PACS never gets a duplicate from us.
CREATE TABLE outbox (
  id               INTEGER PRIMARY KEY,
  destination_id   TEXT    NOT NULL,
  destination_name TEXT    NOT NULL,
  export_id        INTEGER REFERENCES exports (id),
  file             TEXT    NOT NULL,             -- relative to the project folder
  sop_instance_uid TEXT    NOT NULL,
  description      TEXT    NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  next_attempt_at  TEXT,                         -- ISO time a failed item is tried again; NULL: not again
  created_at       TEXT    NOT NULL,
  sent_at          TEXT,
  UNIQUE (destination_id, sop_instance_uid)
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
`,
  },
  {
    version: 5,
    name: 'RTSTRUCT and COCO exports',
    rebuildsTables: true,
    sql: `
-- The exports table also records RT Structure Sets ('rtstruct') and COCO folders of
-- non-DICOM images ('coco'). A CHECK cannot be altered in SQLite: the table is rebuilt, rows
-- and ids kept (the outbox refers to them). For 'coco': source_series_uid is "project" or
-- "image-<sha256>", file the folder, and both UIDs the export's content UID (2.25...), which
-- its annotations.json names too.
CREATE TABLE exports_new (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT    NOT NULL CHECK (kind IN ('seg', 'rtstruct', 'coco')),
  source_series_uid   TEXT    NOT NULL,
  file                TEXT    NOT NULL,
  sop_instance_uid    TEXT    NOT NULL,
  series_instance_uid TEXT    NOT NULL,
  version             INTEGER NOT NULL,
  masks_hash          TEXT    NOT NULL,
  masks               TEXT    NOT NULL,
  models              TEXT    NOT NULL,
  replaces            TEXT,
  frames              INTEGER NOT NULL,
  segments            INTEGER NOT NULL,             -- SEG segments, RTSTRUCT ROIs, COCO annotations
  author              TEXT    NOT NULL,
  created_at          TEXT    NOT NULL,
  UNIQUE (kind, sop_instance_uid)
) STRICT;
INSERT INTO exports_new SELECT id, kind, source_series_uid, file, sop_instance_uid, series_instance_uid, version, masks_hash,
  masks, models, replaces, frames, segments, author, created_at FROM exports;
DROP TABLE exports;
ALTER TABLE exports_new RENAME TO exports;
CREATE INDEX exports_series ON exports (kind, source_series_uid, version);
`,
  },
  {
    version: 6,
    name: 'DICOM code per label',
    sql: `
-- The SNOMED CT code a label is exported with (a key of contract/segment-codes.ts, or
-- 'local'); NULL: picked from the label's name.
ALTER TABLE labels ADD COLUMN code TEXT;
`,
  },
  {
    version: 7,
    name: 'segments, draft masks, patient geometry',
    sql: `
-- A segment is one lesion or defect: a label's instance within a series (or within one image
-- outside a series, its frames being the slices), across the slices it spans. Its masks stay
-- in masks; this row holds how the user shows it. series_key: see segments/series-key.ts.
CREATE TABLE segments (
  id         INTEGER PRIMARY KEY,
  series_key TEXT    NOT NULL,
  label_id   INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
  instance   INTEGER NOT NULL,
  name       TEXT,                                 -- NULL: "<label> <instance>"
  color      TEXT,                                 -- NULL: derived from the label's colour
  hidden     INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
  locked     INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
  updated_at TEXT    NOT NULL,
  UNIQUE (series_key, label_id, instance)
) STRICT;
-- Masks a propagation proposed and nobody accepted yet: shown for review, never trained on
-- or exported.
ALTER TABLE masks ADD COLUMN draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1));
CREATE INDEX masks_image ON masks (image_id, frame);
-- Image Position and Orientation (Patient) as JSON arrays, what measurements and orientation
-- markers use; Slice Thickness only to show; accession and study date to find studies.
-- header_fields: which of these the row's header was read for (7: all above; older rows are
-- read again from their files when the project opens).
ALTER TABLE images ADD COLUMN image_position TEXT;
ALTER TABLE images ADD COLUMN image_orientation TEXT;
ALTER TABLE images ADD COLUMN slice_thickness REAL;
ALTER TABLE images ADD COLUMN accession_number TEXT;
ALTER TABLE images ADD COLUMN study_date TEXT;
ALTER TABLE images ADD COLUMN header_fields INTEGER NOT NULL DEFAULT 6;
`,
  },
  {
    version: 8,
    name: 'SR exports',
    rebuildsTables: true,
    sql: `
-- The exports table also records measurement reports ('sr': a DICOM SR, TID 1500, of a
-- series' segment measurements, referring to its SEG). Rebuilt as in migration 5 (a CHECK
-- cannot be altered), rows and ids kept (the outbox refers to them). For 'sr': frames are
-- the slices the calipers are drawn on, segments the segments measured.
CREATE TABLE exports_new (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT    NOT NULL CHECK (kind IN ('seg', 'rtstruct', 'coco', 'sr')),
  source_series_uid   TEXT    NOT NULL,
  file                TEXT    NOT NULL,
  sop_instance_uid    TEXT    NOT NULL,
  series_instance_uid TEXT    NOT NULL,
  version             INTEGER NOT NULL,
  masks_hash          TEXT    NOT NULL,
  masks               TEXT    NOT NULL,
  models              TEXT    NOT NULL,
  replaces            TEXT,
  frames              INTEGER NOT NULL,
  segments            INTEGER NOT NULL,             -- SEG segments, RTSTRUCT ROIs, COCO annotations, SR segments measured
  author              TEXT    NOT NULL,
  created_at          TEXT    NOT NULL,
  UNIQUE (kind, sop_instance_uid)
) STRICT;
INSERT INTO exports_new SELECT id, kind, source_series_uid, file, sop_instance_uid, series_instance_uid, version, masks_hash,
  masks, models, replaces, frames, segments, author, created_at FROM exports;
DROP TABLE exports;
ALTER TABLE exports_new RENAME TO exports;
CREATE INDEX exports_series ON exports (kind, source_series_uid, version);
`,
  },
  {
    version: 9,
    name: 'automatic masks are drafts',
    sql: `
-- A mask from an AUTOMATIC SEG (the headless node's output) is now imported as a draft to
-- review, never trained on before someone accepted or edited it. Until now such masks were
-- stored as ordinary masks with source 'automatic', and nothing else wrote that source (an
-- accept or an edit is what makes one reviewed; an edit rewrites the source), so every
-- accepted mask still saying 'automatic' is the node's output nobody reviewed.
UPDATE masks SET draft = 1 WHERE source = 'automatic' AND draft = 0;
`,
  },
  {
    version: 10,
    name: 'outbox order',
    sql: `
-- An outbox item can wait for another: a measurement report (SR) is sent only once the SEG it
-- names is stored at the destination, and is taken out with it. No foreign key, so removing
-- the SEG's row is the repository's decision (it cancels the report with it, jobs included).
ALTER TABLE outbox ADD COLUMN after_id INTEGER;
`,
  },
];

export const latestSchemaVersion = migrations[migrations.length - 1]!.version;
