/* The schema of the postgres storage (version PG_SCHEMA_VERSION), its
 * creation and version check at start, and the statements every
 * connection prepares.  doc/storage-postgres.md describes the tables.
 *
 * Each op is one statement, most of them a call of a function below, so
 * that a compare-and-set or an idempotent insert is one round trip and one
 * transaction. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

/* Version 1.  Ids, tenants, states and agents compare bytewise (COLLATE
 * "C"): ids are time-ordered strings and lists page by them. */
static const char schema_v1[] =
    "CREATE TABLE execd_executions ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  tenant text COLLATE \"C\" NOT NULL,"
    "  state text COLLATE \"C\" NOT NULL,"
    "  agent text COLLATE \"C\","
    "  idempotency_key text COLLATE \"C\","
    "  labels jsonb NOT NULL DEFAULT '{}',"
    "  created_ms bigint NOT NULL,"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  doc text NOT NULL);"
    "CREATE INDEX execd_executions_tenant ON execd_executions (tenant, id);"
    "CREATE INDEX execd_executions_state ON execd_executions (state, id);"
    "CREATE INDEX execd_executions_tenant_state ON execd_executions (tenant, state, id);"
    "CREATE INDEX execd_executions_agent ON execd_executions (agent, id);"
    "CREATE INDEX execd_executions_created ON execd_executions (created_ms);"
    "CREATE INDEX execd_executions_labels ON execd_executions USING gin (labels jsonb_path_ops);"
    "CREATE INDEX execd_executions_finished ON execd_executions (updated_at)"
    "  WHERE state IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED');"
    "CREATE TABLE execd_idempotency ("
    "  tenant text COLLATE \"C\" NOT NULL,"
    "  key text COLLATE \"C\" NOT NULL,"
    "  id text COLLATE \"C\" NOT NULL REFERENCES execd_executions (id) ON DELETE CASCADE,"
    "  created_ms bigint NOT NULL,"
    "  PRIMARY KEY (tenant, key));"
    "CREATE INDEX execd_idempotency_id ON execd_idempotency (id);"
    "CREATE TABLE execd_logs ("
    "  id text COLLATE \"C\" PRIMARY KEY REFERENCES execd_executions (id) ON DELETE CASCADE,"
    "  size bigint NOT NULL,"
    "  capped boolean NOT NULL);"
    "CREATE TABLE execd_log_chunks ("
    "  id text COLLATE \"C\" NOT NULL REFERENCES execd_logs (id) ON DELETE CASCADE,"
    "  off bigint NOT NULL,"
    "  at_us bigint NOT NULL,"
    "  data bytea NOT NULL,"
    "  PRIMARY KEY (id, off));"
    "CREATE TABLE execd_quarantine ("
    "  id text NOT NULL,"
    "  doc text,"
    "  log bytea,"
    "  why text NOT NULL,"
    "  at timestamptz NOT NULL DEFAULT now());"
    /* insert: 0 stored; 1 an execution of the same tenant and idempotency
     * key created in the last 24 h exists (its doc); 2 the id exists. */
    "CREATE FUNCTION execd_insert(p_id text, p_tenant text, p_state text,"
    "    p_agent text, p_idem text, p_labels jsonb, p_created bigint, p_doc text)"
    "  RETURNS TABLE (status int, doc text) LANGUAGE plpgsql AS $f$\n"
    "#variable_conflict use_column\n"
    "DECLARE v_doc text;\n"
    "BEGIN\n"
    "  IF p_idem IS NOT NULL THEN\n"
    "    PERFORM pg_advisory_xact_lock(hashtext(p_tenant), hashtext(p_idem));\n"
    "    SELECT e.doc INTO v_doc FROM execd_idempotency i\n"
    "      JOIN execd_executions e ON e.id = i.id\n"
    "      WHERE i.tenant = p_tenant AND i.key = p_idem\n"
    "        AND i.created_ms > (extract(epoch FROM now()) * 1000)::bigint - 86400000;\n"
    "    IF FOUND THEN RETURN QUERY SELECT 1, v_doc; RETURN; END IF;\n"
    "  END IF;\n"
    "  INSERT INTO execd_executions (id, tenant, state, agent, idempotency_key,"
    "      labels, created_ms, doc)\n"
    "    VALUES (p_id, p_tenant, p_state, p_agent, p_idem, p_labels, p_created, p_doc)\n"
    "    ON CONFLICT (id) DO NOTHING;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN QUERY SELECT 2, e.doc FROM execd_executions e WHERE e.id = p_id;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF p_idem IS NOT NULL THEN\n"
    "    INSERT INTO execd_idempotency AS i (tenant, key, id, created_ms)\n"
    "      VALUES (p_tenant, p_idem, p_id, p_created)\n"
    "      ON CONFLICT (tenant, key) DO UPDATE SET id = excluded.id,"
    "        created_ms = excluded.created_ms\n"
    "        WHERE i.created_ms <= excluded.created_ms;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT 0, NULL::text;\n"
    "END $f$;"
    /* update, compare-and-set on state: 0 written; 1 another state (the
     * stored doc); 2 no such execution. */
    "CREATE FUNCTION execd_update(p_id text, p_expected text, p_state text,"
    "    p_agent text, p_labels jsonb, p_doc text)"
    "  RETURNS TABLE (status int, doc text) LANGUAGE plpgsql AS $f$\n"
    "#variable_conflict use_column\n"
    "DECLARE v_doc text;\n"
    "BEGIN\n"
    "  UPDATE execd_executions e SET state = p_state, agent = p_agent,"
    "      labels = p_labels, doc = p_doc, updated_at = now()\n"
    "    WHERE e.id = p_id AND (p_expected IS NULL OR e.state = p_expected);\n"
    "  IF FOUND THEN RETURN QUERY SELECT 0, NULL::text; RETURN; END IF;\n"
    "  SELECT e.doc INTO v_doc FROM execd_executions e WHERE e.id = p_id;\n"
    "  IF FOUND THEN RETURN QUERY SELECT 1, v_doc;\n"
    "  ELSE RETURN QUERY SELECT 2, NULL::text; END IF;\n"
    "END $f$;"
    /* log append with the cap: bytes past cap minus the marker are
     * dropped and the marker ends the log; returns the size and whether
     * the log is capped, or no row for an unknown execution. */
    "CREATE FUNCTION execd_log_append(p_id text, p_data bytea, p_at bigint,"
    "    p_cap bigint, p_dropped boolean)"
    "  RETURNS TABLE (size bigint, capped boolean) LANGUAGE plpgsql AS $f$\n"
    "#variable_conflict use_column\n"
    "DECLARE v_size bigint; v_capped boolean; v_room bigint; v_take bytea;\n"
    "  v_mark bytea := convert_to(E'\\n[execd: log truncated: it reached the storage''s log_max]\\n', 'UTF8');\n"
    "BEGIN\n"
    "  SELECT l.size, l.capped INTO v_size, v_capped FROM execd_logs l\n"
    "    WHERE l.id = p_id FOR UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    PERFORM 1 FROM execd_executions e WHERE e.id = p_id FOR KEY SHARE;\n"
    "    IF NOT FOUND THEN RETURN; END IF;\n"
    "    INSERT INTO execd_logs (id, size, capped) VALUES (p_id, 0, false);\n"
    "    v_size := 0; v_capped := false;\n"
    "  END IF;\n"
    "  IF v_capped THEN RETURN QUERY SELECT v_size, true; RETURN; END IF;\n"
    "  v_room := greatest(p_cap - length(v_mark) - v_size, 0);\n"
    "  v_take := substring(p_data FROM 1 FOR least(length(p_data), v_room)::int);\n"
    "  IF length(v_take) > 0 THEN\n"
    "    INSERT INTO execd_log_chunks (id, off, at_us, data)"
    "      VALUES (p_id, v_size, p_at, v_take);\n"
    "    v_size := v_size + length(v_take);\n"
    "  END IF;\n"
    "  IF length(v_take) < length(p_data) OR p_dropped THEN\n"
    "    INSERT INTO execd_log_chunks (id, off, at_us, data)"
    "      VALUES (p_id, v_size, p_at, v_mark);\n"
    "    v_size := v_size + length(v_mark); v_capped := true;\n"
    "  END IF;\n"
    "  UPDATE execd_logs l SET size = v_size, capped = v_capped WHERE l.id = p_id;\n"
    "  RETURN QUERY SELECT v_size, v_capped;\n"
    "END $f$;"
    /* up to p_max log bytes from p_off; NULL for an unknown execution. */
    "CREATE FUNCTION execd_log_read(p_id text, p_off bigint, p_max int)"
    "  RETURNS bytea LANGUAGE plpgsql STABLE AS $f$\n"
    "DECLARE v_start bigint; v_data bytea;\n"
    "BEGIN\n"
    "  PERFORM 1 FROM execd_executions e WHERE e.id = p_id;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  SELECT max(c.off) INTO v_start FROM execd_log_chunks c\n"
    "    WHERE c.id = p_id AND c.off <= p_off;\n"
    "  v_start := coalesce(v_start, 0);\n"
    "  SELECT string_agg(c.data, ''::bytea ORDER BY c.off) INTO v_data\n"
    "    FROM execd_log_chunks c\n"
    "    WHERE c.id = p_id AND c.off >= v_start AND c.off < p_off + p_max;\n"
    "  IF v_data IS NULL OR p_off - v_start >= length(v_data) THEN\n"
    "    RETURN ''::bytea;\n"
    "  END IF;\n"
    "  RETURN substring(v_data FROM (p_off - v_start + 1)::int FOR p_max);\n"
    "END $f$;"
    /* the execution's row leaves the store; its doc and log are kept. */
    "CREATE FUNCTION execd_quarantine(p_id text, p_why text)"
    "  RETURNS void LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  INSERT INTO execd_quarantine (id, doc, log, why)\n"
    "    SELECT e.id, e.doc, (SELECT string_agg(c.data, ''::bytea ORDER BY c.off)\n"
    "      FROM execd_log_chunks c WHERE c.id = e.id), p_why\n"
    "    FROM execd_executions e WHERE e.id = p_id;\n"
    "  DELETE FROM execd_executions e WHERE e.id = p_id;\n"
    "END $f$;";

