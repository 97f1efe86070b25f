/*
 * ks_kse.c - the Key Supervisor Error catalogue. Edit the table, then run
 * `keysup error docs > docs/errors.md`; the test `test_kse` fails
 * until docs/errors.md matches.
 *
 * Steps name exact commands. CTRL stands for a controller id, KEY for a key
 * id, as printed by `keysup controller list` and `keysup key list`.
 *
 * Size: this file is the catalogue, a table of data (one entry per KSE code);
 * it stays one table so that the docs, the CLI and test_kse read one source.
 */
#include "ks_kse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const ks_kse table[] = {
    {100, "COMM_LOST", KS_SEV_ERROR, KS_AREA_COMMUNICATION,
     "Controller cannot reach the supervisor",
     "The controller has missed its heartbeats: the network, the supervisor or the controller's "
     "link is down. The controller keeps deciding offline on its cached database, so keys that "
     "were valid at the last sync still work, but revocations made since then have not reached it.",
     "The supervisor sees no heartbeat for three intervals; the controller sees its requests fail.",
     0, NULL,
     {"Check the controller's network link and that it can resolve and reach the supervisor URL.",
      "Check the supervisor is up: `keysup controller list` answers and shows last_seen.",
      "When the link returns, the controller uploads its audit records and syncs by itself; "
      "confirm with `keysup diagnose CTRL`.",
      NULL}},
    {110, "SYNC_STALE", KS_SEV_ERROR, KS_AREA_SYNC,
     "Credential database older than policy allows",
     "The controller's last successful sync is older than the maximum offline age. It may be "
     "honouring keys that were revoked since, so it has switched to its declared degraded policy.",
     "The controller compares the time of its last applied sync with max_offline_age.",
     1, "When the link is back the supervisor sends Initialize Terminal (a full download) and "
        "checks the controller reports the published Merkle root.",
     {"Restore the link to the supervisor (see KSE-100).",
      "If it does not recover by itself within a heartbeat: `keysup controller command CTRL initialize`.",
      NULL}},
    {120, "SITE_UNREACHABLE", KS_SEV_CRITICAL, KS_AREA_COMMUNICATION,
     "Many controllers of one site went offline together",
     "Several controllers of the same site stopped heartbeating within the same few intervals: "
     "the site lost power or its uplink, not each controller on its own. They keep deciding "
     "offline on their cached databases; revocations made since do not reach them.",
     "The supervisor counts the controllers of each site with an open KSE-100 incident; at "
     "site_fold of them it opens one site incident and files the controllers' incidents under it "
     "instead of paging each one.",
     0, NULL,
     {"Check the site's power and its uplink (router, VPN, ISP) first: one fault explains all the "
      "controllers listed under the incident.",
      "When the site is back its controllers reconnect by themselves; the supervisor spreads their "
      "downloads (503 Retry-After) and closes the incident when none is offline.",
      "If only some of them come back, diagnose those that do not: `keysup diagnose CTRL`.",
      NULL}},
    {121, "SUPERVISOR_BUSY", KS_SEV_INFO, KS_AREA_COMMUNICATION,
     "The supervisor shed the request and asked for a retry",
     "More controllers asked at once than the supervisor serves at a time (max_downloads snapshot "
     "downloads, max_inflight requests): a site back from a power cut, or a fleet re-initialising. "
     "The request was answered 503 with a Retry-After pause instead of queueing without bound.",
     "keysupd counts downloads and requests in flight; above the limits it answers 503 with "
     "Retry-After, and controllers wait that long plus random jitter before asking again.",
     0, NULL,
     {"Nothing, if it passes: the controllers converge by themselves within a few pauses.",
      "If it lasts, raise max_downloads / max_inflight in keysupd.conf (watch memory and CPU), or "
      "spread the fleet's restarts.",
      NULL}},
    {122, "HB_SESSION_UNKNOWN", KS_SEV_INFO, KS_AREA_COMMUNICATION,
     "The supervisor does not hold the controller's heartbeat session",
     "A steady heartbeat is authenticated by a session MAC instead of a signature "
     "(docs/protocol.md, \"Heartbeat session\"). Sessions live in keysupd's memory only: after a "
     "keysupd restart, after the session's hour, on another keysupd of a PostgreSQL cluster, or "
     "when the table was full, the session is not known there and the heartbeat is answered 401.",
     "The controller sends the same heartbeat again signed with its device key, as agents without "
     "sessions always do, and its next heartbeat opens a new session. This is not a replay and "
     "not a lost link; keysupd counts it in keysup_hbsess_unknown_total.",
     0, NULL,
     {"Nothing: expected once per controller after every keysupd restart.",
      "If keysup_hbsess_unknown_total climbs steadily without restarts, check that a load "
      "balancer keeps each controller on one keysupd, and keysup_hbsess_full_total.",
      NULL}},
    {123, "HB_REPORT_NEEDED", KS_SEV_INFO, KS_AREA_COMMUNICATION,
     "The supervisor holds no health report to complete a short heartbeat",
     "A steady heartbeat may leave out its health report when the report has not changed, sending "
     "only its clocks and a hash of the rest (docs/protocol.md, \"The report only when it "
     "changed\"). keysupd keeps the last full report of each controller in memory only: after a "
     "keysupd restart, on another keysupd of a PostgreSQL cluster, or when its table was full, it "
     "cannot complete the short heartbeat and answers 409.",
     "The controller sends the same heartbeat again at once with its full report, and keeps "
     "sending full reports until keysupd confirms it holds one. Nothing is lost; keysupd counts "
     "it in keysup_hbrep_needed_total.",
     0, NULL,
     {"Nothing: expected once per controller after every keysupd restart.",
      "If keysup_hbrep_needed_total climbs steadily without restarts, check that a load balancer "
      "keeps each controller on one keysupd.",
      NULL}},
    {200, "KEY_ABSENT", KS_SEV_INFO, KS_AREA_KEY,
     "No key presented",
     "The action needs a key and none was presented, or it is not seated in the reader.",
     "The reader reports no key when the controller asks for a challenge response.",
     0, NULL,
     {"Insert or hold the key against the reader until the terminal confirms it is read.",
      "Try a different reader on the same controller to rule out the reader.",
      NULL}},
    {201, "KEY_UNREADABLE", KS_SEV_WARNING, KS_AREA_KEY,
     "Key answered with malformed data",
     "The key answered, but its response could not be parsed: dirty or damaged contacts, a "
     "damaged card, or interference.",
     "The response to a challenge has the wrong size or structure.",
     0, NULL,
     {"Clean the key's contacts and present it again.",
      "If it keeps failing, try the same key on another reader; if it fails there too, the key is "
      "damaged: issue a replacement with `keysup key enrol` and revoke the old one with "
      "`keysup key revoke KEY`.",
      NULL}},
    {202, "KEY_UNKNOWN", KS_SEV_WARNING, KS_AREA_KEY,
     "Key not in the controller's database",
     "The controller does not hold this key. Either it was never enrolled for this controller's "
     "scope, or the controller's database is behind (look for KSE-300 or KSE-110 first: many "
     "KEY_UNKNOWN refusals at once are a symptom of a desync, not of bad keys).",
     "Binary search of the key id in the applied snapshot misses.",
     0, NULL,
     {"Check the key is enrolled and in this controller's scope: `keysup key get KEY`.",
      "Check the controller is in step: `keysup diagnose CTRL`.",
      "If the key should be valid here, enrol it or widen its scope; the change reaches online "
      "controllers within seconds.",
      NULL}},
    {203, "KEY_REVOKED", KS_SEV_WARNING, KS_AREA_KEY,
     "Key revoked or suspended",
     "The key is in the database but an operator revoked or suspended it.",
     "The record's state is not active.",
     0, NULL,
     {"Confirm with `keysup key get KEY` who revoked it and when (`keysup audit list --action key.revoke`).",
      "If it was suspended by mistake, an operator resumes it (`keysup key resume KEY`); a "
      "revoked key must be re-enrolled as a new key (`keysup key enrol`).",
      NULL}},
    {204, "KEY_EXPIRED", KS_SEV_WARNING, KS_AREA_KEY,
     "Key outside its validity window",
     "The key is not valid yet or no longer valid at the controller's trusted time. If many keys "
     "expire at once, suspect the clock (KSE-600/601) before the keys.",
     "valid_from / valid_until compared with trusted time, within the documented skew.",
     0, NULL,
     {"Check the key's validity: `keysup key get KEY`.",
      "Check the controller's clock: `keysup diagnose CTRL`.",
      "Extend the validity if appropriate: `keysup key set-validity KEY --valid-until DATE`.",
      NULL}},
    {205, "SIGNATURE_INVALID", KS_SEV_CRITICAL, KS_AREA_KEY,
     "Key's challenge response does not verify",
     "The key's signature over the controller's fresh challenge is wrong: the key is forged, "
     "cloned without its secret, replaying an old response, or its secret was changed.",
     "Ed25519 verification of the response against the enrolled public key fails.",
     0, NULL,
     {"Treat it as an attack until proven otherwise: keep the key and note the holder.",
      "Suspend the key: `keysup key suspend KEY`, and review its decisions: `keysup controller audit CTRL`.",
      "If the holder's key is genuine but damaged, enrol a replacement and revoke the old one.",
      NULL}},
    {206, "CLONE_SUSPECTED", KS_SEV_CRITICAL, KS_AREA_KEY,
     "Key's use counter went backwards",
     "The key presented a use counter at or below one already seen: two physical keys share one "
     "secret (a clone), or an old response was replayed.",
     "The controller keeps the highest counter per key in flash and compares.",
     0, NULL,
     {"Suspend the key at once: `keysup key suspend KEY`.",
      "Find both keys: `keysup controller audit CTRL` shows where each counter was used.",
      "Enrol a new key for the genuine holder and revoke this one: `keysup key revoke KEY`.",
      NULL}},
    {207, "TOKEN_ABSENT", KS_SEV_WARNING, KS_AREA_KEY,
     "Hardware key token not seated",
     "The key lives in a PKCS#11 token (USB dongle, smart card, HSM) and no token matching the "
     "key's pkcs11: URI is present: it is not plugged in or seated in its reader, the reader is "
     "disconnected, or the URI names another token.",
     "No slot of the PKCS#11 module holds a token whose label, serial and model match the URI.",
     0, NULL,
     {"Seat the key: plug the dongle in, or put the card in its reader until the reader's light "
      "shows it is read, then present it again.",
      "List what the module sees: `p11tool --list-token-urls`; the token's label must match "
      "the token= part of the URI.",
      "If the token is seated and still not seen, try another USB port or reader.",
      NULL}},
    {208, "TOKEN_PIN_WRONG", KS_SEV_WARNING, KS_AREA_KEY,
     "Token refused the PIN",
     "The holder's PIN does not open the token. Every wrong PIN uses up one of the token's "
     "tries; at its limit the token locks itself (KSE-209).",
     "The token answers CKR_PIN_INCORRECT to the login; its flags say when few tries are left.",
     0, NULL,
     {"Have the holder enter the PIN again, slowly; a PIN file or KEYSUP_PIN must hold only the "
      "PIN on its first line.",
      "If the token reports that few tries are left, stop and find the right PIN before the "
      "token locks.",
      NULL}},
    {209, "TOKEN_PIN_LOCKED", KS_SEV_ERROR, KS_AREA_KEY,
     "Token PIN locked",
     "The token locked its user PIN after too many wrong PINs. Nothing on the host can unlock "
     "it: only the token's security officer (SO PIN or PUK) can.",
     "The token's flags carry CKF_USER_PIN_LOCKED, or the login answers CKR_PIN_LOCKED.",
     0, NULL,
     {"The PIN is locked: the holder's security officer unlocks it with the SO PIN (for example "
      "`pkcs11-tool --login --login-type so --init-pin`, or the vendor's tool) and sets a new "
      "user PIN.",
      "If nobody holds the SO PIN, the key is lost: enrol a new key with `keysup key enrol` "
      "and revoke this one with `keysup key revoke KEY`.",
      NULL}},
    {210, "TOKEN_KEY_MISSING", KS_SEV_WARNING, KS_AREA_KEY,
     "No such key on the token",
     "The token is present and the PIN opened it, but it holds no private key matching the "
     "object= / id= part of the URI: a different token with the same label, a key deleted or "
     "never generated, or a typing error in the URI.",
     "A search for a private key with the URI's label and id finds nothing.",
     0, NULL,
     {"List the token's keys: `p11tool --login --list-privkeys 'pkcs11:token=LABEL'` and "
      "correct the object= part of the URI.",
      "If the key was never made, make it: `keysup key keygen --pkcs11 URI`, then enrol the "
      "public key it prints.",
      NULL}},
    {211, "TOKEN_KEY_TYPE", KS_SEV_ERROR, KS_AREA_KEY,
     "Token key is not an Ed25519 signing key",
     "The key the URI names is an RSA or NIST-curve key, an Ed448 key, or not allowed to sign, "
     "or the token cannot do EdDSA at all. keysup keys are Ed25519 only.",
     "The key's CKA_KEY_TYPE is not CKK_EC_EDWARDS on edwards25519, or the token refuses "
     "CKM_EDDSA.",
     0, NULL,
     {"Point the URI at the Ed25519 key (`p11tool --list-privkeys` shows each key's type).",
      "If the token has none, make one: `keysup key keygen --pkcs11 URI` (needs a token with "
      "CKM_EC_EDWARDS_KEY_PAIR_GEN: `p11tool --list-mechanisms URI`).",
      NULL}},
    {212, "TOKEN_REMOVED", KS_SEV_WARNING, KS_AREA_KEY,
     "Token removed during the operation",
     "The token was present when the operation started and went away before it finished: "
     "pulled out, a loose USB contact or card, or the reader lost power. Nothing was signed.",
     "The module answers CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT or a closed session in the "
     "middle of a signature.",
     0, NULL,
     {"Seat the key again and keep it seated until the terminal confirms, then present it again.",
      "If it happens repeatedly, replace the USB cable or the reader, or clean the card's contacts.",
      NULL}},
    {213, "TOKEN_MODULE", KS_SEV_ERROR, KS_AREA_KEY,
     "PKCS#11 module cannot be loaded or failed",
     "The vendor's PKCS#11 library named by the URI (module-path= or module-name=) is missing, "
     "is not a PKCS#11 module, or fails to start (its configuration is wrong or its daemon, "
     "such as pcscd, is not running).",
     "p11-kit cannot load or initialise the module, or it answers with a general error.",
     0, NULL,
     {"Check the module is installed and registered: `p11-kit list-modules`.",
      "For a smart-card reader, check pcscd runs: `systemctl status pcscd`.",
      "Check the module's own configuration (for SoftHSM2, the file in SOFTHSM2_CONF).",
      NULL}},
    {214, "KEY_CLONED", KS_SEV_CRITICAL, KS_AREA_KEY,
     "Key seen at two controllers out of counter order",
     "Two controllers each verified the key's signature, and the use counters it signed "
     "contradict the order in which they were presented: at one controller a counter at or "
     "below one it had already signed earlier elsewhere. A genuine key's counter only grows, "
     "so two physical keys hold this key's secret: it was cloned (the field's rule: never clone "
     "the key). Each controller alone saw nothing wrong, because each saw its own counters grow.",
     "The supervisor compares the counters of granted decisions that controllers upload in their "
     "signed audit records: the same counter at two controllers, or a counter at or below one "
     "presented earlier at another controller by more than twice the clock tolerance.",
     0, NULL,
     {"Suspend the key now if the supervisor has not (clone_policy = suspend does it): "
      "`keysup key suspend KEY`.",
      "Find both keys: the incident names the two controllers and counters; "
      "`keysup controller audit CTRL` at each shows when and at which reader they were used.",
      "Re-issue: enrol a new key for the genuine holder (`keysup key enrol`), then revoke the "
      "old one for good (`keysup key revoke KEY`). Never clone a key to give a second person "
      "access: enrol a key of their own.",
      NULL}},
    {300, "DESYNC", KS_SEV_ERROR, KS_AREA_SYNC,
     "Controller's database differs from the published one",
     "The controller reports a Merkle root that is not the one the supervisor published for its "
     "version: a missed or partly applied update, or a database changed outside keysup. Keys "
     "refused as unknown (KSE-202) right after are symptoms of this.",
     "The heartbeat's version and root are compared with the published snapshot.",
     1, "Full download (Initialize Terminal), then the supervisor checks the reported root.",
     {"Nothing to do if the automatic full download succeeds; confirm with `keysup diagnose CTRL`.",
      "If it repeats: `keysup controller command CTRL initialize` and watch the next heartbeat.",
      NULL}},
    {301, "STORE_CORRUPT", KS_SEV_ERROR, KS_AREA_STORE,
     "Flash record or sector fails its CRC",
     "Part of the controller's flash no longer holds what was written: a power surge, ESD, a "
     "worn sector, or a power cut during a write on hardware without keysup's store. keysup "
     "never uses a damaged record: it fell back to the last good state and asked for a full "
     "download.",
     "Every flash record carries a CRC checked at boot and on every read.",
     1, "Full download into the other flash area, then the supervisor checks the reported root. "
        "A second corruption after a repair escalates to KSE-900.",
     {"Nothing to do if the automatic full download succeeds; confirm with `keysup diagnose CTRL`.",
      "Check the controller's power supply and surge protection.",
      "Inspect an image of the flash offline: `keysup flash check FILE`.",
      NULL}},
    {302, "MEMORY_LOST", KS_SEV_WARNING, KS_AREA_STORE,
     "Volatile state lost",
     "A brown-out or reset cleared the controller's RAM: open supervisor sessions were closed. "
     "Counters and lockout live in flash and were rebuilt from it.",
     "The controller boots without a clean shutdown record.",
     1, "Sessions and counters are rebuilt from flash at boot.",
     {"Ask the supervisor to authenticate again to reopen the session.",
      "If it happens often, check the controller's power supply.",
      NULL}},
    {303, "STALE_DENIED", KS_SEV_ERROR, KS_AREA_STORE,
     "Key refused: changed since the older database in use",
     "The controller's newest database is damaged and it is answering from an older one. The "
     "supervisor changed this key after that older version (a revocation, a suspension, a "
     "privilege removed, a new key), so the older record cannot be trusted for it and the key is "
     "refused. When the controller cannot tell which keys changed (a full download since, or its "
     "list of changed keys is itself damaged) it refuses every key until a full download.",
     "The store keeps, apart from the snapshot areas and the overlay, the ids of the keys each "
     "committed delta changed and their version; a lookup on an older version checks it.",
     1, "The next heartbeat that reaches the supervisor downloads the current database; the key "
        "is then decided on its current record.",
     {"Restore the controller's link to the supervisor: the full download then repairs it "
      "(`keysup diagnose CTRL` shows KSE-100 if the link is down).",
      "Confirm the repair: `keysup diagnose CTRL` shows no open KSE-303, or at the terminal "
      "`keysup-controller ctl --socket PATH --json status` shows `\"fell_back\": false`.",
      "If it repeats, inspect an image of the flash: `keysup flash check FILE`.",
      NULL}},
    {304, "SUPERVISOR_RESTORED", KS_SEV_CRITICAL, KS_AREA_SYNC,
     "Supervisor restored from an older backup: its database was not adopted",
     "The supervisor's records went back (a restored backup): it offers a database from a new "
     "history, or the same version with different contents, while the controller holds later "
     "changes. Adopting it would undo revocations made after the backup, so the controller keeps "
     "its own database and reports the keys it holds revoked or suspended that the supervisor's "
     "database would grant. Keys enrolled after the backup are unknown to the supervisor.",
     "Every snapshot header carries a signed history id; the supervisor draws a new one when a "
     "controller holds a version it never published. The controller refuses a full download "
     "from another history, and a same-version database with another root, unless an operator "
     "orders initialize; it then compares the two and reports the revocations that would be lost.",
     0, NULL,
     {"Re-apply each revocation the evidence lists: `keysup key revoke KEY` (a suspension: "
      "`keysup key suspend KEY`). Re-enrol the keys enrolled after the backup.",
      "Once the evidence lists no key, adopt the supervisor's new history: "
      "`keysup controller command CTRL initialize`.",
      "Confirm: `keysup diagnose CTRL` shows no open KSE-304 and the controller at the published "
      "version.",
      NULL}},
    {310, "FLASH_WEAR", KS_SEV_WARNING, KS_AREA_STORE,
     "Controller flash projected to wear out soon",
     "The controller's flash is wearing faster than its service life allows: at the rate it "
     "has received database changes so far, its most-erased sector reaches the part's rated "
     "erase cycles within the warning threshold. Nothing is refused yet; worn sectors later "
     "fail to erase or program and the store then reports KSE-301, and KSE-900 when the damage "
     "outruns what it can work around.",
     "The controller's store counts every sector erase and the bytes it programs; each health "
     "report carries the erase counts, the write amplification, the rated endurance and the "
     "projected life at the observed delta rate, and the supervisor compares that life with its "
     "threshold (365 days).",
     0, NULL,
     {"Read the figures: `keysup diagnose CTRL` (the store's wear in the health report), or "
      "offline `keysup flash wear FILE` on an image of the flash.",
      "Lower the change rate the controller sees: publish changes in fewer, larger batches "
      "(each delta wears the flash, whatever its size), and check that no script re-enrols or "
      "re-suspends the same keys in a loop (`keysup audit list`).",
      "Plan the controller's replacement (or a flash part with a higher rated endurance) before "
      "the projected date; replace it at once if KSE-301 starts to repeat.",
      NULL}},
    {311, "FLASH_RETIRED", KS_SEV_WARNING, KS_AREA_STORE,
     "Controller flash sectors failed and were retired",
     "Sectors of the controller's flash have started to fail: an erase or a program did not "
     "take, or read back wrong. The store moved the data to another sector and retired the "
     "failed one (it is never used again), so nothing was lost and every answer is still "
     "right. But flash that has begun to fail keeps failing, and the store can retire only a "
     "fixed number of sectors (32). Once that spare is used up, or the failures reach the "
     "sectors it cannot move (its page maps, the delta overlay, the metadata), writes fail and "
     "the store reports KSE-301, then KSE-900.",
     "The store counts the sectors it retires and each health report carries the count, the "
     "spare left, the erase counts and the projected life at the observed delta rate; the "
     "supervisor warns on the first retired sector, before the damage outruns the spare.",
     0, NULL,
     {"Read the figures: `keysup controller show CTRL` and `keysup diagnose CTRL` (retired "
      "sectors, spare left, projected life), or offline `keysup flash wear FILE --rate N` on "
      "an image of the flash.",
      "Plan the controller's replacement (or its flash module's) before the projected date the "
      "evidence gives, and sooner if the retired count grows from one report to the next: each "
      "retirement uses up one sector of the spare.",
      "Replace it at once when the spare left reaches a few sectors, or when KSE-301 or "
      "KSE-900 follows; until then the controller keeps deciding correctly.",
      NULL}},
    {400, "PROTOCOL_MISMATCH", KS_SEV_ERROR, KS_AREA_PROTOCOL,
     "Key format older than the controller accepts",
     "The key was enrolled with a key-format version below the controller's minimum, which is "
     "usually raised by a firmware update. The key itself is fine; it must be enrolled again in "
     "the current format.",
     "The record's key_format is compared with the controller's minimum.",
     0, NULL,
     {"Re-enrol the key in the current format: `keysup key enrol --holder HOLDER_ID --public-key KEYFILE`, "
      "then `keysup key revoke KEY` for the old record.",
      "If many keys are affected at once, check which firmware raised the minimum before "
      "re-enrolling them all.",
      NULL}},
    {401, "FIRMWARE_INCOMPATIBLE", KS_SEV_ERROR, KS_AREA_PROTOCOL,
     "Controller protocol version not supported",
     "The controller speaks a protocol version this supervisor does not support (too old or too "
     "new). It cannot sync until one side is updated.",
     "The heartbeat's protocol version is outside the supervisor's supported range.",
     0, NULL,
     {"Check the versions: `keysup controller show CTRL`.",
      "Update the controller's firmware to a version the supervisor supports, or upgrade the "
      "supervisor.",
      NULL}},
    {500, "LOCKOUT", KS_SEV_CRITICAL, KS_AREA_LOCKOUT,
     "Too many failed supervisor attempts",
     "A reader or a key failed supervisor authentication too many times in the window, so the "
     "controller locked it with a growing back-off. The lock is kept in flash: a power cycle "
     "does not clear it.",
     "Failed attempts are counted per key and per reader against the policy.",
     0, NULL,
     {"Find out who tried: `keysup controller audit CTRL`.",
      "If the attempts were genuine mistakes, wait for the back-off or unlock: "
      "`keysup controller command CTRL unlock`.",
      "If it looks like an attack, leave it locked and investigate the reader's location.",
      NULL}},
    {501, "SESSION_EXPIRED", KS_SEV_INFO, KS_AREA_LOCKOUT,
     "Supervisor session timed out",
     "The supervisor session that authorised privileged actions reached its timeout.",
     "Each session has the timeout of the action policy that opened it.",
     0, NULL,
     {"Present the supervisor key again to open a new session.",
      "If sessions are too short for the work, an administrator can change the action's "
      "timeout: `keysup policy set ACTION --privilege NAME... --session-timeout 15m`.",
      NULL}},
    {502, "NOT_SUPERVISOR", KS_SEV_WARNING, KS_AREA_PROFILE,
     "Key lacks the privilege for this action",
     "The key is valid, but its holder's profile does not carry the privilege the action needs; "
     "often the supervisor flag was removed from the profile.",
     "The record's privilege bits are compared with the action's policy.",
     0, NULL,
     {"Check the key's privileges: `keysup key get KEY`.",
      "If the holder should have it: `keysup key grant KEY --privilege SUPERVISOR` (or the privilege the "
      "action names); it reaches online controllers within seconds.",
      NULL}},
    {503, "PRIVILEGE_REQUIRED", KS_SEV_INFO, KS_AREA_PROFILE,
     "Action needs a supervisor key",
     "The action is privileged and no supervisor key was presented or no supervisor session is "
     "open.",
     "The action's policy requires a supervisor and none authorised it.",
     0, NULL,
     {"Ask a supervisor to present their key for this action.",
      NULL}},
    {504, "SEAL_ENGAGED", KS_SEV_WARNING, KS_AREA_PROFILE,
     "Calibration blocked by the seal switch",
     "Calibration settings C01-C07 are legally sealed while the seal switch is ON.",
     "The controller reads the seal switch before any calibration action.",
     0, NULL,
     {"Only an authorised service technician may break the seal: set the seal switch OFF "
      "according to the device's metrology procedure.",
      "Perform the calibration, set the switch back ON and have the seal renewed.",
      NULL}},
    {505, "PENDING_TRANSACTION", KS_SEV_WARNING, KS_AREA_PROFILE,
     "An interrupted transaction blocks the action",
     "A transaction was interrupted (for example an end-of-day Z-report), and the terminal will "
     "not start new work until it is cleared.",
     "The controller keeps a pending-transaction flag in flash until it is cleared.",
     0, NULL,
     {"Finish or void the interrupted transaction on the terminal if it offers to.",
      "Otherwise clear it under supervisor authority: `keysup controller command CTRL clear_pending`.",
      NULL}},
    {600, "CLOCK_SKEW", KS_SEV_ERROR, KS_AREA_CLOCK,
     "Controller clock is off by more than the tolerance",
     "The controller's clock drifted from the supervisor's time beyond tolerance. Validity "
     "checks would be wrong, so the controller uses its corrected trusted time.",
     "Each heartbeat compares the controller's clock with the supervisor's signed time.",
     1, "Time sync: the supervisor sends a signed time and the controller corrects its clock.",
     {"Nothing to do if the automatic time sync succeeds; confirm with `keysup diagnose CTRL`.",
      "If drift returns quickly, the controller's RTC crystal may be failing.",
      NULL}},
    {601, "RTC_FAILURE", KS_SEV_CRITICAL, KS_AREA_CLOCK,
     "Real-time clock reset or stopped",
     "The controller's real-time clock jumped back to its epoch or stopped: usually a flat RTC "
     "backup battery. Until the time is restored the controller refuses decisions that need "
     "the time rather than trust a wrong clock.",
     "The RTC reads earlier than the last known good time, or does not advance.",
     1, "Time sync from the supervisor restores the time while the device is powered.",
     {"Replace the controller's RTC backup battery.",
      "Then `keysup controller command CTRL time_sync`.",
      NULL}},
    {700, "SUPERVISOR_UNTRUSTED", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Signed by a supervisor key the controller does not trust",
     "A snapshot or command was signed by a supervisor key this controller has not pinned, for "
     "example after the supervisor key was rotated while the controller was offline without "
     "receiving the rotation record. The controller keeps its current database.",
     "The signer's key id is not among the controller's pinned supervisor keys.",
     0, NULL,
     {"Confirm the supervisor key was rotated on purpose: `keysup audit list --action supervisor.rotate`.",
      "Replace Supervisor Credential: `keysup controller command CTRL replace_credential`, then "
      "type the one-time code it prints at the controller "
      "(`keysup-controller ctl --socket PATH code NNNNNNNN`).",
      NULL}},
    {701, "ROLLBACK", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Snapshot older than the one applied",
     "Someone offered the controller an older database than it already applied, which could "
     "bring back revoked keys. The controller refused it.",
     "The snapshot version is compared with the highest version ever applied.",
     0, NULL,
     {"Check where the old snapshot came from (a restored backup of the supervisor, a replayed "
      "download).",
      "If the supervisor itself went back in time, restore its latest database before "
      "publishing again.",
      NULL}},
    {702, "SNAPSHOT_EXPIRED", KS_SEV_ERROR, KS_AREA_SYNC,
     "Snapshot past its expiry time",
     "The controller's database passed its expires_at without a newer one arriving, so it runs "
     "in its declared degraded mode.",
     "expires_at is compared with trusted time.",
     1, "The next successful sync replaces it.",
     {"Restore the link to the supervisor (see KSE-100).",
      "Then `keysup controller command CTRL initialize` if it does not sync by itself.",
      NULL}},
    {710, "ANSWER_NOT_AUTHENTIC", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Supervisor answer not authentic",
     "An answer the controller would act on (the published version and root, a command or its "
     "arguments, the rotation chain, a time token, an audit acknowledgement) does not carry a "
     "valid signature of a pinned supervisor key bound to this controller and to the request it "
     "answers. Something between the controller and the supervisor changed, replayed or "
     "reordered it: a proxy or a device on the site network. The controller made no change.",
     "The controller verifies the X-Keysup-Answer signature (docs/formats.md) of every answer "
     "before acting and counts each failure as a refusal in its health report.",
     0, NULL,
     {"Treat it as an attack on the link until shown otherwise: find what sits between the "
      "controller and the supervisor (proxies, NAT, captive portals) on the controller's network.",
      "Check the controller's `--supervisor` URL names the supervisor's own address and that "
      "the route to it is the expected one; a wrong address points at the interposed device.",
      "Check the supervisor's clock and signing key are unchanged: `keysup audit list --action "
      "supervisor.rotate`.",
      "Once the link is clean the refusals stop and the incident closes by itself; confirm with "
      "`keysup diagnose CTRL`.",
      NULL}},
    {711, "VERSION_CLAIM_UNPROVED", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Controller claims a snapshot version it cannot prove",
     "A controller's heartbeat says it holds a snapshot version or root this supervisor has not "
     "published for it (newer than the published one, or the same number with other contents), "
     "but the signed snapshot header it sent with the claim (applied_header) is missing or was "
     "not signed by any key of this supervisor for that version, root and scope. Such a claim "
     "would otherwise be taken as proof that the supervisor was restored from an older backup "
     "and would move its version numbers; it is ignored and the supervisor keeps publishing as "
     "before. The controller's own flash is damaged or written by something else, it runs "
     "firmware that predates applied_header, or its device key is in someone else's hands. "
     "An audit upload whose records do not match their raw bytes or do not continue the "
     "controller's hash chain is refused under this code too (device.audit_refused).",
     "The supervisor checks the header against every key in its key history before it acts on "
     "the claim, and writes one audit row a minute (action supervisor.version_claim_refused) "
     "naming the controller.",
     0, NULL,
     {"Find the controller: `keysup audit list --action supervisor.version_claim_refused`.",
      "Check its firmware is current (older firmware sends no applied_header) and run "
      "`keysup flash check` on its image; re-initialize it if the store is damaged.",
      "If neither explains it, treat the controller's device key as stolen: `keysup controller "
      "provision CTRL` drops that key at once (nothing signed with it is accepted any more) and "
      "prints a new token; inspect the unit, then enrol it again with the token "
      "(`keysup-controller enroll ...`).",
      "Confirm: no new supervisor.version_claim_refused rows for it.",
      NULL}},
    {720, "TLS_PIN_MISMATCH", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Supervisor's TLS certificate does not match the controller's pin",
     "The server at the supervisor address presented a TLS public key the controller has not "
     "pinned. Either something on the network is impersonating the supervisor (a proxy, a "
     "spoofed address), or the supervisor's certificate was replaced without first sending the "
     "new pin to this controller. The controller sends nothing to that server and keeps deciding "
     "offline on its cached database.",
     "Before any request, the SHA-256 of the server certificate's public key (SubjectPublicKeyInfo) "
     "is compared with the one or two pins stored in flash at enrolment or by a tls_pin command.",
     0, NULL,
     {"Compare the pin the supervisor serves (`keysup tls pin --server URL`) with the one the "
      "controller expects (`keysup-controller ctl --socket PATH status` shows `tls pin`).",
      "If they differ and nobody replaced the certificate, treat it as an attack: find the device "
      "answering on the supervisor's address before anything else.",
      "If the certificate was replaced on purpose, put the old pair back in keysupd.conf, "
      "`kill -HUP` keysupd, send the new pin (`keysup tls stage NEW.crt` or `keysup controller "
      "command CTRL tls_pin --pin sha256//...`), wait for every controller to acknowledge it, then "
      "switch to the new pair.",
      "If the old pair is lost, re-enrol the controller: `keysup controller provision CTRL`, then "
      "`keysup-controller enroll` with the new token (it carries the new pin).",
      NULL}},
    {730, "IDENTITY_CLONED", KS_SEV_CRITICAL, KS_AREA_TRUST,
     "Two units run under one controller identity",
     "Heartbeats signed with this controller's device key come from two running agents at once: "
     "its flash image and identity file were copied to a second unit (or a spare was started "
     "from a backup of them). Both decide with this controller's keys and scope, and the "
     "supervisor cannot tell which one it talks to.",
     "Each agent start draws a random instance id that every heartbeat carries; an instance "
     "that comes back after another one replaced it means two agents, not a restart.",
     0, NULL,
     {"Find the second unit: a controller started from a copied image or a restored backup of "
      "this one (the incident's evidence shows the two instance ids; the network's DHCP or ARP "
      "tables show which hosts talk to the supervisor).",
      "Power the second unit off and wipe its flash image and identity file (`*.img`, `*.img.id`).",
      "The device key has left this unit: `keysup controller provision CTRL` drops the leaked "
      "key at once and prints a new token; enrol the real unit again with it "
      "(`keysup-controller enroll ...`).",
      NULL}},
    {740, "OPERATOR_LOCKED", KS_SEV_WARNING, KS_AREA_LOCKOUT,
     "Console operator locked out after failed sign-ins",
     "Too many wrong passwords were typed for this operator account in a short time, so the "
     "console refuses it for a while, even with the right password: someone forgot a password, "
     "or somebody is guessing it.",
     "keysupd counts failed sign-ins per operator and source address within "
     "console_fail_interval: console_deny failures from one address lock the account for that "
     "address, console_deny_global from all addresses lock it everywhere but the addresses it "
     "signed in from, each for console_unlock_time seconds (the audit shows each failure with "
     "the client's address).",
     0, NULL,
     {"Check the audit (`keysup audit list --action console.signin`) for the addresses behind the "
      "failures: one person mistyping, or a guessing attack.",
      "Wait console_unlock_time seconds, or have an admin unlock it at once: `keysup operator "
      "unlock NAME` (and set a new password with `keysup operator passwd NAME` if it was "
      "forgotten).",
      NULL}},
    {741, "CONSOLE_SESSION_EXPIRED", KS_SEV_INFO, KS_AREA_TRUST,
     "Console session expired or signed out",
     "The console's session cookie is no longer valid: it was idle longer than console_idle, "
     "older than console_session_max, signed out, or the operator was removed or locked.",
     "Every console request looks its session up; an unknown, idle or too old one is refused "
     "with 401 and removed.",
     0, NULL,
     {"Sign in again at the console's start page.",
      "If this happens during work, raise console_idle in keysupd.conf.",
      NULL}},
    {742, "CSRF_REJECTED", KS_SEV_WARNING, KS_AREA_TRUST,
     "Console request without its CSRF token",
     "A state-changing request came with a console session cookie but without the session's "
     "CSRF token in X-Keysup-CSRF: a page on another site tried to act with the operator's "
     "session, or an out-of-date console page sent it.",
     "Every POST, PUT and DELETE made with a session cookie must carry the token given at "
     "sign-in; keysupd compares it in constant time and audits the refusal.",
     0, NULL,
     {"Reload the console (it fetches the token again); if the refusal repeats, sign out and in.",
      "If the audit shows such refusals the operator did not cause, find the page that sends "
      "them (the Referer in the proxy logs) and warn the operator.",
      NULL}},
    {743, "BAD_CREDENTIALS", KS_SEV_WARNING, KS_AREA_LOCKOUT,
     "Wrong operator name or password",
     "A console sign-in named an unknown operator or gave a wrong password; each failure counts "
     "towards the account's lockout (KSE-740).",
     "The password is checked against its Argon2id hash; unknown names cost the same time as "
     "known ones, so the answer does not tell which names exist.",
     0, NULL,
     {"Type the name and password again (names are case-sensitive).",
      "An admin can set a new password: `keysup operator passwd NAME`.",
      NULL}},
    {750, "IMPORT_INVALID", KS_SEV_WARNING, KS_AREA_KEY,
     "A key import file has bad rows",
     "A bulk import (`keysup key import`, POST /v1/keys:batch) named rows that cannot be imported: "
     "a malformed public key, an unknown privilege, a bad validity window, a repeated key, a "
     "holder that does not exist, or a line with the wrong number of fields.",
     "The supervisor reads and checks every row before it touches the registry; any bad row "
     "refuses the whole file, so nothing is half-imported.",
     0, NULL,
     {"Fix each line the answer names (FILE:LINE: reason) and run the import again.",
      "`keysup key import FILE --dry-run` checks a file against the registry without importing.",
      NULL}},
    {751, "IMPORT_CONFLICT", KS_SEV_WARNING, KS_AREA_KEY,
     "An imported key is already enrolled with other attributes",
     "A row of the file names a key the registry already holds, with a different holder, label, "
     "privileges, scope or validity. Import adds keys; it does not change them, so the file is "
     "refused rather than half-applied.",
     "Each row's key is looked up; the same attributes are a no-op (so a re-run is safe), "
     "different ones refuse the file.",
     0, NULL,
     {"To change a key, use the key verbs (`keysup key grant`, `set-validity`, ...), then re-run "
      "the import.",
      "Or correct the row in the file to the registry's values (`keysup key export` shows them).",
      NULL}},
    {760, "DATABASE_UNREACHABLE", KS_SEV_ERROR, KS_AREA_COMMUNICATION,
     "The supervisor cannot reach its PostgreSQL database",
     "keysupd keeps its registry in PostgreSQL (`database = postgresql://...` in keysupd.conf) "
     "and cannot connect to it, or lost the connection: the server is down or restarting, the "
     "network between them is cut, or the URL, password or TLS settings are wrong. While it "
     "lasts no key can be enrolled or revoked through this instance and it cannot publish; "
     "controllers keep deciding on their cached databases.",
     "keysupd refuses to start when the first connection fails; later, a failed statement or "
     "the loss of the publish-lease connection is logged (`cluster.lease_lost`) with this code.",
     1, "keysupd reconnects before its next transaction and tries the publish lease again every "
     "250 ms; while it is away, another keysupd on the same database takes over publishing.",
     {"Check the database from the supervisor host with the same URL: `psql 'postgresql://...' "
      "-c 'SELECT 1'` (a password belongs in ~keysup/.pgpass, not in the URL).",
      "If PostgreSQL is down, restart it or fail it over; keysupd needs no restart afterwards.",
      "If only this host cannot reach it, fix the network path; controllers and the CLI given "
      "several supervisor URLs use another keysupd meanwhile.",
      NULL}},
    {761, "SIGNING_KEY_NOT_FOLLOWED", KS_SEV_ERROR, KS_AREA_COMMUNICATION,
     "Another keysupd rotated the signing key and this one cannot take it",
     "Several keysupd share one PostgreSQL database and one of them rotated the supervisor "
     "signing key. The others take the new key from the database, wrapped under the previous "
     "key, and seal it into their own data directory; this instance could not: its data "
     "directory is not writable, the wrapped key is missing (the rotation was made by an older "
     "keysupd), it does not hold the previous key, or the new key's token cannot be opened "
     "here. Until it has the key it answers controllers with signatures they no longer trust "
     "and does not publish.",
     "keysupd looks for a newer signing key at every publisher round (once a second and at "
     "each published version) and at start; a key it cannot take is logged "
     "(`signing_key.not_followed`) with this code, and keysupd refuses to start without it.",
     0, NULL,
     {"Read the log line: it names the key's sequence number, its file or token and the reason.",
      "Copy that key file (supervisor-N.key) from the data directory of the instance that "
      "rotated into this one's, mode 0600; it is sealed with the same passphrase.",
      "For a token key, make the token and its PIN (signing_key_pin_file) reachable from this "
      "host.",
      "Restart this keysupd; `keysup supervisor show` against it must name the new seq.",
      NULL}},
    {800, "LICENCE_INVALID", KS_SEV_ERROR, KS_AREA_LICENCE,
     "Feature licence missing, expired or bound elsewhere",
     "The controller has no valid licence for an enforced feature: none, one without the "
     "feature, one past its expiry (and grace), one bound to a dongle not presented within its "
     "window, or one issued for another controller or forged.",
     "For the features the supervisor enforces, every decision checks the licence's signature, "
     "controller id, expiry on trusted time and dongle presence; the controller reports the "
     "licence id, the feature and the reason.",
     0, NULL,
     {"Read the diagnosis: it names the licence, the refused feature and the fix (`keysup "
      "diagnose CTRL`); `keysup licence list --controller CTRL` lists the licences.",
      "No licence for the feature: `keysup licence issue --controller CTRL --feature NAME`.",
      "Expired, lacking the feature, or bound to a lost dongle: `keysup licence reactivate N "
      "--valid-until DATE [--feature NAME...] [--bound-key NEWKEY]` (a new licence replaces it).",
      "Bound to a dongle that is not seated: seat it and present it at the controller's reader.",
      NULL}},
    {801, "LICENCE_EXPIRING", KS_SEV_WARNING, KS_AREA_LICENCE,
     "Feature licence expires soon",
     "A licence the supervisor issued is inside its warning window (warn_days before "
     "valid_until, 30 by default) or has expired. Once it has expired, the features it unlocks "
     "are refused with KSE-800 where it is enforced, so it is renewed now, not on the day.",
     "The supervisor checks its licences every few seconds and opens one incident per licence.",
     0, NULL,
     {"Reactivate the licence the incident names before it expires: `keysup licence reactivate "
      "N --valid-until DATE` (a new licence replaces it; the incident closes).",
      "If the licence is no longer wanted, revoke it: `keysup licence revoke N`.",
      NULL}},
    {802, "LICENCE_POLICY_OLD", KS_SEV_ERROR, KS_AREA_LICENCE,
     "Licence policy older than the one the controller applied",
     "The supervisor served a licence-enforcement policy whose sequence is lower than the one the "
     "controller applied, or the same sequence with other content: the supervisor was restored "
     "from an older backup, or someone replays an old answer. Or the controller's settings were "
     "found older than its identity file says they can be (written over from an old image).",
     "Every policy answer carries a sequence (the time of the change, past every earlier one); "
     "the controller keeps the one it applied in its settings and refuses to go back. The "
     "policy in force stays; older settings keep every feature enforced until the supervisor "
     "answers.",
     0, NULL,
     {"Read the controller's status (`keysup-controller ctl --socket PATH --json status`): "
      "`licence.policy_refused` "
      "names the sequence served and the one held.",
      "If the supervisor was restored from a backup: list the rows (`keysup licence "
      "enforcement`), check them against what was in force, and set each again (`keysup licence "
      "enforce ...`): a change gets a sequence past every number used before, so the "
      "controllers take it.",
      "If nothing was restored, treat it as an attack on the supervisor link and check what "
      "answers at the supervisor's address.",
      NULL}},
    {803, "LICENCE_REPLACED", KS_SEV_ERROR, KS_AREA_LICENCE,
     "Licence file revoked or replaced, put back on the controller",
     "At start the controller found a licence file that is not the one it last took from the "
     "supervisor: one the supervisor revoked, or an older one replaced since, copied back onto "
     "its flash.",
     "The controller keeps the hash of the licence it last took (or that it has none) in its "
     "settings and loads no other file offline; the supervisor's next answer decides.",
     0, NULL,
     {"Let the controller reach its supervisor: it takes the licence the supervisor serves.",
      "If it holds none, issue one (`keysup licence issue --controller CTRL --feature NAME`).",
      "Find out who wrote the controller's flash: this needs access to the unit.",
      NULL}},
    {900, "HARDWARE_FAULT", KS_SEV_CRITICAL, KS_AREA_HARDWARE,
     "Hardware keeps failing after repairs",
     "A repair that should have fixed the fault did not last: the same flash sector corrupted "
     "again after a full download, or the reader keeps failing. Software cannot fix it.",
     "Diagnosis escalates when the same repair fails repeatedly.",
     0, NULL,
     {"Replace the controller (or its reader or flash module).",
      "Provision the replacement: `keysup controller add` and enrol the new device.",
      NULL}},
};

