/*
 * sup_devreq.c - a minimal controller for the supervisor API tests: signs
 * device requests the way docs/api.md specifies, and checks what comes back.
 *
 *   sup_devreq keygen                                  -> "SEEDHEX PKHEX"
 *   sup_devreq req URL SEEDHEX CTRL METHOD PATH [BODY] [--out F] [--replay] [--bad-sig]
 *                  [-H 'Name: value']... [--headers F] [--limit-rate BYTES] [--nonce HEX]
 *                  (extra request headers; the answer's headers written to F;
 *                  read the answer at most BYTES per second; --nonce: sign over
 *                  HEX, e.g. a heartbeat answer's next_nonce, instead of fetching one)
 *       prints the status (and with --replay the replay's status) on line 1,
 *       then the body (unless --out F stores it)
 *   sup_devreq verify SNAPFILE PKHEX                   -> "version count root"
 *   sup_devreq apply SNAPFILE DELTAFILE PKHEX OUTFILE  -> "version count root"
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include <keysup/keysup.h>
#include "ks_fileio.h"
#include "ks_hex.h"
#include "ks_sodium.h"

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t add = size * nmemb;
    uint8_t *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, ptr, add);
    b->n += add;
    b->p[b->n] = 0;
    return add;
}

static FILE *hdr_out; /* --headers F */
static long limit_rate; /* --limit-rate BYTES */

static size_t on_hdr(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ud;
    if (hdr_out)
        fwrite(ptr, size, nmemb, hdr_out);
    return size * nmemb;
}

static long http(const char *method, const char *url, struct curl_slist *h, const char *body,
                 buf *out)
{
    CURL *c = curl_easy_init();
    long code = 0;
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    if (limit_rate)
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)limit_rate);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "sup_devreq: %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    return code;
}

static int do_req(int argc, char **argv)
{
    const char *url = argv[2], *seedhex = argv[3], *ctrl = argv[4], *method = argv[5];
    const char *nonce_url = NULL, *replay_url = NULL; /* other keysupd on one database */
    const char *given = NULL; /* --nonce */
    const char *path = argv[6], *body = NULL, *outf = NULL, *extra[8], *hdrf = NULL;
    int nextra = 0;
    int replay = 0, badsig = 0;
    uint8_t seed[32], pk[32], sk[64], nonce[32], bh[32], sig[64];
    char full[1024], nh[65], sh[129], hdr[3][200];
    buf b = {NULL, 0};
    struct curl_slist *h = NULL;
    ks_crypto c;
    long st, st2 = 0;

    for (int i = 7; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) outf = argv[++i];
        else if (strcmp(argv[i], "--replay") == 0) replay = 1;
        else if (strcmp(argv[i], "--nonce-from") == 0 && i + 1 < argc) nonce_url = argv[++i];
        else if (strcmp(argv[i], "--replay-to") == 0 && i + 1 < argc) replay = 1, replay_url = argv[++i];
        else if (strcmp(argv[i], "--bad-sig") == 0) badsig = 1;
        else if (strcmp(argv[i], "--nonce") == 0 && i + 1 < argc) given = argv[++i];
        else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc && nextra < 8) extra[nextra++] = argv[++i];
        else if (strcmp(argv[i], "--headers") == 0 && i + 1 < argc) hdrf = argv[++i];
        else if (strcmp(argv[i], "--limit-rate") == 0 && i + 1 < argc) limit_rate = atol(argv[++i]);
        else body = argv[i];
    }
    ks_sodium_crypto(&c);
    if (ks_unhex(seed, 32, seedhex))
        return 2;
    crypto_sign_seed_keypair(pk, sk, seed);
    snprintf(full, sizeof full, "%s/v1/device/nonce", nonce_url ? nonce_url : url);
    if (given) {
        if (strlen(given) != 64 || ks_unhex(nonce, 32, given))
            return 2;
        memcpy(nh, given, 65);
    } else if (http("GET", full, NULL, NULL, &b) != 200 || !b.p) {
        return 3;
    } else {
        char *p = strstr((char *)b.p, "\"nonce\":\"");
        if (!p || strlen(p + 9) < 64)
            return 3;
        memcpy(nh, p + 9, 64);
        nh[64] = 0;
        if (ks_unhex(nonce, 32, nh))
            return 3;
    }
    free(b.p);
    b.p = NULL;
    b.n = 0;
    {
        ks_iov iov = {body ? body : "", body ? strlen(body) : 0};
        size_t ml = 17 + 32 + strlen(method) + 1 + strlen(path) + 1 + 32, o = 0;
        uint8_t *m = malloc(ml);
        c.hash(c.ctx, bh, &iov, 1);
        memcpy(m, "keysup-device-v1", 17); o = 17;
        memcpy(m + o, nonce, 32); o += 32;
        memcpy(m + o, method, strlen(method)); o += strlen(method); m[o++] = 0;
        memcpy(m + o, path, strlen(path)); o += strlen(path); m[o++] = 0;
        memcpy(m + o, bh, 32);
        crypto_sign_detached(sig, NULL, m, ml, sk);
        free(m);
    }
    if (badsig)
        sig[0] ^= 1;
    ks_hex(sh, sig, 64);
    snprintf(hdr[0], sizeof hdr[0], "X-Keysup-Controller: %s", ctrl);
    snprintf(hdr[1], sizeof hdr[1], "X-Keysup-Nonce: %s", nh);
    snprintf(hdr[2], sizeof hdr[2], "X-Keysup-Signature: %s", sh);
    for (int i = 0; i < 3; i++)
        h = curl_slist_append(h, hdr[i]);
    h = curl_slist_append(h, "Content-Type: application/json");
    for (int i = 0; i < nextra; i++)
        h = curl_slist_append(h, extra[i]);
    snprintf(full, sizeof full, "%s%s", url, path);
    if (hdrf && !(hdr_out = fopen(hdrf, "w")))
        return 3;
    st = http(method, full, h, body, &b);
    if (hdr_out)
        fclose(hdr_out);
    hdr_out = NULL;
    if (replay) {
        buf b2 = {NULL, 0};
        if (replay_url)
            snprintf(full, sizeof full, "%s%s", replay_url, path);
        st2 = http(method, full, h, body, &b2);
        free(b2.p);
    }
    curl_slist_free_all(h);
    if (replay)
        printf("%ld %ld\n", st, st2);
    else
        printf("%ld\n", st);
    if (outf) {
        if (ks_file_write_atomic(outf, b.p ? b.p : (uint8_t *)"", b.n, 0644, 1) != KS_OK)
            return 3;
    } else if (b.p) {
        fwrite(b.p, 1, b.n, stdout);
        putchar('\n');
    }
    free(b.p);
    return 0;
}