/* Version 2: several nodes.  Claims (FOR UPDATE SKIP LOCKED, by priority
 * then age), leases with a fencing token that every update compares in the
 * same statement, retries as rows with a due time, and a notification on
 * the channel execd_work in the transaction of every insert. */
static const char schema_v2[] =
    "ALTER TABLE execd_executions"
    "  ADD COLUMN backend text COLLATE \"C\","
    "  ADD COLUMN priority integer NOT NULL DEFAULT 0,"
    "  ADD COLUMN due_ms bigint,"
    "  ADD COLUMN lease_node text COLLATE \"C\","
    "  ADD COLUMN lease_until timestamptz,"
    "  ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;"
    "UPDATE execd_executions SET backend = doc::jsonb->>'backend',"
    "  priority = coalesce((doc::jsonb->>'priority')::int, 0),"
    "  due_ms = CASE WHEN state = 'RETRY_WAIT' THEN"
    "    (extract(epoch FROM (doc::jsonb->>'retry_at')::timestamptz) * 1000)::bigint END"
    "  WHERE state IN ('QUEUED', 'RETRY_WAIT', 'STARTING', 'RUNNING');"
    "CREATE INDEX execd_executions_claim ON execd_executions (priority DESC, id)"
    "  WHERE state = 'QUEUED';"
    "CREATE INDEX execd_executions_due ON execd_executions (due_ms)"
    "  WHERE state = 'RETRY_WAIT';"
    "CREATE INDEX execd_executions_leased ON execd_executions (lease_until)"
    "  WHERE state IN ('STARTING', 'RUNNING');"
    "DROP FUNCTION execd_insert(text, text, text, text, text, jsonb, bigint, text);"
    "CREATE FUNCTION execd_insert(p_id text, p_tenant text, p_state text,"
    "    p_agent text, p_idem text, p_labels jsonb, p_created bigint, p_doc text,"
    "    p_backend text, p_priority int)"
    "  RETURNS TABLE (status int, doc text) LANGUAGE plpgsql AS $f$\n"
    "#variable_conflict use_column\n"
    "DECLARE v_doc text;\n"
    "BEGIN\n"
    "  IF p_idem IS NOT NULL THEN\n"
    "    PERFORM pg_advisory_xact_lock(hashtext(p_tenant), hashtext(p_idem));\n"
    "    SELECT e.doc INTO v_doc FROM execd_idempotency i\n"
    "      JOIN execd_executions e ON e.id = i.id\n"
    "      WHERE i.tenant = p_tenant AND i.key = p_idem\n"
    "        AND i.created_ms > (extract(epoch FROM now()) * 1000)::bigint - 86400000;\n"
    "    IF FOUND THEN RETURN QUERY SELECT 1, v_doc; RETURN; END IF;\n"
    "  END IF;\n"
    "  INSERT INTO execd_executions (id, tenant, state, agent, idempotency_key,"
    "      labels, created_ms, doc, backend, priority)\n"
    "    VALUES (p_id, p_tenant, p_state, p_agent, p_idem, p_labels, p_created, p_doc,"
    "      p_backend, p_priority)\n"
    "    ON CONFLICT (id) DO NOTHING;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN QUERY SELECT 2, e.doc FROM execd_executions e WHERE e.id = p_id;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF p_idem IS NOT NULL THEN\n"
    "    INSERT INTO execd_idempotency AS i (tenant, key, id, created_ms)\n"
    "      VALUES (p_tenant, p_idem, p_id, p_created)\n"
    "      ON CONFLICT (tenant, key) DO UPDATE SET id = excluded.id,"
    "        created_ms = excluded.created_ms\n"
    "        WHERE i.created_ms <= excluded.created_ms;\n"
    "  END IF;\n"
    "  IF p_state = 'QUEUED' THEN PERFORM pg_notify('execd_work', ''); END IF;\n"
    "  RETURN QUERY SELECT 0, NULL::text;\n"
    "END $f$;"
    /* update: the compare-and-set on state and, with p_token, on the
     * lease's token, in one statement; a state that is not QUEUED,
     * STARTING or RUNNING releases the lease; RETRY_WAIT is due at p_due. */
    "DROP FUNCTION execd_update(text, text, text, text, jsonb, text);"
    "CREATE FUNCTION execd_update(p_id text, p_expected text, p_state text,"
    "    p_agent text, p_labels jsonb, p_doc text, p_token bigint, p_due bigint)"
    "  RETURNS TABLE (status int, doc text) LANGUAGE plpgsql AS $f$\n"
    "#variable_conflict use_column\n"
    "DECLARE v_doc text; v_held boolean;\n"
    "BEGIN\n"
    "  v_held := p_state IN ('QUEUED', 'STARTING', 'RUNNING');\n"
    "  UPDATE execd_executions e SET state = p_state, agent = p_agent,"
    "      labels = p_labels, doc = p_doc, updated_at = now(),"
    "      due_ms = CASE WHEN p_state = 'RETRY_WAIT' THEN p_due END,"
    "      lease_node = CASE WHEN v_held THEN e.lease_node END,"
    "      lease_until = CASE WHEN v_held THEN e.lease_until END\n"
    "    WHERE e.id = p_id AND (p_expected IS NULL OR e.state = p_expected)"
    "      AND (p_token IS NULL OR e.lease_token = p_token);\n"
    "  IF FOUND THEN RETURN QUERY SELECT 0, NULL::text; RETURN; END IF;\n"
    "  SELECT e.doc INTO v_doc FROM execd_executions e WHERE e.id = p_id;\n"
    "  IF FOUND THEN RETURN QUERY SELECT 1, v_doc;\n"
    "  ELSE RETURN QUERY SELECT 2, NULL::text; END IF;\n"
    "END $f$;";

