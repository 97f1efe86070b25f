#!/usr/bin/env bash
# TLS on the supervisor link (issue 10, item 2): real TLS clients (curl,
# gnutls-cli, openssl s_client), the CLI and controllers against a keysupd
# serving HTTPS. Every refusal is checked for its reason, not just a failure.
source "$(dirname "$0")/lib.sh"

command -v gnutls-cli >/dev/null || fail "gnutls-cli missing (Debian gnutls-bin; scripts/deps.sh test)"
command -v certtool >/dev/null || fail "certtool missing (Debian gnutls-bin)"

# tls_start DIR [EXTRA ARGS]: keysupd on 127.0.0.1 with DIR's config; sets PORT
tls_start() {
    local dir=$1
    shift
    rm -f "$W/port"
    "$B/keysupd" --data "$dir" --listen 127.0.0.1:0 --port-file "$W/port" "$@" >>"$W/keysupd.log" 2>&1 &
    SUP_PID=$!
    PIDS+=("$SUP_PID")
    wait_until 10 "keysupd listening" test -s "$W/port"
    PORT=$(cat "$W/port")
}
pin_of() { "$B/keysup" --json tls pin --cert "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pin"])'; }
served_pin() { "$B/keysup" --json tls pin --server "https://127.0.0.1:$PORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pin"])'; }

# ----- keysup init --san: key + self-signed certificate, 0600, named in the config
"$B/keysup" --json init --data "$W/sup" --no-passphrase --token-out "$W/admin.tok" \
    --san DNS:localhost --san IP:127.0.0.1 >"$W/init.json" || fail "init --san"
