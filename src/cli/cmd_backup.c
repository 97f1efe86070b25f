/*
 * cmd_backup.c - `keysup backup` and `keysup restore` (sup_backup.c).
 */
#include <string.h>

#include "cli_cmds.h"
#include "sup_backup.h"

static const char backup_usage[] =
    "usage: keysup backup --data DIR --out BACKUP_DIR [--json]\n\n"
    "Copies a supervisor into the new directory BACKUP_DIR (mode 0700): keysupd.conf,\n"
    "the sealed signing keys, the TLS pair, and the registry: keysup.db through SQLite's\n"
    "online backup API, or keysup.pgdump through pg_dump when keysupd.conf names a\n"
    "PostgreSQL database (pg_dump from PATH or $KEYSUP_PG_BIN). Safe while keysupd\n"
    "runs. The keys stay sealed with their passphrase: keep that elsewhere.\n";

static const char restore_usage[] =
    "usage: keysup restore --data DIR --from BACKUP_DIR [--json]\n\n"
    "Puts a backup back into DIR (and, for PostgreSQL, pg_restore --clean into the\n"
    "database keysupd.conf names). Every keysupd on it must be stopped first. The\n"
    "registry goes back to the time of the backup: see the steps printed.\n";

int cmd_backup(cli_ctx *cx, int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *pos[1];
    cli_opt opts[] = {
        {"--data", CLI_VALUE, &data},
        {"--out", CLI_VALUE, &out},
        {NULL, CLI_FLAG, NULL},
    };
    sup_backup_info info;
    char err[1024];
    int ret, npos = 0;
    json_t *o;

    cx->cmd = "keysup backup";
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, backup_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!data || !out)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --data DIR and --out BACKUP_DIR are required",
                       cx->cmd);
    ret = sup_backup(data, out, &info, err, sizeof err);
    if (ret)
        return cli_err(cx, ret == KS_E_IO ? CLI_IO : CLI_REFUSED,
                       ret == KS_E_IO ? "IO" : "REFUSED", "%s: %s", cx->cmd, err);
    o = json_object();
    cli_set_str(o, "backup", out);
    cli_set_str(o, "database", info.postgresql ? "postgresql (pg_dump)" : "sqlite (online backup)");
    json_object_set_new(o, "files", json_integer(info.files));
    json_object_set_new(o, "created_at", json_integer((json_int_t)info.created_at));
    cli_set_str(o, "note", "the signing keys in it are sealed with their passphrase; store the"
                " backup and the passphrase apart");
    return cli_emit(cx, o);
}

int cmd_restore(cli_ctx *cx, int argc, char **argv)
{
    const char *data = NULL, *from = NULL, *pos[1];
    cli_opt opts[] = {
        {"--data", CLI_VALUE, &data},
        {"--from", CLI_VALUE, &from},
        {NULL, CLI_FLAG, NULL},
    };
    sup_backup_info info;
    char err[1024];
    int ret, npos = 0;
    json_t *o, *steps;

    cx->cmd = "keysup restore";
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, restore_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!data || !from)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --data DIR and --from BACKUP_DIR are required",
                       cx->cmd);
    ret = sup_restore_backup(data, from, &info, err, sizeof err);
    if (ret)
        return cli_err(cx, ret == KS_E_IO ? CLI_IO : CLI_REFUSED,
                       ret == KS_E_IO ? "IO" : "REFUSED", "%s: %s", cx->cmd, err);
    o = json_object();
    cli_set_str(o, "restored", data);
    cli_set_str(o, "database", info.postgresql ? "postgresql (pg_restore)" : "sqlite");
    json_object_set_new(o, "files", json_integer(info.files));
    /* What the operator does next: the restore detection (sup_restore.c)
     * does the rest, and names what the backup lost. */
    steps = json_array();
    json_array_append_new(steps, json_string(
        "1. Start keysupd (every instance, for PostgreSQL). It never reuses a version a controller"
        " holds: the first heartbeats of controllers ahead of the backup start a new history."));
    json_array_append_new(steps, json_string(
        "2. Controllers that hold newer versions keep deciding on them and report KSE-304"
        " SUPERVISOR_RESTORED with the revocations the backup does not have: `keysup incidents"
        " --code KSE-304` and `keysup diagnose ID` list them."));
    json_array_append_new(steps, json_string(
        "3. Re-apply what the backup lost: `keysup key revoke KEY_ID` for each key named,"
        " re-enrol keys enrolled after the backup."));
    json_array_append_new(steps, json_string(
        "4. Then `keysup controller command ID initialize` for each controller named: it takes"
        " the supervisor's database and converges."));
    json_object_set_new(o, "next_steps", steps);
    return cli_emit(cx, o);
}
