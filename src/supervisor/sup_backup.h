/*
 * sup_backup.h - a supervisor's backup and its restore (sup_backup.c,
 * `keysup backup` / `keysup restore`, docs/operations.md).
 */
#ifndef KEYSUP_SUP_BACKUP_H
#define KEYSUP_SUP_BACKUP_H

#include "sup.h"

typedef struct sup_backup_info {
    int postgresql;        /* the registry was pg_dump'ed / pg_restore'd */
    int files;             /* data directory files copied (config, keys, TLS) */
    uint64_t created_at;
} sup_backup_info;

/* Copies data_dir's files and a consistent copy of its registry into the
 * new directory out_dir (0700). Safe while keysupd runs. */
int sup_backup(const char *data_dir, const char *out_dir, sup_backup_info *info, char *err,
               size_t errlen);
/* Puts the backup in from back into data_dir. keysupd must be stopped
 * (KS_E_INVAL with the reason otherwise). */
int sup_restore_backup(const char *data_dir, const char *from, sup_backup_info *info, char *err,
                       size_t errlen);

#endif