export KEYSUP_TOKEN_FILE="$W/admin.tok"
A="$W/sup/tls-cert.pem"
[ "$(stat -c %a "$W/sup/tls-key.pem")" = 600 ] || fail "tls key mode $(stat -c %a "$W/sup/tls-key.pem")"
grep -q '^tls_cert = tls-cert.pem' "$W/sup/keysupd.conf" || fail "tls_cert not in keysupd.conf"
openssl x509 -in "$A" -noout -ext subjectAltName >"$W/san.txt"
grep -q "DNS:localhost, IP Address:127.0.0.1" "$W/san.txt" || fail "SANs: $(cat "$W/san.txt")"
PIN_A=$(j "$W/init.json" 'd["tls_pin"]')
want=$(openssl x509 -in "$A" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
[ "$PIN_A" = "sha256//$want" ] || fail "pin $PIN_A is not the SPKI SHA-256 openssl computes ($want)"
ok "init --san: ECDSA key and self-signed certificate (0600), SANs, pin = SPKI SHA-256"

tls_start "$W/sup"
URL="https://localhost:$PORT"
curl -sSf --cacert "$A" "$URL/healthz" >/dev/null || fail "curl with the right CA"
curl -sS --cacert "$A" --resolve "wrong.example:$PORT:127.0.0.1" "https://wrong.example:$PORT/healthz" \
    >/dev/null 2>"$W/curl.err" && fail "wrong host name accepted"
grep -q "no alternative certificate subject name matches" "$W/curl.err" || fail "wrong host: $(cat "$W/curl.err")"
curl -sS "$URL/healthz" >/dev/null 2>"$W/curl.err" && fail "self-signed certificate accepted without a CA or pin"
grep -qi "self.signed\|unable to get local issuer" "$W/curl.err" || fail "unpinned: $(cat "$W/curl.err")"
curl -sSf -k --pinnedpubkey "$PIN_A" "$URL/healthz" >/dev/null || fail "curl with the right pin"
curl -sS -k --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" "$URL/healthz" \
    >/dev/null 2>"$W/curl.err" && fail "wrong pin accepted"
grep -q "pinned" "$W/curl.err" || fail "wrong pin: $(cat "$W/curl.err")"
curl -sS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && fail "plain HTTP answered on the TLS port"
ok "curl: CA-verified and pinned accepted; wrong host, unpinned self-signed, wrong pin, plain HTTP refused"

gnutls-cli --x509cafile "$A" -p "$PORT" localhost </dev/null >"$W/g.out" 2>&1 || true
grep -q "Handshake was completed" "$W/g.out" || fail "gnutls-cli trusted: $(cat "$W/g.out")"
grep -q "TLS1.3" "$W/g.out" || fail "gnutls-cli: not TLS 1.3 by default: $(grep -i version "$W/g.out")"
gnutls-cli -p "$PORT" localhost </dev/null >"$W/g.out" 2>&1 || true
grep -q "NOT trusted" "$W/g.out" && ! grep -q "Handshake was completed" "$W/g.out" \
    || fail "gnutls-cli without the CA: $(cat "$W/g.out")"
gnutls-cli --x509cafile "$A" --verify-hostname wrong.example -p "$PORT" 127.0.0.1 </dev/null >"$W/g.out" 2>&1 || true
grep -q "does not match" "$W/g.out" && ! grep -q "Handshake was completed" "$W/g.out" \
    || fail "gnutls-cli wrong host: $(cat "$W/g.out")"
for v in TLS1.1 TLS1.0; do
    gnutls-cli --priority "NORMAL:-VERS-ALL:+VERS-$v" --x509cafile "$A" -p "$PORT" localhost \
        </dev/null >"$W/g.out" 2>&1 || true
    grep -q "Handshake was completed" "$W/g.out" && fail "$v handshake completed"
    grep -qi "handshake has failed\|Error in the pull function\|The TLS connection was non-properly terminated\|unsupported\|alert" \
        "$W/g.out" || fail "$v: $(cat "$W/g.out")"
done
openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "127.0.0.1:$PORT" </dev/null >"$W/o.out" 2>&1 || true
grep -q "Cipher is (NONE)" "$W/o.out" || fail "openssl -tls1_1: $(cat "$W/o.out")"
openssl s_client -tls1_2 -connect "127.0.0.1:$PORT" </dev/null >"$W/o.out" 2>&1 || true
grep -q "Protocol *: TLSv1.2" "$W/o.out" || fail "TLS 1.2 not offered: $(cat "$W/o.out")"
ok "gnutls-cli/openssl: TLS 1.3 and 1.2 only; 1.1 and 1.0 refused; untrusted and wrong host refused"

# ----- the CLI verifies the server
export KEYSUP_SERVER="$URL"
"$B/keysup" controller list >"$W/cli.err" 2>&1 && fail "CLI trusted an unknown self-signed certificate"
grep -q "TLS verification of $URL failed" "$W/cli.err" || fail "CLI error: $(cat "$W/cli.err")"
"$B/keysup" controller list --server-pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
    >"$W/cli.err" 2>&1 && fail "CLI accepted a wrong pin"
grep -q "TLS verification of $URL failed" "$W/cli.err" || fail "CLI wrong pin: $(cat "$W/cli.err")"
KEYSUP_PIN_SHA256="$PIN_A" api controller list >/dev/null || fail "CLI with the right pin"
export KEYSUP_CACERT="$A"
api controller list >/dev/null || fail "CLI with KEYSUP_CACERT"
ok "CLI: untrusted certificate and wrong pin refused naming the host; --cacert and pin accepted"

# ----- enrolment and a grant over TLS; the token carries the pin
ctl_add c1 1
tok=$(j "$W/c1.add.json" 'd["provisioning_token"]')
case "$tok" in ksp_*.*) ;; *) fail "provisioning token without the pin: $tok" ;; esac
ctl_run c1
keygen alice
api key enrol --public-key "$W/alice.key" --privilege SUPERVISOR --privilege VOID --scope 1 >/dev/null
wait_until 10 "c1 in step over TLS" in_step c1
present "$W/alice.key" c1 void || fail "grant over TLS: $(cat "$W/present.err")"
[ "$(status c1 'd["tls"]["pin"]')" = "$PIN_A" ] || fail "c1 pin: $(status c1 'd["tls"]')"
ok "enrol + sync + grant over TLS; the controller pinned the supervisor from its token"

# a surge zeroes metadata sector 0 of c1's image: the identity file gives the
# unit back its id AND its TLS pin, so it reconnects over TLS by itself
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true; rm -f "$W/c1.sock"
dd if=/dev/zero of="$W/c1.img" bs=4096 count=1 conv=notrunc status=none
ctl_run c1
wait_until 15 "c1 back in step over TLS after sector 0 was zeroed" in_step c1
[ "$(status c1 'd["tls"]["pin"]')" = "$PIN_A" ] || fail "c1 pin after the wipe: $(status c1 'd["tls"]')"
present "$W/alice.key" c1 void || fail "grant after the wipe: $(cat "$W/present.err")"
ok "sector 0 zeroed: identity and TLS pin kept from the identity file, full download over TLS, grant"

# a token whose pin was swapped: the controller refuses the supervisor before sending anything
api controller add c2 --scope 1 >"$W/c2.add.json"
tok=$(j "$W/c2.add.json" 'd["provisioning_token"]')
bad="${tok%%.*}.$(printf '%064d' 0)"
"$B/keysup-controller" enroll --flash "$W/c2.img" --supervisor "$URL" --token "$bad" \
    >"$W/c2.enroll.log" 2>&1 && fail "enrolment with a wrong pin succeeded"
