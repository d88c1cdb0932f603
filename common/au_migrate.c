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
