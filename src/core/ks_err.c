/*
 * ks_err.c - names and descriptions of error codes, diagnostics, and the
 * few helpers every module needs (key id, wipe).
 */
#include <keysup/ks_base.h>

struct err_entry {
    int err;
    const char *name;
    const char *text;
};

/* Read-only table: lives in flash on a microcontroller. */
static const struct err_entry err_table[] = {
    {KS_OK, "OK", "success"},
    {KS_E_INVAL, "INVALID_ARGUMENT", "invalid argument"},
    {KS_E_FORMAT, "FORMAT", "malformed data"},
    {KS_E_SIGNATURE, "BAD_SIGNATURE", "signature does not verify"},
    {KS_E_ROOT, "ROOT_MISMATCH", "records do not match the signed Merkle root"},
    {KS_E_BASE, "WRONG_BASE", "delta does not apply to this database"},
    {KS_E_NOSPC, "NO_SPACE", "not enough space"},
    {KS_E_IO, "IO", "storage or device I/O failed"},
    {KS_E_NOTFOUND, "NOT_FOUND", "not found"},
    {KS_E_CHAIN, "CHAIN_TOO_LONG", "supervisor key rotation chain is longer than allowed"},
    {KS_E_CRYPTO, "CRYPTO", "cryptographic backend failure"},
    {KS_E_PASSPHRASE, "PASSPHRASE", "wrong or missing passphrase"},
    {KS_E_COMM_LOST, "COMM_LOST", "controller cannot reach the supervisor"},
    {KS_E_SYNC_STALE, "SYNC_STALE", "last successful sync is older than policy allows"},
    {KS_E_SITE_UNREACHABLE, "SITE_UNREACHABLE", "many controllers of one site went offline together"},
    {KS_E_SUPERVISOR_BUSY, "SUPERVISOR_BUSY", "the supervisor shed the request; retry later"},
    {KS_E_HB_SESSION_UNKNOWN, "HB_SESSION_UNKNOWN", "the supervisor holds no such heartbeat session; a signed heartbeat opens one"},
    {KS_E_HB_REPORT_NEEDED, "HB_REPORT_NEEDED", "the supervisor holds no report to complete a short heartbeat; send it in full"},
    {KS_E_KEY_ABSENT, "KEY_ABSENT", "no key presented"},
    {KS_E_KEY_UNREADABLE, "KEY_UNREADABLE", "key answered with malformed data"},
    {KS_E_KEY_UNKNOWN, "KEY_UNKNOWN", "key is not in the controller's database"},
    {KS_E_KEY_REVOKED, "KEY_REVOKED", "key is revoked or suspended"},
    {KS_E_KEY_EXPIRED, "KEY_EXPIRED", "key is outside its validity window"},
    {KS_E_SIGNATURE_INVALID, "SIGNATURE_INVALID", "key's challenge response does not verify"},
    {KS_E_CLONE_SUSPECTED, "CLONE_SUSPECTED", "key's use counter went backwards"},
    {KS_E_TOKEN_ABSENT, "TOKEN_ABSENT", "hardware key token is not seated"},
    {KS_E_TOKEN_PIN_WRONG, "TOKEN_PIN_WRONG", "the token refused the PIN"},
    {KS_E_TOKEN_PIN_LOCKED, "TOKEN_PIN_LOCKED", "the token's PIN is locked"},
    {KS_E_TOKEN_KEY_MISSING, "TOKEN_KEY_MISSING", "no such key on the token"},
    {KS_E_TOKEN_KEY_TYPE, "TOKEN_KEY_TYPE", "the token's key is not an Ed25519 signing key"},
    {KS_E_TOKEN_REMOVED, "TOKEN_REMOVED", "the token was removed during the operation"},
    {KS_E_TOKEN_MODULE, "TOKEN_MODULE", "the PKCS#11 module cannot be loaded or failed"},
    {KS_E_KEY_CLONED, "KEY_CLONED", "key's counters contradict the order it was seen at two controllers"},
    {KS_E_DESYNC, "DESYNC", "controller database differs from the published one"},
    {KS_E_STORE_CORRUPT, "STORE_CORRUPT", "flash record or sector fails its CRC"},
    {KS_E_MEMORY_LOST, "MEMORY_LOST", "volatile state was lost"},
    {KS_E_STALE_DENIED, "STALE_DENIED", "key changed since the older database in use"},
    {KS_E_SUPERVISOR_RESTORED, "SUPERVISOR_RESTORED", "supervisor database from another history"},
    {KS_E_FLASH_WEAR, "FLASH_WEAR", "flash projected to wear out soon"},
    {KS_E_FLASH_RETIRED, "FLASH_RETIRED", "flash sectors failed and were retired"},
    {KS_E_PROTOCOL_MISMATCH, "PROTOCOL_MISMATCH", "key format older than the controller's minimum"},
    {KS_E_FIRMWARE_INCOMPATIBLE, "FIRMWARE_INCOMPATIBLE", "controller protocol version not supported"},
    {KS_E_LOCKOUT, "LOCKOUT", "too many failed supervisor attempts"},
    {KS_E_SESSION_EXPIRED, "SESSION_EXPIRED", "supervisor session timed out"},
    {KS_E_NOT_SUPERVISOR, "NOT_SUPERVISOR", "key lacks the privilege for this action"},
    {KS_E_PRIVILEGE_REQUIRED, "PRIVILEGE_REQUIRED", "action needs a supervisor key"},
    {KS_E_SEAL_ENGAGED, "SEAL_ENGAGED", "calibration blocked while the seal switch is on"},
    {KS_E_PENDING_TRANSACTION, "PENDING_TRANSACTION", "an interrupted transaction blocks the action"},
    {KS_E_CLOCK_SKEW, "CLOCK_SKEW", "controller clock is off by more than the tolerance"},
    {KS_E_RTC_FAILURE, "RTC_FAILURE", "real-time clock reset or stopped"},
    {KS_E_SUPERVISOR_UNTRUSTED, "SUPERVISOR_UNTRUSTED", "signed by a supervisor key that is not trusted"},
    {KS_E_ROLLBACK, "ROLLBACK", "snapshot is older than the one applied"},
    {KS_E_SNAPSHOT_EXPIRED, "SNAPSHOT_EXPIRED", "snapshot is past its expiry time"},
    {KS_E_ANSWER_NOT_AUTHENTIC, "ANSWER_NOT_AUTHENTIC", "supervisor answer not authentic"},
    {KS_E_VERSION_CLAIM_UNPROVED, "VERSION_CLAIM_UNPROVED", "controller claims a version it cannot prove"},
    {KS_E_TLS_PIN_MISMATCH, "TLS_PIN_MISMATCH", "supervisor TLS certificate does not match the pin"},
    {KS_E_IDENTITY_CLONED, "IDENTITY_CLONED", "two units run under one controller identity"},
    {KS_E_DATABASE_UNREACHABLE, "DATABASE_UNREACHABLE", "the supervisor cannot reach its PostgreSQL database"},
    {KS_E_SIGNING_KEY_NOT_FOLLOWED, "SIGNING_KEY_NOT_FOLLOWED", "another keysupd rotated the signing key and this one cannot take it"},
    {KS_E_OPERATOR_LOCKED, "OPERATOR_LOCKED", "console operator locked out after failed sign-ins"},
    {KS_E_CONSOLE_SESSION_EXPIRED, "CONSOLE_SESSION_EXPIRED", "console session expired or signed out"},
    {KS_E_CSRF_REJECTED, "CSRF_REJECTED", "console request without its CSRF token"},
    {KS_E_BAD_CREDENTIALS, "BAD_CREDENTIALS", "wrong operator name or password"},
    {KS_E_IMPORT_INVALID, "IMPORT_INVALID", "a key import file has bad rows"},
    {KS_E_IMPORT_CONFLICT, "IMPORT_CONFLICT", "an imported key is enrolled with other attributes"},
    {KS_E_LICENCE_INVALID, "LICENCE_INVALID", "feature licence missing, expired or bound elsewhere"},
    {KS_E_LICENCE_EXPIRING, "LICENCE_EXPIRING", "a feature licence expires soon"},
    {KS_E_LICENCE_POLICY_OLD, "LICENCE_POLICY_OLD", "licence policy older than the one applied"},
    {KS_E_LICENCE_REPLACED, "LICENCE_REPLACED", "licence file revoked or replaced, put back"},
    {KS_E_HARDWARE_FAULT, "HARDWARE_FAULT", "hardware keeps failing after repairs"},
};

static const struct err_entry *err_lookup(int err)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return NULL;
}

const char *ks_err_name(int err)
{
    const struct err_entry *e = err_lookup(err);
    return e ? e->name : "UNKNOWN";
}

const char *ks_strerror(int err)
{
    const struct err_entry *e = err_lookup(err);
    return e ? e->text : "unknown error";
}

int ks_err_kse(int err)
{
    return err <= -100 && err_lookup(err) ? -err : 0;
}

int ks_fail(ks_diag *d, int err, uint32_t offset, const char *what)
{
    if (d) {
        d->err = err;
        d->offset = offset;
        d->what = what;
    }
    return err;
}

void ks_key_id(const ks_crypto *c, uint8_t id[KS_KEYID_SIZE], const uint8_t pk[KS_PUBKEY_SIZE])
{
    uint8_t h[KS_HASH_SIZE];
    ks_iov v = {pk, KS_PUBKEY_SIZE};
    c->hash(c->ctx, h, &v, 1);
    for (unsigned i = 0; i < KS_KEYID_SIZE; i++)
        id[i] = h[i];
}

void ks_wipe(void *p, size_t n)
{
    /* A volatile pointer keeps the stores from being optimised away. */
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--)
        *v++ = 0;
}