grep -q "KSE-720" "$W/c2.enroll.log" || fail "c2: $(cat "$W/c2.enroll.log")"
"$B/keysup-controller" enroll --flash "$W/c2.img" --supervisor "$URL" --token "$tok" \
    >"$W/c2.enroll.log" 2>&1 || fail "the untouched token was burnt by the refused attempt: $(cat "$W/c2.enroll.log")"
ok "controller refuses a supervisor that fails its pin (KSE-720); the token stays usable"

# ----- announced certificate change, reloaded under load: no request lost
"$B/keysup" init --data "$W/certB" --no-passphrase --san DNS:localhost --san IP:127.0.0.1 >/dev/null
BC="$W/certB/tls-cert.pem"
PIN_B=$(pin_of "$BC")
api tls stage "$BC" >"$W/stage.json" || fail "tls stage"
[ "$(j "$W/stage.json" 'd["controllers"]')" = "[1, 2]" ] || fail "staged for $(j "$W/stage.json" 'd["controllers"]')"
wait_until 10 "c1 holds the next pin" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tls\"].get(\"next_pin\"))')\" = '$PIN_B' ]"
cat "$A" "$BC" >"$W/both.pem"
urls=()
for i in $(seq 1 150); do urls+=("$URL/healthz"); done
( n=0; for i in $(seq 1 60); do curl -sf --cacert "$W/both.pem" "$URL/healthz" >/dev/null || n=$((n + 1)); done; echo "$n" >"$W/load1" ) &
L1=$!
( curl -s --cacert "$W/both.pem" -w '%{http_code}\n' -o /dev/null "${urls[@]}" >"$W/load2" 2>&1 ) &
L2=$!
sleep 0.3
sed -i "s|^tls_cert = .*|tls_cert = $BC|; s|^tls_key = .*|tls_key = $W/certB/tls-key.pem|" "$W/sup/keysupd.conf"
kill -HUP "$SUP_PID"
wait "$L1"
wait "$L2"
[ "$(cat "$W/load1")" = 0 ] || fail "$(cat "$W/load1") of 60 new connections failed across the reload"
[ "$(grep -c '^200$' "$W/load2")" = 150 ] || fail "keep-alive loop: $(sort "$W/load2" | uniq -c)"
grep -q "event=tls.reloaded" "$W/keysupd.log" || fail "no tls.reloaded in the log"
[ "$(served_pin)" = "$PIN_B" ] || fail "served pin after reload: $(served_pin)"
kill -0 "$SUP_PID" || fail "keysupd died on SIGHUP"
wait_until 10 "c1 retires the old pin" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; t=json.load(sys.stdin)[\"tls\"]; print(t[\"pin\"], t.get(\"next_pin\"))')\" = '$PIN_B None' ]"
[ "$(status c1 '"KSE-720" in d["conditions"]')" = False ] || fail "c1 raised KSE-720 on an announced change"
ok "staged pin reached c1; SIGHUP reload under 2 client loops lost 0 of 210 requests; c1 switched pins"

# a reload that fails keeps the pair being served
sed -i "s|^tls_key = .*|tls_key = $W/nonexistent.pem|" "$W/sup/keysupd.conf"
kill -HUP "$SUP_PID"
wait_until 5 "reload failure logged" grep -q "event=tls.reload_failed" "$W/keysupd.log"
grep -q "event=tls.reload_failed.*nonexistent.pem" "$W/keysupd.log" || fail "reload failure does not say why"
[ "$(served_pin)" = "$PIN_B" ] || fail "a failed reload changed the served certificate"
ok "a failed reload logs why and keeps serving the old pair"

# ----- an unannounced certificate: KSE-720 at the controller, in its report once back
"$B/keysup" init --data "$W/certC" --no-passphrase --san DNS:localhost >/dev/null
sed -i "s|^tls_cert = .*|tls_cert = $W/certC/tls-cert.pem|; s|^tls_key = .*|tls_key = $W/certC/tls-key.pem|" "$W/sup/keysupd.conf"
kill -HUP "$SUP_PID"
wait_until 10 "c1 raises KSE-720" sh -c "\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" status | grep -q 'KSE-720'"
ctl c1 status >"$W/c1.human" || true
grep -q "MISMATCH" "$W/c1.human" || fail "ctl status does not show the mismatch: $(cat "$W/c1.human")"
present "$W/alice.key" c1 void || fail "offline decision refused during KSE-720"
"$B/keysup" controller list >"$W/cli.err" 2>&1 && fail "CLI trusted the unannounced certificate"
grep -q "TLS verification of $URL failed" "$W/cli.err" || fail "CLI: $(cat "$W/cli.err")"
# put the announced pair back: the controller reconnects and its report carries the refusals
sed -i "s|^tls_cert = .*|tls_cert = $BC|; s|^tls_key = .*|tls_key = $W/certB/tls-key.pem|" "$W/sup/keysupd.conf"
kill -HUP "$SUP_PID"
wait_until 10 "c1 back in contact" sh -c "! \"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" status | grep -q 'conditions:.*KSE-720'"
KEYSUP_CACERT="$W/both.pem" api controller show "${CTL_ID[c1]}" >"$W/c1.show.json"
grep -q "KSE-720" "$W/c1.show.json" || fail "KSE-720 not in the health report the supervisor holds"
inc720() {
    KEYSUP_CACERT="$W/both.pem" api incidents --controller "${CTL_ID[c1]}" --code KSE-720 >"$W/inc.json" 2>/dev/null &&
        [ "$(j "$W/inc.json" 'len(d["items"])')" -ge 1 ]
}
wait_until 10 "a KSE-720 incident at the supervisor" inc720
ok "unannounced certificate: c1 raises KSE-720, decides offline; once back, its report opens a KSE-720 incident"

# ----- expired certificate refused by clients
mkdir -p "$W/exp"
certtool --generate-privkey --key-type ecdsa --outfile "$W/exp/key.pem" 2>/dev/null
cat >"$W/exp/tmpl" <<T
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
activation_date = "2020-01-01 00:00:00"
expiration_date = "2020-02-01 00:00:00"
tls_www_server
signing_key
T
certtool --generate-self-signed --load-privkey "$W/exp/key.pem" --template "$W/exp/tmpl" \
    --outfile "$W/exp/cert.pem" 2>/dev/null
"$B/keysup" init --data "$W/sup2" --no-passphrase --token-out "$W/admin2.tok" >/dev/null
MAIN_PID=$SUP_PID
tls_start "$W/sup2" --tls-cert "$W/exp/cert.pem" --tls-key "$W/exp/key.pem"
grep -q "event=tls.expired" "$W/keysupd.log" || fail "no warning about the expired certificate"
curl -sS --cacert "$W/exp/cert.pem" "https://localhost:$PORT/healthz" >/dev/null 2>"$W/curl.err" \
    && fail "curl accepted an expired certificate"
grep -q "expired" "$W/curl.err" || fail "expired: $(cat "$W/curl.err")"
gnutls-cli --x509cafile "$W/exp/cert.pem" -p "$PORT" localhost </dev/null >"$W/g.out" 2>&1 || true
grep -q "expired" "$W/g.out" && ! grep -q "Handshake was completed" "$W/g.out" || fail "gnutls-cli expired: $(cat "$W/g.out")"
sup_stop
ok "expired certificate: keysupd warns, curl and gnutls-cli refuse it"

# ----- plain HTTP only on loopback unless allow_plain_http = yes; IPv6 listen
"$B/keysupd" --data "$W/sup2" --listen 0.0.0.0:0 --port-file "$W/port" >"$W/plain.log" 2>&1 \
    && fail "plain HTTP on 0.0.0.0 started"
grep -q "refusing plain HTTP on 0.0.0.0:0" "$W/plain.log" || fail "plain refusal: $(cat "$W/plain.log")"
"$B/keysupd" --data "$W/sup2" --listen "[::]:0" --port-file "$W/port" >"$W/plain.log" 2>&1 \
    && fail "plain HTTP on [::] started"
grep -q "allow_plain_http = yes" "$W/plain.log" || fail "plain refusal does not name the opt-out"
echo "allow_plain_http = yes" >>"$W/sup2/keysupd.conf"
tls_start "$W/sup2" --listen "[::]:0"
curl -sSf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "dual-stack [::] not reachable on IPv4"
curl -sSf -g "http://[::1]:$PORT/healthz" >/dev/null || fail "[::] not reachable on IPv6"
sup_stop
sed -i '$d' "$W/sup2/keysupd.conf"
tls_start "$W/sup2" --listen "[::1]:0"
curl -sSf -g "http://[::1]:$PORT/healthz" >/dev/null || fail "plain HTTP on [::1] (loopback)"
sup_stop
SUP_PID=$MAIN_PID
ok "plain HTTP refused on 0.0.0.0 and [::] with a clear error; allowed by allow_plain_http and on [::1]"
echo "tls_e2e: $steps steps passed"
