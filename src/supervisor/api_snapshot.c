/*
 * api_snapshot.c - GET /v1/device/snapshot served for storms (issue 13
 * item 4, docs/api.md):
 *   - from the published image itself, referenced, never copied: a
 *     thousand controllers downloading a 128 MB database hold one image, not
 *     a thousand copies (libmicrohttpd sends from it and drops the
 *     reference when done);
 *   - resumable: ETag (a hash of the signed header, so it names exactly one
 *     image), Accept-Ranges, and a single `Range: bytes=A-[B]` answered 206
 *     with Content-Range; If-Range with another ETag gets the whole new
 *     image (200); a range past the end is 416;
 *   - bounded: at most max_downloads answers being sent at once; above that
 *     503 KSE-121 with Retry-After (sup_shed.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_pubstore.h"
#include "sup_shed.h"

static void img_unref(void *p) { sup_pimg_unref(p); }

/* "bytes=A-B", "bytes=A-" or "bytes=-N" of total: 0 with [*off, *off+*len),
 * 1 when unsatisfiable (416), -1 when not one plain range (ignored: 200). */
static int parse_range(const char *h, size_t total, size_t *off, size_t *len)
{
    unsigned long long a = 0, b = 0;
    const char *p;
    char *end;
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return -1;
    p = h + 6;
    if (*p == '-') { /* the last N bytes */
        b = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end || b == 0)
            return -1;
        if (b > total)
            b = total;
        *off = total - (size_t)b;
        *len = (size_t)b;
        return total ? 0 : 1;
    }
    if (*p < '0' || *p > '9')
        return -1;
    a = strtoull(p, &end, 10);
    if (*end != '-')
        return -1;
    p = end + 1;
    if (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        b = strtoull(p, &end, 10);
        if (*end || b < a)
            return -1;
    } else {
        b = total ? total - 1 : 0;
    }
    if (a >= total)
        return 1;
    if (b >= total)
        b = total - 1;
    *off = (size_t)a;
    *len = (size_t)(b - a + 1);
    return 0;
}

void api_snapshot_serve(sup_req *rq, sup_resp *rs)
{
    sup_ctx *s = rq->s;
    const char *range = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Range");
    const char *ifr = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "If-Range");
    uint8_t h[KS_HASH_SIZE];
    size_t off = 0, len;
    sup_pimg *im;
    uint32_t retry = sup_shed_download(s);
    int r = -1;

    if (retry) {
        rs->retry_after = retry;
        api_error(rs, 503, "KSE-121", "%u snapshot downloads are being sent (max_downloads);"
                  " retry in %u s", s->cfg.max_downloads, retry);
        return;
    }
    rs->download_slot = 1; /* released by sup_http.c when the answer is done */
    im = sup_pub_image(s, rq->ctrl_scope);
    if (!im) {
        api_error(rs, 503, "NOT_FOUND", "no snapshot published yet for scope %u; retry shortly",
                  rq->ctrl_scope);
        return;
    }
    {
        ks_iov iov = {im->data, KS_SNAP_HEADER_SIZE};
        s->crypto.hash(s->crypto.ctx, h, &iov, 1);
    }
    rs->etag[0] = '"';
    ks_hex(rs->etag + 1, h, 16);
    strcat(rs->etag, "\"");
    len = im->len;
    /* If-Range names the image the client holds part of: another image
     * means its bytes are useless, so the whole new one is sent. */
    if (range && (!ifr || strcmp(ifr, rs->etag) == 0))
        r = parse_range(range, im->len, &off, &len);
    if (r == 1) {
        size_t total = im->len;
        sup_pimg_unref(im);
        snprintf(rs->content_range, sizeof rs->content_range, "bytes */%zu", total);
        api_error(rs, 416, "BAD_REQUEST", "range '%.40s' is outside the %zu-byte snapshot",
                  range, total);
        return;
    }
    if (r == 0)
        snprintf(rs->content_range, sizeof rs->content_range, "bytes %zu-%zu/%zu", off,
                 off + len - 1, im->len);
    else {
        off = 0;
        len = im->len;
    }
    atomic_fetch_add(&s->metrics.snapshots_served, 1);
    rs->status = r == 0 ? 206 : 200;
    rs->self_signed = 1;
    rs->accept_ranges = 1;
    rs->version = im->version;
    rs->shared = im;
    rs->shared_p = im->data + off;
    rs->shared_len = len;
    rs->shared_free = img_unref;
}