static int verify_image(const ks_crypto *c, const uint8_t *img, size_t len, const char *pkhex)
{
    ks_trust t;
    ks_policy p;
    ks_snap_header h;
    ks_diag d = {0, 0, NULL};
    uint8_t pk[32];
    char rh[65];
    int rc;
    if (ks_unhex(pk, 32, pkhex))
        return 2;
    ks_trust_init(&t);
    ks_trust_add(&t, c, pk);
    memset(&p, 0, sizeof p);
    p.trust = &t;
    rc = ks_snapshot_verify(c, img, len, &p, &h, &d);
    if (rc) {
        printf("REFUSED %s %s\n", ks_err_name(rc), d.what ? d.what : "");
        return 1;
    }
    ks_hex(rh, h.root, 32);
    printf("%llu %u %s\n", (unsigned long long)h.version, h.record_count, rh);
    return 0;
}

static int do_verify(char **argv)
{
    uint8_t *img;
    size_t len;
    ks_crypto c;
    int rc;
    ks_sodium_crypto(&c);
    if (ks_file_read(argv[2], 1u << 30, &img, &len))
        return 3;
    rc = verify_image(&c, img, len, argv[3]);
    free(img);
    return rc;
}

static int do_apply(char **argv)
{
    uint8_t *img = NULL, *dl = NULL, *out = NULL;
    size_t ilen, dlen;
    ks_crypto c;
    ks_delta d;
    ks_recsrc base;
    int64_t n;
    int rc = 1;
    ks_sodium_crypto(&c);
    if (ks_file_read(argv[2], 1u << 30, &img, &ilen) || ks_file_read(argv[3], 1u << 30, &dl, &dlen))
        return 3;
    if (ks_delta_parse(&d, dl, dlen, NULL) != KS_OK) {
        printf("REFUSED delta parse\n");
        goto cleanup;
    }
    ks_recsrc_mem(&base, img + KS_SNAP_HEADER_SIZE,
                  (uint32_t)((ilen - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE));
    out = malloc(KS_SNAP_HEADER_SIZE + (size_t)(d.target.record_count + 1) * KS_RECORD_SIZE);
    n = ks_delta_merge(&base, &d, out + KS_SNAP_HEADER_SIZE, d.target.record_count);
    if (n < 0) {
        printf("REFUSED merge %s\n", ks_err_name((int)n));
        goto cleanup;
    }
    memcpy(out, d.target_raw, KS_SNAP_HEADER_SIZE);
    rc = verify_image(&c, out, KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE, argv[4]);
    if (rc == 0 && ks_file_write_atomic(argv[5], out, KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE,
                                        0644, 1) != KS_OK)
        rc = 3;
cleanup:
    free(img);
    free(dl);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (sodium_init() < 0)
        return 4;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
        uint8_t seed[32], pk[32], sk[64];
        char a[65], b[65];
        randombytes_buf(seed, sizeof seed);
        crypto_sign_seed_keypair(pk, sk, seed);
        ks_hex(a, seed, 32);
        ks_hex(b, pk, 32);
        printf("%s %s\n", a, b);
        rc = 0;
    } else if (argc >= 7 && strcmp(argv[1], "req") == 0) {
        rc = do_req(argc, argv);
    } else if (argc == 4 && strcmp(argv[1], "verify") == 0) {
        rc = do_verify(argv);
    } else if (argc == 6 && strcmp(argv[1], "apply") == 0) {
        rc = do_apply(argv);
    } else {
        fprintf(stderr, "usage: see the comment at the top of sup_devreq.c\n");
    }
    curl_global_cleanup();
    return rc;
}
