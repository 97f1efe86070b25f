/*
 * sup_db_migrate.c - the schema, as an ordered list of migrations.
 *
 * Contract: a migration is never edited once released; a schema change is a
 * new entry at the end. Each runs in its own transaction together with the
 * schema_version row that records it, so a crash leaves the database at a
 * whole version. The SQL is the portable subset both backends accept.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "sup_db.h"
#include "sup_db_pg.h"

/* sup_incident.c: the diagnosis incident tables. */
extern const char sup_incident_schema[];
/* sup_pubstore.c: the change log and per-version steps of the publisher. */
extern const char sup_publish_schema[];
/* sup_operator.c: console operators and sessions. */
extern const char sup_console_schema[];
/* sup_licence.c: feature licences. */
extern const char sup_licence_schema[];
/* sup_diag_repair.c: one pending repair per controller and command. */
extern const char sup_repair_schema[];
/* sup_clone.c: key uses across controllers (clone detection, KSE-214). */
extern const char sup_clone_schema[];
/* api_licence_policy.c: licence enforcement per feature. */
extern const char sup_licence_policy_schema[];
/* sup_familiar.c: the addresses console operators signed in from. */
extern const char sup_familiar_schema[];

static const char *const migrations[] = {
    /* 1: the registry. */
    "CREATE TABLE holders(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE keys(id INTEGER PRIMARY KEY, key_id BLOB NOT NULL UNIQUE,"
    " public_key BLOB NOT NULL UNIQUE, holder_id INTEGER REFERENCES holders(id),"
    " label TEXT, privileges INTEGER NOT NULL, valid_from INTEGER NOT NULL,"
    " valid_until INTEGER NOT NULL, state INTEGER NOT NULL, scope INTEGER NOT NULL,"
    " form_factor INTEGER NOT NULL, key_format INTEGER NOT NULL,"
    " counter_floor INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX keys_holder ON keys(holder_id);"
    "CREATE INDEX keys_scope ON keys(scope);"
    "CREATE TABLE policies(name TEXT PRIMARY KEY, title TEXT NOT NULL,"
    " required_privileges INTEGER NOT NULL, two_supervisors INTEGER NOT NULL,"
    " session_timeout INTEGER NOT NULL, seal_blocked INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE controllers(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " site TEXT, model TEXT, scope INTEGER NOT NULL, min_key_format INTEGER NOT NULL,"
    " device_pk BLOB UNIQUE, prov_hash BLOB UNIQUE, prov_expires INTEGER,"
    " enrolled_at INTEGER, firmware_version TEXT, protocol_version INTEGER,"
    " last_seen INTEGER, last_sync INTEGER, applied_version INTEGER, applied_root BLOB,"
    " clock_offset INTEGER, lockout INTEGER NOT NULL DEFAULT 0, last_health TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE commands(id INTEGER PRIMARY KEY,"
    " controller_id INTEGER NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,"
    " command TEXT NOT NULL, args TEXT, state TEXT NOT NULL, result TEXT,"
    " created_by TEXT NOT NULL, created_at INTEGER NOT NULL, acked_at INTEGER);"
    "CREATE INDEX commands_pending ON commands(controller_id, state);"
    "CREATE TABLE tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
    " hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT, result TEXT NOT NULL, code TEXT, detail TEXT);"
    "CREATE INDEX audit_ts ON audit(ts);"
    "CREATE TABLE device_audit(controller_id INTEGER NOT NULL REFERENCES controllers(id)"
    " ON DELETE CASCADE, seq INTEGER NOT NULL, ts INTEGER, received_at INTEGER NOT NULL,"
    " record TEXT NOT NULL, PRIMARY KEY(controller_id, seq));"
    "CREATE TABLE scopes(scope INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0,"
    " dirty INTEGER NOT NULL DEFAULT 1, root BLOB, published_at INTEGER);"
    "CREATE TABLE snapshots(scope INTEGER NOT NULL, version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(scope, version));"
    "CREATE TABLE supervisor_keys(seq INTEGER PRIMARY KEY, public_key BLOB NOT NULL,"
    " key_file TEXT NOT NULL, created_at INTEGER NOT NULL, rotation BLOB);"
    "CREATE TABLE health_reports(id INTEGER PRIMARY KEY,"
    " controller_id INTEGER NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,"
    " received_at INTEGER NOT NULL, report TEXT NOT NULL);"
    "CREATE INDEX health_ctrl ON health_reports(controller_id, received_at);"
    "INSERT INTO scopes(scope) VALUES (0), (1);",

    /* 2: the privileged-action catalogue (privilege bits from ks_record.h:
     * OPERATOR 1, SUPERVISOR 2, ADMIN 4, CALIBRATE 8, REFUND 16, VOID 32,
     * Z_REPORT 64, OVERRIDE 128, FIRMWARE 256, PRICE 512, PARAMETER 1024,
     * USER_MGMT 2048). */
    "INSERT INTO policies VALUES"
    " ('door_override','Door override',130,0,300,0,0),"
    " ('void','Void a sale',34,0,300,0,0),"
    " ('refund','Refund',18,0,300,0,0),"
    " ('price_override','Price override',514,0,300,0,0),"
    " ('z_report','Z-report (end of day)',66,0,600,0,0),"
    " ('calibrate_c01','Calibration setting C01',10,0,900,1,0),"
    " ('calibrate_c02','Calibration setting C02',10,0,900,1,0),"
    " ('calibrate_c03','Calibration setting C03',10,0,900,1,0),"
    " ('calibrate_c04','Calibration setting C04',10,0,900,1,0),"
    " ('calibrate_c05','Calibration setting C05',10,0,900,1,0),"
    " ('calibrate_c06','Calibration setting C06',10,0,900,1,0),"
    " ('calibrate_c07','Calibration setting C07',10,0,900,1,0),"
    " ('parameter_change','Parameter change',1026,0,300,0,0),"
    " ('firmware_update','Firmware update',258,1,600,0,0),"
    " ('user_management','User management',2054,1,300,0,0);",

    /* 3: diagnosis incidents and the actions taken on them (docs/diagnosis.md). */
    sup_incident_schema,

    /* 4: incremental publishing (docs/supervisor.md). */
    sup_publish_schema,

    /* 5: console operators and sessions (docs/console.md). */
    sup_console_schema,
    /* 6: feature licences the supervisor issues (docs/licences.md). */
    sup_licence_schema,
    /* 7: one pending repair per controller and command (docs/diagnosis.md). */
    sup_repair_schema,
    /* 8: key uses across controllers for clone detection (docs/diagnosis.md). */
    sup_clone_schema,
    /* 9: licence enforcement, the rollout rule (docs/licences.md). */
    sup_licence_policy_schema,
    /* 10: console operators' familiar addresses (docs/console.md, "Lockout"). */
    sup_familiar_schema,
    /* 11: a short heartbeat's moving members, kept apart from the whole
     * report in last_health (sup_health.h: the unchanged report is not
     * rewritten every heartbeat). */
    "ALTER TABLE controllers ADD COLUMN last_health_live TEXT;",
};