/* What claim, rescue and renew hand back of a leased row: its id, doc and
 * lease (token, expiry in ms). */
#define LEASE_RETURNING                                                      \
  " RETURNING e.id, e.doc, e.lease_token, e.lease_node,"                     \
  " (extract(epoch FROM e.lease_until) * 1000)::bigint"
#define LEASE_SET                                                            \
  " SET lease_node = $1, lease_token = e.lease_token + 1,"                   \
  " lease_until = now() + make_interval(secs => $2::double precision / 1000)"

const uvpq_statement pg_statements[] = {
    {"execd_insert",
     "SELECT status, doc FROM execd_insert($1, $2, $3, $4, $5, $6::jsonb, "
     "$7::bigint, $8, $9, $10::int)"},
    {"execd_update",
     "SELECT status, doc FROM execd_update($1, $2, $3, $4, $5::jsonb, $6, "
     "$7::bigint, $8::bigint)"},
    /* An execution without idempotency key inserted QUEUED and claimed in
     * one statement: $9 node, $10 lease ms; the first lease's token is 1.
     * Claimed only if no older claimable execution of its backend and at
     * least its priority waits (it would go first in a claim): otherwise
     * it is stored unleased with the insert's notification, and claimed in
     * order.  No notification when claimed: no other node may claim it
     * while the lease lasts.  (status, doc, token, expires, notified): 0
     * stored (token NULL if not claimed), or 2 with the doc of the
     * execution that has the id. */
    {"execd_insert_claim",
     "WITH waiting AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM execd_executions"
     "    WHERE state = 'QUEUED' AND backend = $7 AND priority >= $8::int"
     "      AND (lease_until IS NULL OR lease_until < now())) AS older),"
     " ins AS (INSERT INTO execd_executions (id, tenant, state, agent,"
     "    labels, created_ms, doc, backend, priority, lease_node, lease_until,"
     "    lease_token)"
     "  SELECT $1, $2, 'QUEUED', $3, $4::jsonb, $5::bigint, $6, $7, $8::int,"
     "    CASE WHEN w.older THEN NULL ELSE $9 END,"
     "    CASE WHEN w.older THEN NULL"
     "      ELSE now() + make_interval(secs => $10::double precision / 1000) END,"
     "    CASE WHEN w.older THEN 0 ELSE 1 END FROM waiting w"
     "  ON CONFLICT (id) DO NOTHING"
     "  RETURNING lease_node, lease_token,"
     "    (extract(epoch FROM lease_until) * 1000)::bigint AS until),"
     " woken AS (SELECT pg_notify('execd_work', '') FROM ins WHERE ins.lease_node IS NULL) "
     "SELECT 0 AS status, NULL::text AS doc,"
     "  CASE WHEN i.lease_node IS NULL THEN NULL ELSE i.lease_token END, i.until,"
     "  (SELECT count(*) FROM woken) FROM ins i "
     "UNION ALL SELECT 2, e.doc, NULL, NULL, 0 FROM execd_executions e"
     "  WHERE e.id = $1 AND NOT EXISTS (SELECT 1 FROM ins)"},
    /* $1 node, $2 lease ms, $3 at most, $4 backends (a JSON array).  The
     * CTE is MATERIALIZED so that its LIMIT runs once: it cannot claim
     * more than asked.  Queued first by priority then age, then retries
     * due, oldest due first. */
    {"execd_claim",
     "WITH picked AS MATERIALIZED ("
     "  (SELECT id FROM execd_executions"
     "    WHERE state = 'QUEUED' AND (lease_until IS NULL OR lease_until < now())"
     "      AND backend IN (SELECT jsonb_array_elements_text($4::jsonb))"
     "    ORDER BY priority DESC, id LIMIT $3::int FOR UPDATE SKIP LOCKED)),"
     " due AS MATERIALIZED ("
     "  (SELECT id FROM execd_executions"
     "    WHERE state = 'RETRY_WAIT'"
     "      AND due_ms <= (extract(epoch FROM now()) * 1000)::bigint"
     "      AND backend IN (SELECT jsonb_array_elements_text($4::jsonb))"
     "    ORDER BY due_ms LIMIT greatest($3::int - (SELECT count(*) FROM picked), 0)"
     "    FOR UPDATE SKIP LOCKED)) "
     "UPDATE execd_executions e" LEASE_SET
     " WHERE e.id IN (SELECT id FROM picked UNION ALL SELECT id FROM due)"
     LEASE_RETURNING},
    /* $1 node, $2 lease ms, $3 at most: attempts whose lease expired. */
    {"execd_rescue",
     "WITH lost AS MATERIALIZED ("
     "  SELECT id FROM execd_executions"
     "    WHERE state IN ('STARTING', 'RUNNING') AND lease_until < now()"
     "    ORDER BY lease_until LIMIT $3::int FOR UPDATE SKIP LOCKED) "
     "UPDATE execd_executions e" LEASE_SET
     " WHERE e.id IN (SELECT id FROM lost)" LEASE_RETURNING},
    /* $1 node, $2 lease ms, $3 [{"id", "token"}]: the leases still held. */
    {"execd_renew",
     "UPDATE execd_executions e"
     " SET lease_until = now() + make_interval(secs => $2::double precision / 1000)"
     " FROM jsonb_to_recordset($3::jsonb) AS l(id text, token bigint)"
     " WHERE e.id = l.id AND e.lease_token = l.token AND e.lease_node = $1"
     "   AND e.state IN ('QUEUED', 'STARTING', 'RUNNING') RETURNING e.id"},
    {"execd_get", "SELECT doc FROM execd_executions WHERE id = $1"},
    {"execd_remove",
     "WITH gone AS (DELETE FROM execd_executions WHERE id = $1 RETURNING 1) "
     "SELECT count(*) FROM gone"},
    {"execd_log_append",
     "SELECT size, capped FROM execd_log_append($1, $2::bytea, $3::bigint, "
     "$4::bigint, $5::boolean)"},
    {"execd_log_read", "SELECT execd_log_read($1, $2::bigint, $3::int)"},
    {"execd_log_marks",
     "SELECT -1::bigint AS off, 0::bigint AS at_us FROM execd_executions "
     "WHERE id = $1 "
     "UNION ALL "
     "SELECT c.off, c.at_us FROM execd_log_chunks c WHERE c.id = $1 "
     "AND c.off >= coalesce((SELECT max(m.off) FROM execd_log_chunks m "
     "WHERE m.id = $1 AND m.off <= $2::bigint), 0) AND c.off < $3::bigint "
     "ORDER BY 1"},
    {"execd_quarantine", "SELECT execd_quarantine($1, $2)"},
    {"execd_retention",
     "WITH doomed AS (SELECT id FROM execd_executions "
     "WHERE state IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED') "
     "AND updated_at < now() - make_interval(secs => $1::double precision / 1000) "
     "ORDER BY updated_at LIMIT $2::int FOR UPDATE SKIP LOCKED), "
     "gone AS (DELETE FROM execd_executions e USING doomed d WHERE e.id = d.id "
     "RETURNING 1) SELECT count(*) FROM gone"},
};
const size_t pg_n_statements = sizeof pg_statements / sizeof pg_statements[0];