#define TABLE_LEN (sizeof table / sizeof table[0])

size_t ks_kse_count(void) { return TABLE_LEN; }

const ks_kse *ks_kse_at(size_t i) { return i < TABLE_LEN ? &table[i] : NULL; }

const ks_kse *ks_kse_find(int code)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (table[i].code == code)
            return &table[i];
    return NULL;
}

/* Earlier spellings of a symbol, still accepted by ks_kse_lookup. */
static const struct {
    const char *symbol;
    int code;
} old_names[] = {
    {"LICENSE_INVALID", 800}, /* before the licence names were spelled one way */
};

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return 0;
    return *a == *b;
}

const ks_kse *ks_kse_lookup(const char *text)
{
    if (!text)
        return NULL;
    const char *p = text;
    if ((p[0] == 'K' || p[0] == 'k') && (p[1] == 'S' || p[1] == 's') && (p[2] == 'E' || p[2] == 'e') &&
        p[3] == '-')
        p += 4;
    if (isdigit((unsigned char)*p)) {
        char *end;
        long v = strtol(p, &end, 10);
        return *end == '\0' ? ks_kse_find((int)v) : NULL;
    }
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (ieq(table[i].symbol, text))
            return &table[i];
    /* Names a code had before: people and scripts may still type them. */
    for (size_t i = 0; i < sizeof old_names / sizeof old_names[0]; i++)
        if (ieq(old_names[i].symbol, text))
            return ks_kse_find(old_names[i].code);
    return NULL;
}

