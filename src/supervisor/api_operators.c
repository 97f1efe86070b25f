/*
 * api_operators.c - /v1/operators (admin): the people who sign in to the
 * console. A password is stored only as its Argon2id string; an operator's
 * role is one of the token roles and authorises exactly what a token of
 * that role may do.
 *   POST   /v1/operators                {name, role, password}
 *   GET    /v1/operators                list (no hashes), lock state
 *   DELETE /v1/operators/{id}           remove (its sessions end)
 *   POST   /v1/operators/{id}/unlock    clear failures and the lock
 *   POST   /v1/operators/{id}/password  {password}: new password, sessions end
 * The password fields are SUP_SECRET: the dispatcher wipes the body, its
 * strings and the decoded input, whether or not they are valid.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sup_srclock.h"
#include "sup_console.h"

/* The operator's columns, its lock only while it holds. The time is
 * keysupd's, written in: strftime('%s','now') was SQLite's alone, and made
 * every operator answer a 500 on PostgreSQL (field5). */
static const char *op_select(char *q, size_t n, const char *tail)
{
    snprintf(q, n, "SELECT id, name, role, created_at, failures, last_signin, CASE WHEN"
             " locked_until > %llu THEN locked_until END AS locked_until FROM operators %s",
             (unsigned long long)sup_now(), tail);
    return q;
}

typedef struct op_in {
    int64_t id;
    const char *name, *password;
    int role;
} op_in;

static const char *role_name(int v) { return sup_role_name(v); }