/* --- migration at start ---------------------------------------------------- */

typedef struct migration {
  uvpq_pool *pool;
  int step;      /* queries answered */
  bool failed, finished, closed;
  int version;   /* found in execd_schema, 0 if none */
  char err[1024];
} migration;

static void migrate_query(migration *m, const char *sql, bool simple);

static void on_migrate(void *arg, PGresult *res, const char *error) {
  migration *m = arg;
  if (m->failed || m->finished)
    return;
  if (error) {
    snprintf(m->err, sizeof m->err, "%s", error);
    m->failed = true;
    return;
  }
  m->step++;
  if (m->step == 2) { /* the version */
    m->version = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
    if (m->version > PG_SCHEMA_VERSION) {
      snprintf(m->err, sizeof m->err,
               "the database holds execd schema version %d, newer than the "
               "version %d this execd understands: upgrade execd, or point "
               "conninfo at another database",
               m->version, PG_SCHEMA_VERSION);
      m->failed = true;
      migrate_query(m, "ROLLBACK", false);
      return;
    }
    if (m->version == 0)
      migrate_query(m, schema_v1, true);
    if (m->version < 2) {
      migrate_query(m, schema_v2, true);
      migrate_query(m, "INSERT INTO execd_schema (version) VALUES (2)", false);
    }
    migrate_query(m, "COMMIT", false);
  } else if (m->step >= 3 && res && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
    m->finished = true;
  }
}

