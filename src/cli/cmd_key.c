/*
 * cmd_key.c - `keysup key keygen|show|rotate`: software key files and
 * supervisor key rotation records.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli_cmds.h"
#include "ks_keyfile.h"
#include "cli_present.h"
#include "cli_pkcs11.h"

static void key_fields(cli_ctx *cx, json_t *o, const uint8_t pk[KS_PUBKEY_SIZE])
{
    uint8_t id[KS_KEYID_SIZE];
    ks_key_id(&cx->crypto, id, pk);
    cli_set_hex(o, "key_id", id, sizeof id);
    cli_set_hex(o, "public_key", pk, KS_PUBKEY_SIZE);
}

static const char keygen_usage[] =
    "usage: keysup key keygen --out FILE [--passphrase-file F | --no-passphrase]\n"
    "                         [--kdf interactive|moderate|sensitive] [--force] [--json]\n"
    "       keysup key keygen --pkcs11 URI [--pin-file F] [--json]\n\n"
    "Creates an Ed25519 key and writes it as a key file (mode 0600), sealed with a\n"
    "passphrase through argon2id + secretbox. The passphrase is the first line of\n"
    "--passphrase-file, else $KEYSUP_PASSPHRASE; it is never taken from the command\n"
    "line. --no-passphrase stores the secret in the clear (tests and demos only).\n"
    "--kdf sets the argon2id cost (default moderate: 3 passes, 256 MiB).\n"
    "Refuses to replace an existing FILE unless --force. Prints the key id and public key.\n\n"
    "--pkcs11 URI makes the key on a PKCS#11 token instead (CKM_EC_EDWARDS_KEY_PAIR_GEN;\n"
    "the secret never leaves it). The URI names the token and the new key's label, e.g.\n"
    "'pkcs11:token=alice;object=keysup' (module-path=... picks the module). The PIN is\n"
    "the first line of --pin-file, else $KEYSUP_PIN, else asked for on the terminal.\n"
    "Prints the public key to enrol with `keysup key enrol --public-key HEX --form pkcs11`.\n";

static int key_keygen(cli_ctx *cx, int argc, char **argv)
{
    const char *out = NULL, *passfile = NULL, *kdf = NULL, *p11 = NULL, *pinfile = NULL, *pos[1];
    int nopass = 0, force = 0, npos = 0, ret;
    cli_opt opts[] = {
        {"--out", CLI_VALUE, &out},
        {"--passphrase-file", CLI_VALUE, &passfile},
        {"--no-passphrase", CLI_FLAG, &nopass},
        {"--kdf", CLI_VALUE, &kdf},
        {"--force", CLI_FLAG, &force},
        {"--pkcs11", CLI_VALUE, &p11},
        {"--pin-file", CLI_VALUE, &pinfile},
        {NULL, CLI_FLAG, NULL},
    };
    const ks_kdf_cost *cost = &ks_kdf_moderate;
    uint8_t seed[KS_KEYFILE_SEED_SIZE], pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE];
    char *pass = NULL;
    size_t passlen = 0;
    json_t *o;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, keygen_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (p11 && (out || passfile || nopass || kdf || force))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pkcs11 makes the key on a token: no "
                       "--out, --passphrase-file, --no-passphrase, --kdf or --force", cx->cmd);
    if (p11)
        return key_keygen_p11(cx, p11, pinfile);
    if (pinfile)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pin-file goes with --pkcs11", cx->cmd);
    if (!out)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --out FILE is required", cx->cmd);
    if (nopass && passfile)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --no-passphrase and --passphrase-file exclude each other", cx->cmd);
    if (kdf) {
        if (strcmp(kdf, "interactive") == 0)
            cost = &ks_kdf_interactive;
        else if (strcmp(kdf, "moderate") == 0)
            cost = &ks_kdf_moderate;
        else if (strcmp(kdf, "sensitive") == 0)
            cost = &ks_kdf_sensitive;
        else
            return cli_err(cx, CLI_USAGE, "USAGE",
                           "%s: --kdf must be interactive, moderate or sensitive", cx->cmd);
    }
    if (!nopass) {
        ret = cli_passphrase(cx, passfile, &pass, &passlen);
        if (ret)
            return ret;
        if (!pass)
            return cli_err(cx, CLI_USAGE, "USAGE",
                           "%s: a passphrase is needed: --passphrase-file FILE, "
                           "KEYSUP_PASSPHRASE, or --no-passphrase for an unprotected test key",
                           cx->cmd);
    }
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    ret = ks_keyfile_write(out, seed, pass, passlen, cost, force);
    if (ret == KS_E_IO) {
        ret = cli_io_err(cx, out, "write");
        goto cleanup;
    }
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "%s: sealing the key", cx->cmd);
        goto cleanup;
    }
    o = json_object();
    key_fields(cx, o, pk);
    cli_set_str(o, "file", out);
    cli_set_bool(o, "encrypted", pass != NULL);
    ret = cli_emit(cx, o);
cleanup:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    cli_passphrase_free(pass, passlen);
    return ret;
}

static const char show_usage[] =
    "usage: keysup key show FILE [--json]\n\n"
    "Shows a key file's key id, public key and protection. Needs no passphrase: the\n"
    "public key is stored in the clear. Checks the file's integrity.\n";

static int key_show(cli_ctx *cx, int argc, char **argv)
{
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {{NULL, CLI_FLAG, NULL}};
    ks_keyfile_info info;
    ks_diag d = {0, 0, NULL};
    json_t *o;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, show_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = ks_keyfile_load_info(pos[0], &info, &d);
    if (ret == KS_E_IO)
        return cli_io_err(cx, pos[0], "read");
    if (ret)
        return cli_core_err(cx, ret, &d, "key file %s", pos[0]);
    o = json_object();
    key_fields(cx, o, info.public_key);
    cli_set_str(o, "file", pos[0]);
    cli_set_bool(o, "encrypted", info.mode != KS_KEYFILE_PLAIN);
    if (info.mode != KS_KEYFILE_PLAIN) {
        cli_set_str(o, "kdf", "argon2id13");
        cli_set_u64(o, "kdf_opslimit", info.opslimit);
        cli_set_u64(o, "kdf_memlimit_kib", info.memlimit_kib);
    }
    return cli_emit(cx, o);
}

static const char rotate_usage[] =
    "usage: keysup key rotate --old OLDKEY --new NEWKEY --seq N --out CHAIN\n"
    "                         [--append | --force] [--created UNIX]\n"
    "                         [--passphrase-file F] [--old-passphrase-file F]\n"
    "                         [--new-passphrase-file F] [--json]\n\n"
    "Makes a supervisor key rotation record, signed by both the old and the new\n"
    "key, that lets a controller trusting OLDKEY move its trust to NEWKEY.\n"
    "--append adds it to the existing chain file CHAIN (its last record must\n"
    "introduce OLDKEY and have a lower sequence number); otherwise CHAIN is a new\n"
    "file. Passphrases: per key, else --passphrase-file, else $KEYSUP_PASSPHRASE.\n";

/* A chain may be long in principle; a verifier follows at most a few. */
#define CHAIN_READ_MAX ((size_t)KS_ROTATION_SIZE * 4096)

