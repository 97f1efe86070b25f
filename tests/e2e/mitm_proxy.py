#!/usr/bin/env python3
"""mitm_proxy.py - an attacker on the site network, for tests/e2e/mitm_e2e.sh.

Sits between one keysup-controller and keysupd and bends the supervisor's
answers. The mode is read from MODE_FILE before every request, so the test
switches attacks without restarting anything; every answer it actually
changed is logged as one line "<mode> <method> <path>" to LOG_FILE, so the
test knows the attack happened.

  usage: mitm_proxy.py UPSTREAM_URL PORT_FILE MODE_FILE LOG_FILE FOREIGN_SNAPSHOT
"""
import hashlib
import http.client
import os
import subprocess
import http.server
import json
import socketserver
import sys
import threading
import urllib.parse

UP = urllib.parse.urlparse(sys.argv[1])
PORT_FILE, MODE_FILE, LOG_FILE, FOREIGN = sys.argv[2:6]
ATTACKER_PK = "a" * 64
lock = threading.Lock()
state = {"replay": None, "prev": None, "first_snapshot": None}
# resign mode: the attacker's own signer and key, and the controller's device
# key id (what the envelope binds; an attacker on the path learns it)
SIGNER = os.environ.get("MITM_SIGNER")
SIGN_KEY = os.environ.get("MITM_KEY")
DEVKID_FILE = os.environ.get("MITM_DEVKID")


def h(b):
    return hashlib.blake2b(b, digest_size=32).digest()


def envelope(ctrl_id, devkid, nonce, status, method, path, body):
    """The 122 signed bytes, from docs/formats.md ("Signed answer") alone."""
    return (int(ctrl_id).to_bytes(8, "little") + devkid + nonce + int(status).to_bytes(2, "little")
            + h(method.encode() + b"\0" + path.encode()) + h(body))


def resign(req_headers, method, path, status, headers, body):
    with open(DEVKID_FILE) as f:
        devkid = bytes.fromhex(f.read().strip())
    nonce = bytes.fromhex(req_headers["X-Keysup-Nonce"])
    # The controller's challenge, which a genuine answer binds too
    # (docs/formats.md); the attacker sees it on the request.
    chal = req_headers.get("X-Keysup-Challenge")
    if chal:
        nonce = h(b"KEYSUP-ANSWER-CH" + nonce + bytes.fromhex(chal))
    env = envelope(req_headers["X-Keysup-Controller"], devkid, nonce, status, method, path, body)
    pk, sig = subprocess.run([SIGNER, SIGN_KEY, env.hex()], check=True, capture_output=True,
                             text=True).stdout.split()
    headers = [(k, v) for k, v in headers if not k.lower().startswith("x-keysup-answer")]
    return headers + [("X-Keysup-Answer-Key", pk), ("X-Keysup-Answer-Signature", sig)], pk


def mode():
    try:
        with open(MODE_FILE) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


def log(m, method, path):
    with lock, open(LOG_FILE, "a") as f:
        f.write(f"{m} {method} {path}\n")


def flip_hex(s, i=10):
    c = "0" if s[i] != "0" else "1"
    return s[:i] + c + s[i + 1:]


