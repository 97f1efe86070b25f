#!/usr/bin/env python3
"""cut_proxy.py - a flaky site link, for tests/e2e/resume_e2e.sh.

Forwards every request to keysupd unchanged. The first CUTS answers to
GET /v1/device/snapshot that ask for the whole image (no Range header) are
cut after half their body: the headers promise the full length, half the
bytes come, then the connection is closed. Each cut, and each request that
carries a Range header, is logged to LOG_FILE ("cut N of M", "range ...").

  usage: cut_proxy.py UPSTREAM_URL PORT_FILE LOG_FILE CUTS
"""
import http.server
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from link_proxy import forward, send_head, serve  # noqa: E402

UPSTREAM = sys.argv[1]
PORT_FILE, LOG_FILE, CUTS = sys.argv[2], sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
left = {"cuts": CUTS}


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    def fwd(self):
        up, r, data = forward(self, UPSTREAM)
        cut = False
        if self.path == "/v1/device/snapshot":
            if "Range" in self.headers:
                log("range %s if-range %s -> %d" % (self.headers["Range"],
                                                     self.headers.get("If-Range", "-"), r.status))
            elif r.status == 200:
                with lock:
                    cut = left["cuts"] > 0
                    if cut:
                        left["cuts"] -= 1
        send_head(self, r)
        if cut:
            half = len(data) // 2
            self.wfile.write(data[:half])
            self.wfile.flush()
            log("cut %d of %d" % (half, len(data)))
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.wfile.write(data)
        up.close()

    do_GET = do_POST = fwd

    def log_message(self, *a):
        pass


serve(H, PORT_FILE)