static int key_rotate(cli_ctx *cx, int argc, char **argv)
{
    const char *old = NULL, *new_ = NULL, *seq_s = NULL, *out = NULL, *created_s = NULL;
    const char *pf = NULL, *opf = NULL, *npf = NULL, *pos[1];
    int append = 0, force = 0, npos = 0, ret;
    cli_opt opts[] = {
        {"--old", CLI_VALUE, &old},
        {"--new", CLI_VALUE, &new_},
        {"--seq", CLI_VALUE, &seq_s},
        {"--out", CLI_VALUE, &out},
        {"--append", CLI_FLAG, &append},
        {"--force", CLI_FLAG, &force},
        {"--created", CLI_VALUE, &created_s},
        {"--passphrase-file", CLI_VALUE, &pf},
        {"--old-passphrase-file", CLI_VALUE, &opf},
        {"--new-passphrase-file", CLI_VALUE, &npf},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t old_pk[KS_PUBKEY_SIZE], old_sk[KS_SECKEY_SIZE];
    uint8_t new_pk[KS_PUBKEY_SIZE], new_sk[KS_SECKEY_SIZE];
    uint8_t *chain = NULL, *all = NULL;
    size_t chain_len = 0;
    ks_rotation r;
    ks_diag d = {0, 0, NULL};
    json_t *o;

    sodium_memzero(old_sk, sizeof old_sk);
    sodium_memzero(new_sk, sizeof new_sk);
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, rotate_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!old || !new_ || !seq_s || !out)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --old, --new, --seq and --out are required",
                       cx->cmd);
    if (append && force)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --append and --force exclude each other",
                       cx->cmd);
    memset(&r, 0, sizeof r);
    if (cli_parse_u64(seq_s, &r.seq) || r.seq == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --seq must be a positive integer", cx->cmd);
    r.created_at = cli_now();
    if (created_s && cli_parse_time(created_s, &r.created_at))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --created must be unix seconds or "
                       "YYYY-MM-DDTHH:MM:SSZ", cx->cmd);

    ret = cli_load_key(cx, old, opf ? opf : pf, old_pk, old_sk);
    if (ret)
        goto cleanup;
    ret = cli_load_key(cx, new_, npf ? npf : pf, new_pk, new_sk);
    if (ret)
        goto cleanup;
    if (memcmp(old_pk, new_pk, KS_PUBKEY_SIZE) == 0) {
        ret = cli_err(cx, CLI_USAGE, "USAGE", "%s: --old and --new are the same key", cx->cmd);
        goto cleanup;
    }
    if (append) {
        ks_rotation last;
        ret = cli_read(cx, out, CHAIN_READ_MAX, &chain, &chain_len);
        if (ret)
            goto cleanup;
        if (chain_len == 0 || chain_len % KS_ROTATION_SIZE != 0) {
            ret = cli_err(cx, CLI_REFUSED, "FORMAT",
                          "%s: %s is not a rotation chain (%zu bytes, not a multiple of %d)",
                          cx->cmd, out, chain_len, KS_ROTATION_SIZE);
            goto cleanup;
        }
        for (size_t off = 0; off < chain_len; off += KS_ROTATION_SIZE) {
            ret = ks_rotation_decode(&last, chain + off, &d);
            if (ret) {
                d.offset += (uint32_t)off;
                ret = cli_core_err(cx, ret, &d, "rotation chain %s", out);
                goto cleanup;
            }
        }
        /* Refuse here what a controller would refuse later. */
        if (memcmp(last.new_pk, old_pk, KS_PUBKEY_SIZE) != 0) {
            ret = cli_err(cx, CLI_REFUSED, "CHAIN_BROKEN",
                          "%s: the chain in %s ends with another key; the next rotation "
                          "must start from the key its last record introduced", cx->cmd, out);
            goto cleanup;
        }
        if (r.seq <= last.seq) {
            ret = cli_err(cx, CLI_REFUSED, "CHAIN_BROKEN",
                          "%s: --seq %llu must be above the chain's last sequence %llu",
                          cx->cmd, (unsigned long long)r.seq, (unsigned long long)last.seq);
            goto cleanup;
        }
    }
    all = malloc(chain_len + KS_ROTATION_SIZE);
    if (!all) {
        ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
        goto cleanup;
    }
    if (chain_len)
        memcpy(all, chain, chain_len);
    memcpy(r.old_pk, old_pk, KS_PUBKEY_SIZE);
    memcpy(r.new_pk, new_pk, KS_PUBKEY_SIZE);
    ret = ks_rotation_make(&cx->crypto, &r, old_sk, new_sk, all + chain_len);
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "%s: signing the rotation record", cx->cmd);
        goto cleanup;
    }
    ret = cli_write(cx, out, all, chain_len + KS_ROTATION_SIZE, 0644, append || force);
    if (ret)
        goto cleanup;
    o = json_object();
    {
        uint8_t id[KS_KEYID_SIZE];
        ks_key_id(&cx->crypto, id, old_pk);
        cli_set_hex(o, "old_key_id", id, sizeof id);
        ks_key_id(&cx->crypto, id, new_pk);
        cli_set_hex(o, "new_key_id", id, sizeof id);
    }
    cli_set_hex(o, "new_public_key", new_pk, KS_PUBKEY_SIZE);
    cli_set_u64(o, "seq", r.seq);
    cli_set_time(o, "created_at", r.created_at, 0);
    cli_set_u64(o, "chain_records", chain_len / KS_ROTATION_SIZE + 1);
    cli_set_str(o, "file", out);
    ret = cli_emit(cx, o);
cleanup:
    sodium_memzero(old_sk, sizeof old_sk);
    sodium_memzero(new_sk, sizeof new_sk);
    free(chain);
    free(all);
    return ret;
}

static const cli_verb verbs[] = {
    {"keygen", "create a key file and print its key id and public key", key_keygen},
    {"show", "show a key file's key id and public key (no passphrase)", key_show},
    {"rotate", "make or extend a supervisor key rotation chain", key_rotate},
    {"present", "answer a controller's challenge with a key file", key_present},
    {"enrol", "enrol a key at the supervisor (or --generate one)", key_enrol},
    {"list", "list keys at the supervisor", key_list},
    {"get", "show a key at the supervisor", key_get},
    {"grant", "grant privileges to a key", key_grant},
    {"revoke-privilege", "remove privileges from a key", key_revoke_priv},
    {"suspend", "suspend a key", key_suspend},
    {"resume", "resume a suspended key", key_resume},
    {"revoke", "revoke a key for good", key_revoke},
    {"set-validity", "set a key's validity window", key_set_validity},
    {"import", "import keys from a CSV or JSON-lines file (all or nothing)", key_import},
    {"export", "write every key at the supervisor in the import format", key_export},
};

int cmd_key(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "key", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
