/*
 * sup_cmdout.h - the output of keysupd's one-shot commands (init, backup,
 * restore): the CLI's shapes, so `keysup init|backup|restore`, which run
 * them, answer as every other keysup command does (docs/cli.md).
 */
#ifndef KEYSUP_SUP_CMDOUT_H
#define KEYSUP_SUP_CMDOUT_H

/* Exit codes, as the CLI's. */
enum { SUP_CMD_OK = 0, SUP_CMD_REFUSED = 1, SUP_CMD_USAGE = 2, SUP_CMD_IO = 3,
       SUP_CMD_INTERNAL = 4 };

/* 1 after --json: answers and errors are JSON on stdout. */
extern int sup_cmd_json;

/*
 * Reports an error and returns exit_code: {"error":{code,message}} on stdout
 * with --json, else one line on stderr (with the code for a refusal).
 */
int sup_cmd_fail(int exit_code, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prints a command's answer: the object as JSON with --json, else one
 * "key: value" line per member, values aligned after the longest key;
 * integers as numbers, an array of strings as indented lines under its key.
 */
struct json_t;
void sup_cmd_emit(struct json_t *o);

#endif