static void op_create(sup_req *rq, sup_resp *rs)
{
    const op_in *in = rq->in;
    json_t *row = NULL;
    char hash[128], q[256];
    sup_dbv p[4];
    int rc;

    if (sup_operator_hash(in->password, hash) != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot hash the password (out of memory?)");
        goto cleanup;
    }
    p[0] = sup_dbv_text(in->name);
    p[1] = sup_dbv_text(sup_role_name(in->role));
    p[2] = sup_dbv_text(hash);
    p[3] = sup_dbv_int((int64_t)sup_now());
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_db_exec(rq->s->db, "INSERT INTO operators(name, role, pw_hash, created_at)"
                                " VALUES (?,?,?,?)", p, 4, NULL, NULL);
    if (rc == KS_DB_OK) {
        p[0] = sup_dbv_int(sup_db_last_id(rq->s->db));
        row = api_row(rq->s, op_select(q, sizeof q, "WHERE id = ?"), p, 1);
        sup_audit(rq->s, 1, rq->actor, "operator.add", in->name, "ok", NULL,
                  sup_role_name(in->role));
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (rc == KS_DB_CONSTRAINT)
        api_error(rs, 409, "CONFLICT", "field 'name': an operator named '%s' exists", in->name);
    else if (rc || !row)
        api_db_error(rq, rs, rc ? rc : KS_DB_ERR);
    else
        api_json(rs, 201, row);
cleanup:
    sodium_memzero(hash, sizeof hash);
}

static void op_list(sup_req *rq, sup_resp *rs)
{
    char q[256];
    api_rows(rq, rs, op_select(q, sizeof q, "ORDER BY id"), NULL, 0);
}

/* Runs one statement on the operator of the path and answers its row, or 404. */
static void op_change(sup_req *rq, sup_resp *rs, const char *sql, const sup_dbv *extra,
                      const char *action)
{
    const op_in *in = rq->in;
    int64_t id = in->id;
    sup_dbv p[2];
    json_t *row = NULL;
    char target[48], q[256];
    int rc, n = 0;

    if (extra)
        p[n++] = *extra;
    p[n++] = sup_dbv_int(id);
    snprintf(target, sizeof target, "operator:%lld", (long long)id);
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_db_exec(rq->s->db, sql, p, n, NULL, NULL);
    if (rc == KS_DB_OK && sup_db_changes(rq->s->db) > 0) {
        /* A changed password or a removed operator ends its sessions. */
        if (strcmp(action, "operator.unlock") != 0)
            sup_db_exec(rq->s->db, "DELETE FROM console_sessions WHERE operator_id = ?", &p[n - 1],
                        1, NULL, NULL);
        row = api_row(rq->s, op_select(q, sizeof q, "WHERE id = ?"), &p[n - 1], 1);
        /* An unlock or a new password also ends the per-source locks. */
        sup_srclock_forget(rq->s, json_string_value(json_object_get(row, "name")));
        sup_audit(rq->s, 1, rq->actor, action, target, "ok", NULL, NULL);
    } else if (rc == KS_DB_OK) {
        rc = 1; /* no such operator */
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (rc == 1)
        api_error(rs, 404, "NOT_FOUND", "no operator %lld", (long long)id);
    else if (rc)
        api_db_error(rq, rs, rc);
    else if (strcmp(action, "operator.remove") == 0)
        api_json(rs, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "removed", 1));
    else
        api_json(rs, 200, row ? row : json_object());
}

static void op_delete(sup_req *rq, sup_resp *rs)
{
    /* Sessions go first by the foreign key's cascade (and op_change). */
    op_change(rq, rs, "DELETE FROM operators WHERE id = ?", NULL, "operator.remove");
}

static void op_unlock(sup_req *rq, sup_resp *rs)
{
    op_change(rq, rs, "UPDATE operators SET failures = 0, first_failure = NULL,"
                      " locked_until = NULL WHERE id = ?", NULL, "operator.unlock");
}

static void op_password(sup_req *rq, sup_resp *rs)
{
    const op_in *in = rq->in;
    char hash[128];
    sup_dbv h;

    if (sup_operator_hash(in->password, hash) != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot hash the password (out of memory?)");
        return;
    }
    h = sup_dbv_text(hash);
    op_change(rq, rs, "UPDATE operators SET pw_hash = ?, failures = 0, first_failure = NULL,"
                      " locked_until = NULL WHERE id = ?", &h, "operator.password");
    sodium_memzero(hash, sizeof hash);
}

#define OP_PASSWORD(F)                                                                    \
    SUP_STR_LEN("password", F, KS_OPERATOR_PW_MIN, KS_OPERATOR_PW_MAX, op_in, password, \
                "the operator's password (stored only as its Argon2id string)")

static const sup_field create_fields[] = {
    SUP_STR("name", SUP_REQUIRED, 63, op_in, name, "the name the operator signs in with"),
    SUP_ENUM("role", SUP_REQUIRED, role_name, KS_ROLE_AUDITOR, KS_ROLE_ADMIN, 0, op_in, role,
             "what the operator may do, as a token of that role"),
    OP_PASSWORD(SUP_REQUIRED | SUP_SECRET),
    SUP_END,
};
static const sup_field id_fields[] = {
    SUP_P_ID("operator", op_in, id),
    SUP_END,
};
static const sup_field password_fields[] = {
    SUP_P_ID("operator", op_in, id),
    OP_PASSWORD(SUP_REQUIRED | SUP_SECRET),
    SUP_END,
};
static const sup_schema create_schema = {sizeof(op_in), SUP_BODY_FIELDS, create_fields};
static const sup_schema id_schema = {sizeof(op_in), SUP_BODY_NONE, id_fields};
static const sup_schema password_schema = {sizeof(op_in), SUP_BODY_FIELDS, password_fields};

const sup_api_route sup_routes_operators[] = {
    {"POST", "/v1/operators", KS_ROLE_ADMIN, op_create, &create_schema,
     "add a console operator"},
    {"GET", "/v1/operators", KS_ROLE_ADMIN, op_list, &sup_no_input,
     "list the operators (no hashes) with their lock state"},
    {"DELETE", "/v1/operators/*", KS_ROLE_ADMIN, op_delete, &id_schema,
     "remove an operator (its sessions end)"},
    {"POST", "/v1/operators/*/unlock", KS_ROLE_ADMIN, op_unlock, &id_schema,
     "clear an operator's failed sign-ins and lock"},
    {"POST", "/v1/operators/*/password", KS_ROLE_ADMIN, op_password, &password_schema,
     "set an operator's password (its sessions end)"},
    {.method = NULL},
};
