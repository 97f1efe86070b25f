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
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sup_console.h"

#define OP_COLS "id, name, role, created_at, failures, last_signin," \
                " CASE WHEN locked_until > strftime('%s','now') THEN locked_until END AS locked_until"

/* The password field, checked for length; NULL after a 400. */
static const char *password_of(sup_resp *rs, json_t *b)
{
    const char *pw = NULL;
    if (api_str(rs, b, "password", 1, KS_OPERATOR_PW_MAX, &pw) < 0)
        return NULL;
    if (strlen(pw) < KS_OPERATOR_PW_MIN) {
        api_error(rs, 400, "BAD_REQUEST", "field 'password': at least %d characters",
                  KS_OPERATOR_PW_MIN);
        return NULL;
    }
    return pw;
}

static void wipe_body(sup_req *rq, const char *pw)
{
    if (pw)
        sodium_memzero((char *)pw, strlen(pw));
    if (rq->body)
        sodium_memzero((char *)rq->body, rq->body_len);
}

static void op_create(sup_req *rq, sup_resp *rs)
{
    json_t *b = api_body(rq, rs), *row = NULL;
    const char *name = NULL, *role = NULL, *pw = NULL;
    char hash[128];
    sup_dbv p[4];
    int rc;

    if (!b)
        return;
    if (api_str(rs, b, "name", 1, 63, &name) < 0 || api_str(rs, b, "role", 1, 16, &role) < 0)
        goto cleanup;
    if (sup_role_from_name(role) == KS_ROLE_NONE) {
        api_error(rs, 400, "BAD_REQUEST", "field 'role': admin, operator or auditor");
        goto cleanup;
    }
    if (!(pw = password_of(rs, b)))
        goto cleanup;
    if (sup_operator_hash(pw, hash) != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot hash the password (out of memory?)");
        goto cleanup;
    }
    p[0] = sup_dbv_text(name);
    p[1] = sup_dbv_text(role);
    p[2] = sup_dbv_text(hash);
    p[3] = sup_dbv_int((int64_t)sup_now());
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_db_exec(rq->s->db, "INSERT INTO operators(name, role, pw_hash, created_at)"
                                " VALUES (?,?,?,?)", p, 4, NULL, NULL);
    if (rc == KS_DB_OK) {
        p[0] = sup_dbv_int(sup_db_last_id(rq->s->db));
        row = api_row(rq->s, "SELECT " OP_COLS " FROM operators WHERE id = ?", p, 1);
        sup_audit(rq->s, 1, rq->actor, "operator.add", name, "ok", NULL, role);
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (rc == KS_DB_CONSTRAINT)
        api_error(rs, 409, "CONFLICT", "field 'name': an operator named '%s' exists", name);
    else if (rc || !row)
        api_db_error(rq, rs, rc ? rc : KS_DB_ERR);
    else
        api_json(rs, 201, row);
cleanup:
    sodium_memzero(hash, sizeof hash);
    wipe_body(rq, pw);
    json_decref(b);
}

static void op_list(sup_req *rq, sup_resp *rs)
{
    api_rows(rq, rs, "SELECT " OP_COLS " FROM operators ORDER BY id", NULL, 0);
}

/* Runs one statement on operator args[0] and answers its row, or 404. */
static void op_change(sup_req *rq, sup_resp *rs, const char *sql, const sup_dbv *extra,
                      const char *action)
{
    int64_t id;
    sup_dbv p[2];
    json_t *row = NULL;
    char target[48];
    int rc, n = 0;

    if (api_arg_id(rq, rs, 0, "operator", &id))
        return;
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
        row = api_row(rq->s, "SELECT " OP_COLS " FROM operators WHERE id = ?", &p[n - 1], 1);
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
    json_t *b = api_body(rq, rs);
    const char *pw = NULL;
    char hash[128];
    sup_dbv h;

    if (!b)
        return;
    if (!(pw = password_of(rs, b)))
        goto cleanup;
    if (sup_operator_hash(pw, hash) != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot hash the password (out of memory?)");
        goto cleanup;
    }
    h = sup_dbv_text(hash);
    op_change(rq, rs, "UPDATE operators SET pw_hash = ?, failures = 0, first_failure = NULL,"
                      " locked_until = NULL WHERE id = ?", &h, "operator.password");
    sodium_memzero(hash, sizeof hash);
cleanup:
    wipe_body(rq, pw);
    json_decref(b);
}

const sup_route sup_routes_operators[] = {
    {"POST", "/v1/operators", KS_ROLE_ADMIN, op_create},
    {"GET", "/v1/operators", KS_ROLE_ADMIN, op_list},
    {"DELETE", "/v1/operators/*", KS_ROLE_ADMIN, op_delete},
    {"POST", "/v1/operators/*/unlock", KS_ROLE_ADMIN, op_unlock},
    {"POST", "/v1/operators/*/password", KS_ROLE_ADMIN, op_password},
    {NULL, NULL, 0, NULL},
};
