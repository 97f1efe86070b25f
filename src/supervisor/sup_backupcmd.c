/*
 * sup_backupcmd.c - `keysupd backup` and `keysupd restore` (sup_backup.c).
 *
 * They open the registry (SQLite's online backup API, pg_dump/pg_restore),
 * which is daemon work: the `keysup` CLI links none of it and its `backup`
 * and `restore` run these (src/cli/cmd_init.c). The output has the CLI's
 * shapes: a JSON object with --json, else "key: value" lines; errors as
 * {"error":{code,message}} or one line on stderr; exit 0 ok, 1 refused,
 * 2 usage, 3 I/O (docs/cli.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keysup/ks_base.h"
#include "sup_backup.h"
#include "sup_cmdout.h"
#include "sup_initcmd.h"


static const char backup_usage[] =
    "usage: keysupd backup --data DIR --out BACKUP_DIR [--json]\n\n"
    "Copies a supervisor into the new directory BACKUP_DIR (mode 0700): keysupd.conf,\n"
    "the sealed signing keys, the TLS pair, and the registry: keysup.db through SQLite's\n"
    "online backup API, or keysup.pgdump through pg_dump when keysupd.conf names a\n"
    "PostgreSQL database (pg_dump from PATH or $KEYSUP_PG_BIN). Safe while keysupd\n"
    "runs. The keys stay sealed with their passphrase: keep that elsewhere.\n"
    "`keysup backup` is the same command (it runs this one).\n";

static const char restore_usage[] =
    "usage: keysupd restore --data DIR --from BACKUP_DIR [--json]\n\n"
    "Puts a backup back into DIR (and, for PostgreSQL, pg_restore --clean into the\n"
    "database keysupd.conf names). Every keysupd on it must be stopped first. The\n"
    "registry goes back to the time of the backup: see the steps printed.\n"
    "`keysup restore` is the same command (it runs this one).\n";


/* --data DIR and --out/--from DIR (second), --json, --help. -1: help shown. */
static int parse(int argc, char **argv, const char *second, const char *usage,
                 const char **data, const char **dir)
{
    sup_cmd_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (strcmp(argv[i], "--json") == 0) {
            sup_cmd_json = 1;
            continue;
        }
        const char **dst = strcmp(argv[i], "--data") == 0 ? data
                           : strcmp(argv[i], second) == 0 ? dir : NULL;
        if (!dst)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "unknown option '%s' (see --help)", argv[i]);
        if (i + 1 >= argc)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "%s needs a value", argv[i]);
        *dst = argv[++i];
    }
    if (!*data || !*dir)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "--data DIR and %s BACKUP_DIR are required", second);
    return 0;
}

int sup_backup_main(int argc, char **argv)
{
    const char *data = NULL, *out = NULL;
    sup_backup_info info;
    char err[1024];
    int ret = parse(argc, argv, "--out", backup_usage, &data, &out);
    if (ret)
        return ret < 0 ? SUP_CMD_OK : ret;
    ret = sup_backup(data, out, &info, err, sizeof err);
    if (ret)
        return sup_cmd_fail(ret == KS_E_IO ? SUP_CMD_IO : SUP_CMD_REFUSED, ret == KS_E_IO ? "IO" : "REFUSED",
                    "keysupd backup: %s", err);
    json_t *o = json_object();
    json_object_set_new(o, "backup", json_string(out));
    json_object_set_new(o, "database", json_string(info.postgresql ? "postgresql (pg_dump)"
                                                                   : "sqlite (online backup)"));
    json_object_set_new(o, "files", json_integer(info.files));
    json_object_set_new(o, "created_at", json_integer((json_int_t)info.created_at));
    json_object_set_new(o, "note", json_string("the signing keys in it are sealed with their "
                                               "passphrase; store the backup and the passphrase "
                                               "apart"));
    sup_cmd_emit(o);
    json_decref(o);
    return SUP_CMD_OK;
}

int sup_restore_main(int argc, char **argv)
{
    const char *data = NULL, *from = NULL;
    sup_backup_info info;
    char err[1024];
    int ret = parse(argc, argv, "--from", restore_usage, &data, &from);
    if (ret)
        return ret < 0 ? SUP_CMD_OK : ret;
    ret = sup_restore_backup(data, from, &info, err, sizeof err);
    if (ret)
        return sup_cmd_fail(ret == KS_E_IO ? SUP_CMD_IO : SUP_CMD_REFUSED, ret == KS_E_IO ? "IO" : "REFUSED",
                    "keysupd restore: %s", err);
    json_t *o = json_object(), *steps = json_array();
    json_object_set_new(o, "restored", json_string(data));
    json_object_set_new(o, "database", json_string(info.postgresql ? "postgresql (pg_restore)"
                                                                   : "sqlite"));
    json_object_set_new(o, "files", json_integer(info.files));
    /* What the operator does next: the restore detection (sup_restore.c)
     * does the rest, and names what the backup lost. */
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
    json_array_append_new(steps, json_string(
        "5. Licence enforcement changed after the backup is refused by the controllers that"
        " applied it (KSE-802): check `keysup licence enforcement` and set each row again with"
        " `keysup licence enforce`; the new sequence is past what they hold."));
    json_object_set_new(o, "next_steps", steps);
    sup_cmd_emit(o);
    json_decref(o);
    return SUP_CMD_OK;
}