def bend(m, method, path, status, headers, body, req_headers):
    """Returns (status, headers, body, changed)."""
    hb = path == "/v1/device/heartbeat"
    if m == "resign" and hb and status == 200 and "X-Keysup-Nonce" not in req_headers:
        # A heartbeat of a session (docs/protocol.md): its answer is MAC'd
        # under a key the attacker does not have. All it can do is change
        # the bytes (here only their spacing): refused, and the controller's
        # next heartbeat is signed, which the branch below re-signs.
        return status, headers, json.dumps(json.loads(body)).encode() + b"\n", True
    if m == "resign" and hb and status == 200:
        # The strongest attacker on the path: it signs what it sends, with its
        # own key, bound correctly to the request, and offers that key through
        # the operator's genuine replace_credential (genuine id and code tag).
        d = json.loads(body)
        for c in d.get("commands", []):
            if c.get("command") == "replace_credential":
                c["args"]["supervisor_public_key"] = "0" * 64  # placeholder, set below
        out = json.dumps(d).encode() + b"\n"
        _, pk = resign(req_headers, method, path, status, headers, out)
        for c in d.get("commands", []):
            if c.get("command") == "replace_credential":
                c["args"]["supervisor_public_key"] = pk
        out = json.dumps(d).encode() + b"\n"
        headers, _ = resign(req_headers, method, path, status, headers, out)
        return status, headers, out, True
    if status == 200 and path == "/v1/device/snapshot" and state["first_snapshot"] is None:
        state["first_snapshot"] = (status, headers, body)
    if m == "cmd_arg" and hb:
        d = json.loads(body)
        hit = False
        for c in d.get("commands", []):
            if c.get("command") == "replace_credential":
                c["args"]["supervisor_public_key"] = ATTACKER_PK
                hit = True
        if hit:
            return status, headers, json.dumps(d).encode() + b"\n", True
    if m == "cmd_name" and hb:
        d = json.loads(body)
        hit = False
        for c in d.get("commands", []):
            if c.get("command") == "unlock":
                c["command"] = "initialize"
                hit = True
        if hit:
            return status, headers, json.dumps(d).encode() + b"\n", True
    if m == "version" and hb:
        d = json.loads(body)
        d["version"] = d.get("version", 0) + 1000000
        d["root"] = "00" * 32
        return status, headers, json.dumps(d).encode() + b"\n", True
    if m == "rotation" and path == "/v1/device/rotation" and status == 200 and body:
        b = bytearray(body)
        b[-1] ^= 0x01  # the last byte of the new key's signature
        return status, headers, bytes(b), True
    if m == "watch_delta" and path.startswith("/v1/device/watch/") and body[:4] == b"KSDL":
        # the publisher's delta carried in a watch's answer (unsigned per
        # request): the attacker turns the first upserted record's state
        # (revoked, 2) back to active (0); a well-formed record, so only the
        # Merkle root under the publisher's signed header can catch it
        b = bytearray(body)
        if int.from_bytes(b[48:52], "little") > 0 and len(b) >= 216 + 128:
            b[216 + 99] = 0
        else:
            b[-1] ^= 0x01
        return status, headers, bytes(b), True
    if m == "time" and path == "/v1/device/time" and status == 200:
        d = json.loads(body)
        d["token"] = flip_hex(d["token"], 40)
        return status, headers, json.dumps(d).encode() + b"\n", True
    if m == "replay" and hb and status == 200:
        if state["replay"] is None:
            state["replay"] = (status, headers, body)
            return status, headers, body, False
        s, h, b = state["replay"]
        return s, h, b, True
    if m == "reorder" and hb and status == 200:
        # every heartbeat gets the answer meant for the one before it
        prev, state["prev"] = state["prev"], (status, headers, body)
        if prev is None:
            return status, headers, body, False
        return prev[0], prev[1], prev[2], True
    if m == "foreign_snapshot" and path == "/v1/device/snapshot":
        with open(FOREIGN, "rb") as f:
            return 200, headers, f.read(), True
    if m == "old_snapshot" and path == "/v1/device/snapshot" and state["first_snapshot"]:
        s, h, b = state["first_snapshot"]
        return s, h, b, True
    if m == "old_snapshot" and path.startswith("/v1/device/delta/"):
        # no delta: make the controller download the (old) snapshot
        return 409, headers, b'{"error":{"code":"CONFLICT","message":"not retained"}}\n', True
    return status, headers, body, False


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = self.rfile.read(n) if n else None
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in ("host", "connection", "content-length")}
        c = http.client.HTTPConnection(UP.hostname, UP.port, timeout=30)
        try:
            c.request(self.command, self.path, body=req, headers=fwd)
            r = c.getresponse()
            body = r.read()
            status, headers = r.status, [(k, v) for k, v in r.getheaders()
                                         if k.lower() not in ("content-length", "connection",
                                                              "transfer-encoding")]
        finally:
            c.close()
        m = mode()
        with lock:
            status, headers, body, changed = bend(m, self.command, self.path, status, headers,
                                                  body, self.headers)
        if changed:
            log(m, self.command, self.path)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = handle_one


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Proxy)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
