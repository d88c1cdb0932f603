#include "au_migrate.h"

#include <stdio.h>
#include <stdlib.h>

/* Never edit a migration that has shipped: add a new one. */
static const char *const migrations[] = {
    /* 1: the durable queue, the batch ledger and the trend store. */
    "CREATE TABLE jobs ("
    "  id bigserial PRIMARY KEY,"
    "  kind text NOT NULL,"
    "  params jsonb NOT NULL,"
    "  state text NOT NULL DEFAULT 'queued'"
    "    CHECK (state IN ('queued','running','done','dead')),"
    "  attempt int NOT NULL DEFAULT 0,"
    "  max_attempts int NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),"
    "  run_after timestamptz NOT NULL DEFAULT now(),"
    "  lease_until timestamptz,"
    "  leased_by text,"
    "  nbatches int,"
    "  rows_written bigint NOT NULL DEFAULT 0,"
    "  last_error text,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  finished_at timestamptz);"
    "CREATE INDEX jobs_ready_idx ON jobs (run_after, id)"
    "  WHERE state = 'queued';"
    "CREATE INDEX jobs_lease_idx ON jobs (lease_until)"
    "  WHERE state = 'running';"
    "CREATE INDEX jobs_state_idx ON jobs (state);"
    /* Keyed by attempt too: a new attempt may cut batches differently
     * (another batch size), so only the same attempt's seq is the same
     * batch. */
    "CREATE TABLE batch_ledger ("
    "  job_id bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  attempt int NOT NULL,"
    "  seq int NOT NULL,"
    "  rows int NOT NULL,"
    "  committed_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (job_id, attempt, seq));"
    "CREATE TABLE artists ("
    "  artist_key text PRIMARY KEY,"
    "  name text NOT NULL,"
    "  first_seen timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE tracks ("
    "  track_key text PRIMARY KEY,"
    "  spotify_id text,"
    "  name text NOT NULL,"
    "  artist_key text NOT NULL REFERENCES artists,"
    "  first_seen timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX tracks_artist_idx ON tracks (artist_key);"
    "CREATE TABLE audio_features ("
    "  spotify_id text PRIMARY KEY,"
    "  danceability real, energy real, valence real, tempo real,"
    "  acousticness real, instrumentalness real, speechiness real,"
    "  liveness real, loudness real);"
    /* One row per track per chart per region per date: the natural key
     * makes every write an idempotent upsert. */
    "CREATE TABLE trends ("
    "  platform text NOT NULL,"
    "  chart text NOT NULL,"
    "  region text NOT NULL,"
    "  chart_date date NOT NULL,"
    "  track_key text NOT NULL,"
    "  position int NOT NULL CHECK (position >= 1),"
    "  streams bigint,"
    "  track_name text NOT NULL,"
    "  artist text NOT NULL,"
    "  score double precision NOT NULL CHECK (score BETWEEN 0 AND 100),"
    "  prev_position int,"
    "  position_change int,"
    "  is_active boolean NOT NULL DEFAULT true,"
    "  job_id bigint,"
    "  first_detected timestamptz NOT NULL DEFAULT now(),"
    "  last_updated timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (platform, chart, region, chart_date, track_key));"
    "CREATE INDEX trends_series_idx"
    "  ON trends (platform, chart, region, track_key, chart_date);"
    "CREATE INDEX trends_track_idx ON trends (track_key);"
    "CREATE TABLE viral_predictions ("
    "  id bigserial PRIMARY KEY,"
    "  track_key text NOT NULL,"
    "  track_name text NOT NULL,"
    "  artist text NOT NULL,"
    "  confidence double precision NOT NULL"
    "    CHECK (confidence BETWEEN 0 AND 1),"
    "  prediction_date date NOT NULL,"
    "  predicted_peak_date date,"
    "  predicted_peak_score double precision,"
    "  prediction_features jsonb,"
    "  actual_peak_date date,"
    "  actual_peak_score double precision,"
    "  accuracy_score double precision,"
    "  status text NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending','confirmed','failed')),"
    "  UNIQUE (track_key, prediction_date));"
    "CREATE INDEX predictions_confidence_idx"
    "  ON viral_predictions (confidence DESC);"
    "CREATE TABLE worker_heartbeats ("
    "  worker text PRIMARY KEY,"
    "  component text NOT NULL,"
    "  pid int NOT NULL,"
    "  started_at timestamptz NOT NULL,"
    "  seen_at timestamptz NOT NULL,"
    "  records bigint NOT NULL DEFAULT 0,"
    "  batches bigint NOT NULL DEFAULT 0);",
    /* 2: the scores of the ported analytics (momentum, viral score,
     * direction, mood) on each trend row. NULL means "not computed": too
     * little history for a trend direction, no audio features for a
     * mood; nothing is invented to fill them. */
    "ALTER TABLE trends"
    "  ADD COLUMN platform_score double precision,"
    "  ADD COLUMN momentum double precision,"
    "  ADD COLUMN acceleration double precision,"
    "  ADD COLUMN viral_score double precision,"
    "  ADD COLUMN confidence double precision,"
    "  ADD COLUMN direction text,"
    "  ADD COLUMN mood text,"
    "  ADD COLUMN mood_score double precision;"
    "CREATE INDEX trends_viral_idx ON trends (viral_score DESC);"
    /* Date windows (summary, top) and same-date lookups across charts. */
    "CREATE INDEX trends_date_track_idx ON trends (chart_date, track_key);",
    /* 3: integer keys and derived values as functions of the facts
     * (docs/ARCHITECTURE.md, "Storage" and "Derived columns"). A series
     * (platform, chart, region) and a track are numbers in every trends
     * row; names live once, in series, tracks and artists. The series row
     * is what writers of one series lock. Old rows are carried over with
     * their values; `audora rescore` recomputes the derived ones. */
    /* A random number per store: a worker that remembers ids checks it,
     * so ids learnt from one database are never used in another. The
     * features generation grows with every load of audio features: cached
     * features are keyed by it, so none outlives a reload. */
    "CREATE TABLE store_meta (instance bigint NOT NULL,"
    "  features_generation bigint NOT NULL DEFAULT 0);"
    "INSERT INTO store_meta VALUES ((random() * 9e18)::bigint);"
    "CREATE TABLE series ("
    "  id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  platform text NOT NULL, chart text NOT NULL, region text NOT NULL,"
    "  UNIQUE (platform, chart, region));"
    "CREATE TABLE directions (code smallint PRIMARY KEY,"
    "  name text NOT NULL UNIQUE);"
    "INSERT INTO directions VALUES (0, 'rising'), (1, 'falling'),"
    "  (2, 'stable'), (3, 'volatile'), (4, 'emerging'), (5, 'viral');"
    "CREATE TABLE moods (code smallint PRIMARY KEY, name text NOT NULL UNIQUE);"
    "INSERT INTO moods VALUES (0, 'HAPPY_UPBEAT'), (1, 'CHILL_RELAXED'),"
    "  (2, 'ENERGETIC_INTENSE'), (3, 'MELANCHOLIC'), (4, 'FOCUS'),"
    "  (5, 'PARTY_DANCE'), (6, 'LATE_NIGHT'), (7, 'MORNING_ENERGY');"
    "ALTER TABLE artists RENAME TO artists_v2;"
    "ALTER TABLE tracks RENAME TO tracks_v2;"
    "ALTER TABLE trends RENAME TO trends_v2;"
    "ALTER TABLE viral_predictions RENAME TO viral_predictions_v2;"
    /* name (artists and tracks) and artist (tracks): the spelling of the
     * earliest chart that listed it, ties to the smallest spelling; a
     * function of the stored charts, whatever order they arrived in. */
    "CREATE TABLE artists ("
    "  id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  artist_key text NOT NULL UNIQUE,"
    "  name text NOT NULL,"
    "  name_date date NOT NULL DEFAULT '9999-12-31');"
    "INSERT INTO artists (artist_key, name)"
    "  SELECT artist_key, name FROM artists_v2 ORDER BY artist_key;"
    "CREATE TABLE tracks ("
    "  id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  track_key text NOT NULL UNIQUE,"
    "  spotify_id text,"
    "  artist_id int NOT NULL REFERENCES artists,"
    "  name text NOT NULL,"
    "  artist text NOT NULL,"
    "  name_date date NOT NULL DEFAULT '9999-12-31');"
    "INSERT INTO tracks (track_key, spotify_id, artist_id, name, artist)"
    "  SELECT t.track_key, t.spotify_id, a.id, t.name, coalesce(("
    "   SELECT o.artist FROM trends_v2 o WHERE o.track_key = t.track_key"
    "   ORDER BY o.chart_date DESC LIMIT 1), a.name)"
    "  FROM tracks_v2 t JOIN artists a ON a.artist_key = t.artist_key"
    "  ORDER BY t.track_key;"
    "INSERT INTO series (platform, chart, region)"
    "  SELECT DISTINCT platform, chart, region FROM trends_v2 ORDER BY 1, 2, 3;"
    "CREATE TABLE trends ("
    "  series_id int NOT NULL,"
    "  track_id int NOT NULL,"
    "  chart_date date NOT NULL,"
    "  position int NOT NULL CHECK (position >= 1),"
    "  prev_position int,"
    "  streams bigint,"
    "  score real NOT NULL CHECK (score BETWEEN 0 AND 100),"
    "  momentum real, acceleration real, viral_score real, confidence real,"
    "  mood_score real,"
    "  direction smallint,"
    "  mood smallint,"
    "  is_active boolean NOT NULL DEFAULT true,"
    "  PRIMARY KEY (series_id, track_id, chart_date));"
    "INSERT INTO trends SELECT s.id, k.id, t.chart_date, t.position,"
    "  t.prev_position, t.streams, t.score, t.momentum, t.acceleration,"
    "  t.viral_score, t.confidence, t.mood_score, d.code, m.code, t.is_active"
    "  FROM trends_v2 t"
    "  JOIN series s USING (platform, chart, region)"
    "  JOIN tracks k USING (track_key)"
    "  LEFT JOIN directions d ON d.name = t.direction"
    "  LEFT JOIN moods m ON m.name = t.mood;"
    "CREATE INDEX trends_date_idx ON trends USING brin (chart_date);"
    /* One prediction per chart entry whose viral score reaches the
     * threshold: derived with the entry, rewritten with it. */
    "CREATE TABLE viral_predictions ("
    "  series_id int NOT NULL,"
    "  track_id int NOT NULL,"
    "  prediction_date date NOT NULL,"
    "  confidence double precision NOT NULL"
    "    CHECK (confidence BETWEEN 0 AND 1),"
    "  predicted_peak_date date,"
    "  predicted_peak_score double precision,"
    "  prediction_features jsonb,"
    "  actual_peak_date date,"
    "  actual_peak_score double precision,"
    "  accuracy_score double precision,"
    "  status text NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending','confirmed','failed')),"
    "  PRIMARY KEY (series_id, track_id, prediction_date));"
    "INSERT INTO viral_predictions SELECT DISTINCT ON (t.track_id,"
    "  t.chart_date) t.series_id, t.track_id, p.prediction_date,"
    "  p.confidence, p.predicted_peak_date, p.predicted_peak_score,"
    "  p.prediction_features, p.actual_peak_date, p.actual_peak_score,"
    "  p.accuracy_score, p.status"
    "  FROM viral_predictions_v2 p JOIN tracks k USING (track_key)"
    "  JOIN trends t ON t.track_id = k.id AND t.chart_date = p.prediction_date"
    "  ORDER BY t.track_id, t.chart_date, t.viral_score DESC NULLS LAST,"
    "  t.series_id;"
    "DROP TABLE viral_predictions_v2, trends_v2, tracks_v2, artists_v2;"
    /* The people-facing shape of trends: names instead of numbers. */
    "CREATE VIEW trends_v AS SELECT s.platform, s.chart, s.region,"
    "  t.chart_date, k.track_key, k.name AS track_name, k.artist,"
    "  t.position, t.prev_position, t.prev_position - t.position AS"
    "  position_change, t.streams, t.score, t.momentum, t.acceleration,"
    "  t.viral_score, t.confidence, d.name AS direction, m.name AS mood,"
    "  t.mood_score, t.is_active, t.series_id, t.track_id"
    "  FROM trends t JOIN series s ON s.id = t.series_id"
    "  JOIN tracks k ON k.id = t.track_id"
    "  LEFT JOIN directions d ON d.code = t.direction"
    "  LEFT JOIN moods m ON m.code = t.mood;"
    /* Rows written by hand (an operator's fix, a test's fixture) can go
     * into the view by names; the series, track and artist are found or
     * created. The pipeline itself writes through the store. */
    "CREATE FUNCTION trends_v_insert() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE s int; a int; t int;"
    " BEGIN"
    "  INSERT INTO series (platform, chart, region)"
    "   VALUES (NEW.platform, NEW.chart, NEW.region) ON CONFLICT DO NOTHING;"
    "  SELECT id INTO s FROM series WHERE platform = NEW.platform"
    "   AND chart = NEW.chart AND region = NEW.region;"
    "  INSERT INTO artists (artist_key, name, name_date)"
    "   VALUES (lower(btrim(NEW.artist)), NEW.artist, NEW.chart_date)"
    "   ON CONFLICT DO NOTHING;"
    "  SELECT id INTO a FROM artists"
    "   WHERE artist_key = lower(btrim(NEW.artist));"
    "  INSERT INTO tracks (track_key, artist_id, name, artist, name_date)"
    "   VALUES (NEW.track_key, a, NEW.track_name, NEW.artist,"
    "   NEW.chart_date) ON CONFLICT (track_key) DO NOTHING;"
    "  SELECT id INTO t FROM tracks WHERE track_key = NEW.track_key;"
    "  INSERT INTO trends (series_id, track_id, chart_date, position,"
    "   prev_position, streams, score, momentum, acceleration, viral_score,"
    "   confidence, mood_score, direction, mood, is_active) VALUES (s, t,"
    "   NEW.chart_date, NEW.position, NEW.prev_position, NEW.streams,"
    "   NEW.score, NEW.momentum, NEW.acceleration, NEW.viral_score,"
    "   NEW.confidence, NEW.mood_score,"
    "   (SELECT code FROM directions WHERE name = NEW.direction),"
    "   (SELECT code FROM moods WHERE name = NEW.mood),"
    "   coalesce(NEW.is_active, true));"
    "  RETURN NEW;"
    " END $f$;"
    "CREATE TRIGGER trends_v_insert INSTEAD OF INSERT ON trends_v"
    "  FOR EACH ROW EXECUTE FUNCTION trends_v_insert();"
    /* What ingest found when it validated a job's source: the chart it
     * is, how many batches and rows it cut, a digest of each batch. A
     * batch that disagrees is refused (docs/ARCHITECTURE.md, "Only the
     * cluster can write"). activity says what the worker holding the
     * lease was doing, for the message when the lease runs out. */
    "ALTER TABLE jobs"
    "  ADD COLUMN plan_attempt int,"
    "  ADD COLUMN plan_series int,"
    "  ADD COLUMN plan_date date,"
    "  ADD COLUMN plan_nbatches int,"
    "  ADD COLUMN plan_rows int,"
    "  ADD COLUMN plan_digests bytea,"
    "  ADD COLUMN activity text;",

    /* 4: the breakout model's chance beside the ported viral score
     * (docs/backtest.md: it ranks weekly charts better), and which of
     * the two made a prediction. Rows stored before keep NULL until
     * their charts are pushed again. */
    "ALTER TABLE trends ADD COLUMN breakout real"
    "  CHECK (breakout BETWEEN 0 AND 1);"
    "ALTER TABLE viral_predictions ADD COLUMN method text NOT NULL"
    "  DEFAULT 'viral' CHECK (method IN ('viral', 'breakout'));"
    "ALTER TABLE viral_predictions ALTER COLUMN method DROP DEFAULT;"
    "CREATE OR REPLACE VIEW trends_v AS SELECT s.platform, s.chart, s.region,"
    "  t.chart_date, k.track_key, k.name AS track_name, k.artist,"
    "  t.position, t.prev_position, t.prev_position - t.position AS"
    "  position_change, t.streams, t.score, t.momentum, t.acceleration,"
    "  t.viral_score, t.confidence, d.name AS direction, m.name AS mood,"
    "  t.mood_score, t.is_active, t.series_id, t.track_id, t.breakout"
    "  FROM trends t JOIN series s ON s.id = t.series_id"
    "  JOIN tracks k ON k.id = t.track_id"
    "  LEFT JOIN directions d ON d.code = t.direction"
    "  LEFT JOIN moods m ON m.code = t.mood;",
    /* 5: what each worker's live sources did (requests, retries, 429s,
     * breaker, limiter waits, cache hits per service), for `audora
     * sources`: NULL for a worker that fetches nothing. */
    "ALTER TABLE worker_heartbeats ADD COLUMN sources jsonb;",
    /* 6: the recording a track is across platforms (au_canon_key): a
     * Last.fm track (keyed by its name) and a Spotify one (keyed by its
     * id) meet in it. Tracks stored before get it when a chart that
     * lists them under their stored spelling is pushed again. */
    "ALTER TABLE tracks ADD COLUMN canon text;"
    "CREATE INDEX tracks_canon_idx ON tracks (canon);"
    "CREATE OR REPLACE VIEW trends_v AS SELECT s.platform, s.chart, s.region,"
    "  t.chart_date, k.track_key, k.name AS track_name, k.artist,"
    "  t.position, t.prev_position, t.prev_position - t.position AS"
    "  position_change, t.streams, t.score, t.momentum, t.acceleration,"
    "  t.viral_score, t.confidence, d.name AS direction, m.name AS mood,"
    "  t.mood_score, t.is_active, t.series_id, t.track_id, t.breakout,"
    "  k.canon"
    "  FROM trends t JOIN series s ON s.id = t.series_id"
    "  JOIN tracks k ON k.id = t.track_id"
    "  LEFT JOIN directions d ON d.code = t.direction"
    "  LEFT JOIN moods m ON m.code = t.mood;",
    /* 7: an artist's MusicBrainz id, found by `audora push
     * musicbrainz-artists` jobs; checked_at says it was looked for (NULL
     * mbid and a date: MusicBrainz had no single exact match). */
    "ALTER TABLE artists ADD COLUMN mbid uuid, ADD COLUMN mbid_checked_at "
    "timestamptz;"
    "CREATE INDEX artists_unchecked_idx ON artists (id) "
    "WHERE mbid_checked_at IS NULL;",
    /* 8: what the Spotify Web API says of a track (`audora push
     * spotify-tracks`): popularity 0..100 and the ISRC; checked_at says
     * it was asked (NULLs and a date: the API did not know the id). */
    "ALTER TABLE tracks ADD COLUMN popularity smallint CHECK (popularity "
    "BETWEEN 0 AND 100), ADD COLUMN isrc text, ADD COLUMN "
    "spotify_checked_at timestamptz;",
    /* 9: what the Spotify Web API says of artists (`audora push
     * spotify-artists`: their id from a track's credits or the answer's
     * name, genres, popularity, followers), audio features asked of it
     * (`audora push spotify-features`), and a track's MusicBrainz
     * recording by its ISRC (`audora push musicbrainz-recordings`). */
    "ALTER TABLE artists ADD COLUMN spotify_id text, ADD COLUMN genres "
    "text[], ADD COLUMN popularity smallint CHECK (popularity BETWEEN 0 "
    "AND 100), ADD COLUMN followers bigint CHECK (followers >= 0), ADD "
    "COLUMN spotify_checked_at timestamptz;"
    "CREATE INDEX artists_spotify_idx ON artists (spotify_id) WHERE "
    "spotify_id IS NOT NULL;"
    "ALTER TABLE tracks ADD COLUMN features_checked_at timestamptz, ADD "
    "COLUMN mbid uuid, ADD COLUMN mbid_checked_at timestamptz;"
    "CREATE INDEX tracks_isrc_idx ON tracks (isrc) WHERE isrc IS NOT NULL;",
    /* 10: queue controls (docs/ARCHITECTURE.md, "Queue controls"): named
     * queues and priorities (1 first .. 4 last), a job cancelled by an
     * operator, unique jobs (one queued or running job per key), queues
     * paused, periodic schedules fired by one worker at a time, and when
     * ingest sent a running job's last batch (its batches in flight). */
    "ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;"
    "ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN "
    " ('queued','running','done','dead','cancelled'));"
    "ALTER TABLE jobs ADD COLUMN queue text NOT NULL DEFAULT 'default',"
    " ADD COLUMN priority smallint NOT NULL DEFAULT 2"
    "  CHECK (priority BETWEEN 1 AND 4),"
    " ADD COLUMN unique_key text, ADD COLUMN schedule text,"
    " ADD COLUMN sent_at timestamptz;"
    "CREATE UNIQUE INDEX jobs_unique_idx ON jobs (unique_key)"
    "  WHERE unique_key IS NOT NULL AND state IN ('queued','running');"
    "DROP INDEX jobs_ready_idx;"
    "CREATE INDEX jobs_ready_idx ON jobs (priority, run_after, id)"
    "  WHERE state = 'queued';"
    "CREATE INDEX jobs_finished_idx ON jobs (finished_at)"
    "  WHERE state IN ('done','cancelled','dead');"
    "CREATE TABLE queues (name text PRIMARY KEY, paused_at timestamptz);"
    "CREATE TABLE schedules ("
    "  name text PRIMARY KEY,"
    "  cron text NOT NULL,"
    "  kind text NOT NULL,"
    "  params jsonb NOT NULL,"
    "  queue text NOT NULL DEFAULT 'default',"
    "  priority smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),"
    "  max_attempts int NOT NULL CHECK (max_attempts >= 1),"
    "  next_run timestamptz NOT NULL,"
    "  last_run timestamptz,"
    "  last_job bigint,"
    "  created_at timestamptz NOT NULL DEFAULT now());",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int au_schema_latest(void)
{
    return NMIGRATIONS;
}

static int exec_ok(PGconn *c, const char *sql, au_error_t *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        au_error_set(err, AU_EDB, "migrate: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : AU_EDB;
}

static int current_version(PGconn *c, int *v, au_error_t *err)
{
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) "
                            "FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        /* No table yet means version 0, not an error. */
        *v = 0;
        return 1;
    }
    *v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    (void)err;
    return 0;
}

