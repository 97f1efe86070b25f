"""replay_proxy.py - a site-LAN attacker between one controller and keysupd
(attack_replay_e2e): it forwards everything, and keeps the first signed
licence-policy answer it sees together with the nonce the request was signed
with. While the file REPLAY exists it hands the controller that old nonce
from GET /v1/device/nonce, and answers a licence-policy request signed with
it by the recorded answer, without asking keysupd.

usage: replay_proxy.py UPSTREAM PORT_FILE LOG RECORD_FILE REPLAY_FLAG
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import link_proxy  # noqa: E402

UPSTREAM, PORT_FILE, LOG, RECORD, FLAG = sys.argv[1:6]
POLICY = "/v1/device/licence-policy"
lock = threading.Lock()
rec = {}


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


class H(link_proxy.http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in link_proxy.HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_one(self):
        replay = os.path.exists(FLAG) and "nonce" in rec
        if replay and self.path == "/v1/device/nonce":
            body = json.dumps({"nonce": rec["nonce"], "ttl": 30}).encode()
            log("replay nonce")
            return self.reply(200, [("Content-Type", "application/json")], body)
        if replay and self.path == POLICY and self.headers.get("X-Keysup-Nonce") == rec["nonce"]:
            log("replay policy")
            return self.reply(rec["status"], rec["headers"], rec["body"])
        up, r, body = link_proxy.forward(self, UPSTREAM)
        try:
            if self.path == POLICY and r.status == 200 and "nonce" not in rec:
                rec.update(nonce=self.headers.get("X-Keysup-Nonce"), status=r.status,
                           headers=r.getheaders(), body=body)
                with open(RECORD, "wb") as f:
                    f.write(body)
                log("recorded policy " + body.decode())
            self.reply(r.status, r.getheaders(), body)
        finally:
            up.close()

    do_GET = do_POST = do_PUT = handle_one


link_proxy.serve(H, PORT_FILE)
