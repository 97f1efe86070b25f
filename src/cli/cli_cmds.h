/*
 * cli_cmds.h - the nouns of `keysup <noun> <verb>`. Each noun lives in its
 * own cmd_<noun>.c and is one row of the table in main.c; adding a noun is
 * a new file, a prototype here and one row there.
 *
 * A noun handler gets argv starting at the verb (argc may be 0) and returns
 * an exit code (enum cli_exit), having printed its own output and errors.
 */
#ifndef KEYSUP_CLI_CMDS_H
#define KEYSUP_CLI_CMDS_H

#include "cli_util.h"

typedef int (*cli_handler)(cli_ctx *cx, int argc, char **argv);

/* A verb of a noun: its name, one-line summary and handler. */
typedef struct cli_verb {
    const char *name;
    const char *summary;
    cli_handler run;
} cli_verb;

/*
 * Runs the verb argv[0] from verbs[0..n). `--help` lists the verbs (exit 0);
 * a missing or unknown verb lists them too but is a usage error (exit 2).
 */
int cli_run_verb(cli_ctx *cx, const char *noun, const cli_verb *verbs, size_t n, int argc,
                 char **argv);

int cmd_key(cli_ctx *cx, int argc, char **argv);
int cmd_snapshot(cli_ctx *cx, int argc, char **argv);
int cmd_delta(cli_ctx *cx, int argc, char **argv);
int cmd_flash(cli_ctx *cx, int argc, char **argv);
int cmd_error(cli_ctx *cx, int argc, char **argv);

/* Supervisor nouns and remote key verbs (through the keysupd API). */
int cmd_init(cli_ctx *cx, int argc, char **argv);
int cmd_backup(cli_ctx *cx, int argc, char **argv);
int cmd_restore(cli_ctx *cx, int argc, char **argv);
int cmd_controller(cli_ctx *cx, int argc, char **argv);
int cmd_holder(cli_ctx *cx, int argc, char **argv);
int cmd_policy(cli_ctx *cx, int argc, char **argv);
int cmd_audit(cli_ctx *cx, int argc, char **argv);
int cmd_token(cli_ctx *cx, int argc, char **argv);
int cmd_operator(cli_ctx *cx, int argc, char **argv);
int cmd_supervisor(cli_ctx *cx, int argc, char **argv);
int cmd_tls(cli_ctx *cx, int argc, char **argv);
/* Diagnosis (cmd_diagnose.c, cmd_incident.c). */
int cmd_diagnose(cli_ctx *cx, int argc, char **argv);
int cmd_incidents(cli_ctx *cx, int argc, char **argv);
int cmd_incident(cli_ctx *cx, int argc, char **argv);
int cmd_licence(cli_ctx *cx, int argc, char **argv); /* cmd_licence.c */
int key_enrol(cli_ctx *cx, int argc, char **argv);
int key_list(cli_ctx *cx, int argc, char **argv);
int key_get(cli_ctx *cx, int argc, char **argv);
int key_grant(cli_ctx *cx, int argc, char **argv);
int key_revoke_priv(cli_ctx *cx, int argc, char **argv);
int key_suspend(cli_ctx *cx, int argc, char **argv);
int key_resume(cli_ctx *cx, int argc, char **argv);
int key_revoke(cli_ctx *cx, int argc, char **argv);
int key_set_validity(cli_ctx *cx, int argc, char **argv);
int key_import(cli_ctx *cx, int argc, char **argv);   /* cmd_key_bulk.c */
int key_export(cli_ctx *cx, int argc, char **argv);
int snap_fetch(cli_ctx *cx, int argc, char **argv);   /* cmd_snapshot_fetch.c */

#endif
