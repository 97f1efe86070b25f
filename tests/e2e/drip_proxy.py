#!/usr/bin/env python3
"""drip_proxy.py - a site link an attacker throttles, for attack_drip_e2e.sh.

Forwards every request to keysupd unchanged and logs one line per request
("<unix ms> <method> <path>") to LOG_FILE. While DRIP_FILE exists, answers
to GET /v1/device/snapshot come two bytes a second: enough for curl's "no
byte for a deadline" rule, far too slow to ever finish. Once DRIP_FILE is
gone the rest of the body is sent at once.

  usage: drip_proxy.py UPSTREAM_URL PORT_FILE LOG_FILE DRIP_FILE
"""
import http.server
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from link_proxy import forward, send_head, serve  # noqa: E402

UPSTREAM = sys.argv[1]
PORT_FILE, LOG_FILE, DRIP_FILE = sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write("%d %s\n" % (int(time.time() * 1000), line))


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def fwd(self):
        log("%s %s" % (self.command, self.path))
        up, r, data = forward(self, UPSTREAM)
        send_head(self, r, [("Connection", "close")])
        self.close_connection = True
        i = 0
        try:
            if self.path == "/v1/device/snapshot":
                while i < len(data) and os.path.exists(DRIP_FILE):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    i += 1
                    time.sleep(0.5)
            self.wfile.write(data[i:])
            self.wfile.flush()
        except OSError:
            log("client left after %d of %d bytes" % (i, len(data)))
        up.close()

    do_GET = do_POST = fwd

    def log_message(self, *a):
        pass


serve(H, PORT_FILE)
