/*
 * sup_console.h - the operator console's supervisor side (docs/console.md):
 * operator accounts with Argon2id passwords and a pam_faillock-style lock
 * (sup_operator.c), browser sessions (sup_session.c), the console's config
 * keys (sup_console_config.c). The HTTP routes are api_console.c and
 * api_operators.c.
 */
#ifndef KEYSUP_SUP_CONSOLE_H
#define KEYSUP_SUP_CONSOLE_H

#include <stdio.h>

#include "sup_api.h"

/* The file `keysup init` leaves the first admin's password in (mode 0600). */
#define KS_CONSOLE_ADMIN_PW_FILE "console-admin.password"
#define KS_OPERATOR_PW_MIN 10
#define KS_OPERATOR_PW_MAX 256

/* Migration: operators and console_sessions (sup_db_migrate.c). */
extern const char sup_console_schema[];

/* ----- config (sup_console_config.c) ----- */

void sup_console_config_defaults(sup_config *c);
/* 0 set, -1 bad value, -2 not a console key. */
int sup_console_config_key(sup_config *c, const char *k, const char *v);
void sup_console_config_write(const sup_config *c, FILE *f);
/* The directory the console's files are served from (see web_dir). */
void sup_console_web_dir(const sup_ctx *s, char *out, size_t n);

/* ----- operators (sup_operator.c) ----- */

/*
 * The first admin operator, "admin", with a random password written to
 * DATA/console-admin.password (0600) for the person who ran init. Called
 * once by init with the new database (inside its transaction).
 */
int sup_operator_bootstrap(sup_db *db, const char *data_dir);

/* Argon2id string of password (crypto_pwhash_str, interactive cost). */
int sup_operator_hash(const char *password, char out[128]);

/* Result of a sign-in attempt. */
typedef struct sup_signin {
    int64_t operator_id;
    int role;
    char name[64];
    int locked;             /* KSE-740: refused without checking the password */
    uint64_t retry_after;   /* seconds until the lock ends */
    uint32_t failures;      /* failures counted so far (after this one) */
} sup_signin;

/* KS_OK when name/password are right and the account is not locked (its
 * failures cleared); KS_E_BAD_CREDENTIALS for a wrong pair (counted, maybe locking);
 * KS_E_OPERATOR_LOCKED when locked (for from's source: sup_srclock.c); KS_E_IO for a database error. Takes the lock. */
int sup_operator_signin(sup_ctx *s, const char *name, const char *password,
                        const sup_client *from, sup_signin *out);

/* ----- sessions (sup_session.c) ----- */

/* A new session for operator id: cookie value (kss_ + 64 hex) and CSRF
 * token (64 hex). Lock held. */
int sup_session_create(sup_ctx *s, int64_t operator_id, const char *address, char cookie[80],
                       char csrf[65]);
/* After sup_session_auth succeeded: the session's CSRF token and absolute
 * end. 0 on success. */
int sup_session_csrf(sup_req *rq, char csrf[65], uint64_t *expires_at);
/* Ends the session of rq's cookie (sign-out); no cookie: nothing. */
void sup_session_end(sup_req *rq);
/* Set-Cookie value (malloc'd) for cookie; NULL cookie clears it. */
char *sup_session_cookie(const sup_ctx *s, const char *cookie);

#endif
