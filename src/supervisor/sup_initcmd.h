/*
 * sup_initcmd.h - `keysupd init`: setting up a data directory (sup_initcmd.c).
 */
#ifndef KEYSUP_SUP_INITCMD_H
#define KEYSUP_SUP_INITCMD_H

/* argv[0] is "init"; returns the process exit code (docs/cli.md). */
int sup_init_main(int argc, char **argv);
/* `keysupd backup` / `keysupd restore` (sup_backupcmd.c); argv[0] is the verb. */
int sup_backup_main(int argc, char **argv);
int sup_restore_main(int argc, char **argv);

#endif