typedef struct int_ctx {
    int64_t *v;
    int found;
} int_ctx;

static int int_row(void *ctx, int ncol, const sup_dbv *cols, const char *const *names)
{
    int_ctx *c = ctx;
    (void)names;
    if (ncol > 0 && cols[0].type == KS_DBV_INT)
        *c->v = cols[0].i;
    c->found = 1;
    return 1;
}

int sup_db_int(sup_db *db, const char *sql, const sup_dbv *p, int n, int64_t *v)
{
    int_ctx c = {v, 0};
    int rc = sup_db_exec(db, sql, p, n, int_row, &c);
    if (rc)
        return rc;
    return c.found ? KS_DB_OK : 1;
}

int sup_db_migrate(sup_db *db, int *version)
{
    int64_t have = 0;
    int rc;
    size_t n = sizeof migrations / sizeof migrations[0];

    rc = sup_db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY,"
                        " applied_at INTEGER NOT NULL)", NULL, 0, NULL, NULL);
    if (rc)
        return rc;
    rc = sup_db_int(db, "SELECT COALESCE(MAX(version),0) FROM schema_version", NULL, 0, &have);
    if (rc < 0)
        return rc;
    for (size_t i = (size_t)have; i < n; i++) {
        sup_dbv p[2] = {sup_dbv_int((int64_t)i + 1), sup_dbv_int((int64_t)time(NULL))};
        rc = sup_db_begin(db);
        if (rc)
            return rc;
        /* Several keysupd may start at once on one PostgreSQL database:
         * begin() serialised us behind any other migrator, so look again. */
        if (sup_db_int(db, "SELECT COALESCE(MAX(version),0) FROM schema_version", NULL, 0,
                       &have) < 0 || have > (int64_t)i) {
            sup_db_rollback(db);
            if (have > (int64_t)i) {
                i = (size_t)have - 1;
                continue;
            }
            return KS_DB_ERR;
        }
        /* exec runs one statement; split the migration on ';'. */
        const char *s = migrations[i];
        while (*s) {
            const char *e;
            char stmt[4096];
            size_t len;
            while (*s == ' ')
                s++;
            e = s;
            /* A trigger body holds statements of its own: it ends at "END;". */
            if (strncmp(s, "CREATE TRIGGER", 14) == 0 && strstr(s, " END;"))
                e = strstr(s, " END;") + 4;
            while (*e && *e != ';')
                e++;
            len = (size_t)(e - s);
            if (len >= sizeof stmt) {
                rc = KS_DB_ERR;
                break;
            }
            memcpy(stmt, s, len);
            stmt[len] = '\0';
            s = *e ? e + 1 : e;
            if (len == 0)
                continue;
            /* PostgreSQL respells the DDL itself (sup_db_dialect.c) and has
             * its own triggers, run below. */
            if (sup_db_is_pg(db) && strncmp(stmt, "CREATE TRIGGER", 14) == 0)
                continue;
            rc = sup_db_exec(db, stmt, NULL, 0, NULL, NULL);
            if (rc)
                break;
        }
        if (!rc && sup_db_is_pg(db) && sup_db_pg_extra(i + 1))
            for (const char *const *x = sup_db_pg_extra(i + 1); !rc && *x; x++)
                rc = sup_db_exec(db, *x, NULL, 0, NULL, NULL);
        if (!rc)
            rc = sup_db_exec(db, "INSERT INTO schema_version VALUES (?, ?)",
                            p, 2, NULL, NULL);
        if (!rc)
            rc = sup_db_commit(db);
        if (rc) {
            sup_db_rollback(db);
            return rc;
        }
        have = (int64_t)i + 1;
    }
    sup_db_pg_forget_tables(db);
    if (version)
        *version = (int)have;
    return KS_DB_OK;
}