int au_migrate(PGconn *c, int *applied, au_error_t *err)
{
    int n = 0, v = 0, rc;
    if (applied)
        *applied = 0;
    /* Session lock: two `audora migrate` at once apply each step once. */
    if ((rc = exec_ok(c, "SELECT pg_advisory_lock(7316001)", err)) < 0)
        return rc;
    rc = exec_ok(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version int PRIMARY KEY,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err);
    if (rc < 0)
        goto out;
    current_version(c, &v, err);
    for (int i = v; i < NMIGRATIONS; i++) {
        char ins[96];
        snprintf(ins, sizeof(ins),
                 "INSERT INTO schema_migrations (version) VALUES (%d)", i + 1);
        if ((rc = exec_ok(c, "BEGIN", err)) < 0)
            goto out;
        if ((rc = exec_ok(c, migrations[i], err)) < 0 ||
            (rc = exec_ok(c, ins, err)) < 0) {
            PQclear(PQexec(c, "ROLLBACK"));
            goto out;
        }
        if ((rc = exec_ok(c, "COMMIT", err)) < 0)
            goto out;
        n++;
    }
    rc = 0;
out:
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(7316001)"));
    if (applied)
        *applied = n;
    return rc;
}

int au_schema_check(PGconn *c, au_error_t *err)
{
    int v = 0;
    current_version(c, &v, err);
    if (v < NMIGRATIONS)
        return au_error_set(err, AU_EVERSION,
                            "database schema is at version %d, this build "
                            "needs %d: run `audora migrate`",
                            v, NMIGRATIONS);
    if (v > NMIGRATIONS)
        return au_error_set(err, AU_EVERSION,
                            "database schema version %d is newer than this "
                            "build (%d): upgrade the binaries",
                            v, NMIGRATIONS);
    return 0;
}