const char *ks_severity_name(enum ks_severity s)
{
    static const char *const n[] = {"info", "warning", "error", "critical"};
    return (unsigned)s < 4 ? n[s] : "unknown";
}

const char *ks_area_name(enum ks_kse_area a)
{
    static const char *const n[] = {"communication", "store integrity", "supervisor trust",
                                    "sync state", "clock", "protocol version", "lockout",
                                    "profile", "key", "hardware", "licence"};
    return (unsigned)a <= KS_AREA_LICENCE ? n[a] : "unknown";
}

int ks_kse_write_markdown(FILE *f)
{
    fputs("# Key Supervisor Error catalogue\n\n"
          "<!-- Generated by `keysup error docs` from src/host/ks_kse.c; do not edit by hand.\n"
          "     The test test_kse fails when this file is out of date. -->\n\n"
          "Every refusal and every fault keysup reports carries one of these codes. The same text\n"
          "is shown by `keysup error show CODE`, returned by the supervisor's API and written in\n"
          "its logs. *Auto-repair* means keysup fixes the cause without a person and records the\n"
          "repair in the incident; the steps are for when it cannot, or to confirm it did.\n\n"
          "| code | symbol | severity | area | auto-repair | title |\n"
          "| --- | --- | --- | --- | --- | --- |\n", f);
    for (size_t i = 0; i < TABLE_LEN; i++)
        fprintf(f, "| [KSE-%d](#kse-%d) | %s | %s | %s | %s | %s |\n", table[i].code, table[i].code,
                table[i].symbol, ks_severity_name(table[i].severity), ks_area_name(table[i].area),
                table[i].auto_repair ? "yes" : "no", table[i].title);
    for (size_t i = 0; i < TABLE_LEN; i++) {
        const ks_kse *e = &table[i];
        fprintf(f, "\n## KSE-%d\n\n**%s** - %s\n\n", e->code, e->symbol, e->title);
        fprintf(f, "- Severity: %s\n- Area: %s\n\n", ks_severity_name(e->severity), ks_area_name(e->area));
        fprintf(f, "What happened: %s\n\n", e->cause);
        fprintf(f, "How keysup detects it: %s\n\n", e->detection);
        if (e->auto_repair)
            fprintf(f, "Automatic repair: %s\n\n", e->repair);
        fputs("What to do:\n\n", f);
        for (int s = 0; s < KS_KSE_MAX_STEPS && e->steps[s]; s++)
            fprintf(f, "%d. %s\n", s + 1, e->steps[s]);
    }
    return ferror(f) ? -1 : 0;
}
