/*
 * ctl_resume.c - how a controller downloads in a storm (issue 13 item 4,
 * docs/operations.md "Storms"):
 *   - a 503 (KSE-121 SUPERVISOR_BUSY) with Retry-After: no download is
 *     tried before that many seconds plus random jitter of up to as long
 *     again, so a site back from a power cut does not return in lockstep;
 *   - a snapshot cut short keeps what arrived with its ETag; the next try
 *     asks for the rest (Range, If-Range). The supervisor answers 206 with
 *     the rest of the same image, or 200 with a whole new one when the
 *     image changed meanwhile. The image is verified whole (its signature
 *     and Merkle root) before install, as ever: the range is not trusted.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl_http.h"

#define SNAP_PATH "/v1/device/snapshot"

int ctl_busy(ctl_agent *a)
{
    return a->busy_until_ms && ctl_mono_ms() < a->busy_until_ms;
}

void ctl_busy_note(ctl_agent *a, const ctl_http_resp *r)
{
    uint32_t base = r->retry_after ? r->retry_after : 1, jitter;
    if (base > 300)
        base = 300;
    jitter = randombytes_uniform(base * 1000u + 1u);
    a->busy_until_ms = ctl_mono_ms() + (uint64_t)base * 1000u + jitter;
    fprintf(stderr, "keysup-controller: sync.busy HTTP %d retry_after=%u jitter_ms=%u\n",
            r->status, base, jitter);
}

/*
 * A shed heartbeat is an answer: keysupd is there and told us when to come
 * back. Counting it as a lost link would raise KSE-100 on a whole fleet in
 * every storm, and the supervisor's diagnosis would then chase 10,000 link
 * faults that are its own load. So the link watch counts from here, the
 * shed is logged and counted (the health report's "supervisor_busy"), and
 * the heartbeat keeps its rhythm: the next one may well be admitted.
 */
void ctl_shed_heartbeat(ctl_agent *a)
{
    a->shed_heartbeats++;
    a->last_contact = (uint64_t)time(NULL);
    a->last_contact_ms = ctl_mono_ms();
    if (a->comm_lost)
        fprintf(stderr, "keysup-controller: link to the supervisor restored (it is busy)\n");
    a->comm_lost = 0;
    fprintf(stderr, "keysup-controller: sync.busy heartbeat shed, retry_after=%u (%llu shed)\n",
            a->shed_retry_after, (unsigned long long)a->shed_heartbeats);
}

void ctl_resume_drop(ctl_agent *a)
{
    free(a->part);
    a->part = NULL;
    a->part_len = 0;
    a->part_etag[0] = '\0';
}

/* Keeps the bytes of a cut answer: a 200's from the start, a 206's when it
 * continues the part we hold. */
static void keep(ctl_agent *a, ctl_http_resp *r)
{
    uint8_t *p;
    if (!r->etag[0] || !r->len || (r->status != 200 && r->status != 206))
        return;
    if (r->status == 200 || !a->part) {
        if (r->status == 206 && r->range_start != 0)
            return;
        ctl_resume_drop(a);
        a->part = r->body;
        a->part_len = r->len;
        r->body = NULL;
        r->len = 0;
    } else if (r->range_start == a->part_len && strcmp(r->etag, a->part_etag) == 0) {
        if (a->part_len + r->len > CTL_HTTP_MAX || !(p = realloc(a->part, a->part_len + r->len))) {
            ctl_resume_drop(a);
            return;
        }
        memcpy(p + a->part_len, r->body, r->len);
        a->part = p;
        a->part_len += r->len;
        return;
    } else {
        return;
    }
    snprintf(a->part_etag, sizeof a->part_etag, "%s", r->etag);
    fprintf(stderr, "keysup-controller: sync.download_cut kept=%zu bytes etag=%s\n", a->part_len,
            a->part_etag);
}

int ctl_snapshot_fetch(ctl_agent *a, ctl_http_resp *r)
{
    char range[64], ifr[96];
    const char *extra[3] = {NULL, NULL, NULL};
    int resuming = a->part && a->part_len && a->part_etag[0];
    uint8_t *all;

    if (resuming) {
        snprintf(range, sizeof range, "Range: bytes=%zu-", a->part_len);
        snprintf(ifr, sizeof ifr, "If-Range: %s", a->part_etag);
        extra[0] = range;
        extra[1] = ifr;
    }
    if (ctl_http_ex(a, "GET", SNAP_PATH, NULL, 1, extra, 1, r) != 0) {
        if (r->cut)
            keep(a, r);
        ctl_http_free(r);
        return -1;
    }
    if (r->status == 503) {
        ctl_busy_note(a, r);
        return 503;
    }
    if (r->status == 206 && resuming && r->range_start == a->part_len &&
        strcmp(r->etag, a->part_etag) == 0) {
        all = realloc(a->part, a->part_len + r->len + 1);
        if (!all) {
            ctl_resume_drop(a);
            return 500;
        }
        memcpy(all + a->part_len, r->body, r->len);
        free(r->body);
        r->body = all;
        r->len += a->part_len;
        r->body[r->len] = 0;
        r->status = 200;
        fprintf(stderr, "keysup-controller: sync.download_resumed from=%zu total=%zu\n",
                a->part_len, r->len);
        a->part = NULL;
        ctl_resume_drop(a);
        return 0;
    }
    ctl_resume_drop(a); /* a whole answer (or an unusable range): start over */
    return r->status == 200 ? 0 : r->status;
}
