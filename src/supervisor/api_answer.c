/*
 * api_answer.c - signs every answer to an authenticated device request
 * (docs/formats.md, "Signed answer"): the controller verifies it against
 * its pinned supervisor key before it acts on anything in it, so a proxy
 * on the site network cannot bend a command, the published version, the
 * rotation chain or a time token, nor replay an answer to another request.
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <string.h>

#include <keysup/ks_answer.h>

#include "sup_api.h"
#include "sup_keyview.h"

int api_answer_sign(sup_ctx *s, const sup_req *rq, int status, const uint8_t *body, size_t len,
                    char key_hex[2 * KS_PUBKEY_SIZE + 1], char sig_hex[2 * KS_SIG_SIZE + 1])
{
    ks_answer a;
    uint8_t sk[KS_SECKEY_SIZE], pk[KS_PUBKEY_SIZE], sig[KS_SIG_SIZE];
    int rc;

    memset(&a, 0, sizeof a);
    a.controller_id = (uint64_t)rq->ctrl_id;
    memcpy(a.device_key_id, rq->device_key_id, KS_KEYID_SIZE);
    memcpy(a.nonce, rq->nonce, KS_ANSWER_NONCE_SIZE);
    {
        /* The controller's own challenge, when it sent one: bound so that
         * an answer recorded for an older request with the same nonce never
         * verifies (ks_answer_challenge). A malformed one is ignored: the
         * controller that sent it then refuses the answer, as it should. */
        const char *ch = rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                                "X-Keysup-Challenge") : NULL;
        uint8_t c[KS_ANSWER_CHALLENGE_SIZE];
        if (ch && ks_unhex(c, sizeof c, ch) == 0)
            ks_answer_challenge(&s->crypto, a.nonce, rq->nonce, c);
    }
    a.status = (uint16_t)status;
    ks_answer_bind(&s->crypto, &a, rq->method, rq->url, body, len);
    /* A copy of the key, so a rotation cannot swap it mid-signature; from
     * the key view, not under s->lock, which a heartbeat must not wait on
     * (sup_keyview.h). */
    sup_keyview_get(s, sk, pk);
    rc = ks_answer_sign(&s->crypto, &a, sk, sig);
    ks_wipe(sk, sizeof sk);
    if (rc) {
        sup_log(KS_LOG_ERROR, "device.answer_sign", "controller=%lld error=%s",
               (long long)rq->ctrl_id, ks_strerror(rc));
        return rc;
    }
    ks_hex(key_hex, pk, KS_PUBKEY_SIZE);
    ks_hex(sig_hex, sig, KS_SIG_SIZE);
    return 0;
}