static void migrate_query(migration *m, const char *sql, bool simple) {
  uvpq_query_spec q = {.sql = sql, .lane = 0, .simple = simple};
  uvpq_query(m->pool, &q, on_migrate, m);
}

static void on_migration_closed(void *arg) { ((migration *)arg)->closed = true; }
static void on_deadline(uv_timer_t *t) { *(bool *)t->data = true; }
static void on_closed_timer(uv_handle_t *h) { (void)h; }

int schema_migrate(const char *conninfo, unsigned wait_ms, char *err, size_t errlen) {
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    snprintf(err, errlen, "cannot make a loop");
    return EXECD_EIO;
  }
  migration m = {0};
  uvpq_config cfg = {.conninfo = conninfo, .pool_size = 1};
  m.pool = uvpq_pool_new(&loop, &cfg, err, errlen);
  if (!m.pool) {
    uv_loop_close(&loop);
    return EXECD_ECONFIG;
  }
  uvpq_pool_start(m.pool);
  /* One transaction, under a lock that makes concurrent starts take turns. */
  migrate_query(&m, "BEGIN; SELECT pg_advisory_xact_lock(7254531001); "
                    "CREATE TABLE IF NOT EXISTS execd_schema ("
                    "  version integer NOT NULL,"
                    "  installed timestamptz NOT NULL DEFAULT now())",
                true);
  migrate_query(&m, "SELECT max(version) FROM execd_schema", false);
  bool late = false;
  uv_timer_t deadline;
  uv_timer_init(&loop, &deadline);
  deadline.data = &late;
  uv_timer_start(&deadline, on_deadline, wait_ms, 0);
  while (!m.failed && !m.finished && !late)
    uv_run(&loop, UV_RUN_ONCE);
  uv_timer_stop(&deadline);
  uv_close((uv_handle_t *)&deadline, on_closed_timer);
  /* A connection still being made when the deadline passed is given up. */
  uvpq_pool_close_now(m.pool, on_migration_closed, &m);
  while (!m.closed)
    uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (m.finished && !m.failed)
    return 0;
  if (late && !m.failed)
    snprintf(m.err, sizeof m.err, "no answer from PostgreSQL within %u ms", wait_ms);
  snprintf(err, errlen, "%s", m.err);
  return late || strstr(m.err, "newer") == NULL ? EXECD_EUNAVAIL : EXECD_ECONFIG;
}
