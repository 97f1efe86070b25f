/*
 * ctl_answer.h - the controller checks every supervisor answer it acts on
 * (docs/formats.md, "Signed answer") before acting, and handles Replace
 * Supervisor Credential (ctl_credential.c).
 */
#ifndef KEYSUP_CTL_ANSWER_H
#define KEYSUP_CTL_ANSWER_H

#include "ctl_http.h"

/*
 * KS_OK when r, the answer to the signed request `method path`, carries a
 * valid X-Keysup-Answer-Signature of a pinned supervisor key bound to this
 * controller and to the request's nonce (a key the pinned one rotated to,
 * by a rotation chain the controller checks, counts as pinned). Otherwise:
 *   KS_E_SUPERVISOR_UNTRUSTED  the signature is genuine but by a key this
 *                              controller has not pinned (its public key in
 *                              signer_pk when non-NULL);
 *   KS_E_ANSWER_NOT_AUTHENTIC  anything else: missing, rewritten, replayed,
 *                              reordered, meant for another controller.
 * A failure is logged and counted as a refusal for the health report.
 */
int ctl_answer_check(ctl_agent *a, const char *method, const char *path, const ctl_http_resp *r,
                     uint8_t signer_pk[32]);

/*
 * ctl_http_json with the answer checked: a 2xx answer that fails the check
 * is returned as NULL with *err set (else *err is 0). Non-2xx answers are
 * returned unchecked: the controller acts on none of them.
 */
json_t *ctl_answer_json(ctl_agent *a, const char *method, const char *path, json_t *body,
                        int *status, int *err);

/* Fetches the rotation chain (a checked answer), follows it from the
 * pinned keys and stores the new trust. */
int ctl_answer_rotation(ctl_agent *a);

/* ----- ctl_credential.c: Replace Supervisor Credential ----- */

/*
 * The replace_credential command from an authentic answer. 1 while the
 * one-time code has not been typed at the controller; KS_OK when the new
 * key is pinned; an error (msg says why) otherwise.
 */
int ctl_credential_command(ctl_agent *a, json_int_t id, json_t *args, char *msg, size_t n);
/*
 * An answer genuinely signed by signer_pk, a key this controller has not
 * pinned (KSE-700): the only thing acted on in it is a replace_credential
 * command for exactly that key, once the one-time code typed here matches.
 */
void ctl_credential_untrusted(ctl_agent *a, json_t *ans, const uint8_t signer_pk[32]);

#endif
