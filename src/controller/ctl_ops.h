/*
 * ctl_ops.h - the control socket's operations as a table: each request
 * {"op": NAME, ...} is looked up by name, and the entry says what it takes,
 * whether it needs an enrolled controller, and what it does. The operations
 * a reader or terminal uses are in ctl_ops.c; the test-only fault hooks are
 * a table of their own (ctl_fault.c), consulted only when the agent was
 * started with --enable-fault-hooks.
 */
#ifndef KEYSUP_CTL_OPS_H
#define KEYSUP_CTL_OPS_H

#include <jansson.h>

#include "ctl_agent.h"

typedef json_t *(*ctl_op_fn)(ctl_agent *a, json_t *req);

#define CTL_OP_ENROLLED 1u /* refused with NOT_ENROLLED until the controller is enrolled */

typedef struct ctl_op {
    const char *name;  /* the "op" value */
    const char *args;  /* the request's other fields, e.g. "reader? action" (? = optional) */
    unsigned flags;    /* CTL_OP_* */
    ctl_op_fn fn;
    const char *help;  /* one line, for {"op":"help"} and docs/controller.md */
} ctl_op;

/* The operations of a reader and a terminal, ended by a {NULL} entry. */
extern const ctl_op ctl_ops[];
/* The fault hooks (ctl_fault.c): one op, "fault", and its kinds. */
extern const ctl_op ctl_fault_ops[];
/* {"op":"help"} lists the fault kinds too when the hooks are on. */
json_t *ctl_fault_kinds_json(void);

/* {"error":{"code":code,"message":...}} */
json_t *ctl_fail(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* {"error":{"code":"KSE-n","symbol":...,"message":...,"check":what}} */
json_t *ctl_kse_fail(int err, const char *what);

#endif
