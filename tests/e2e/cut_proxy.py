#!/usr/bin/env python3
"""cut_proxy.py - a flaky site link, for tests/e2e/resume_e2e.sh.

Forwards every request to keysupd unchanged. The first CUTS answers to
GET /v1/device/snapshot that ask for the whole image (no Range header) are
cut after half their body: the headers promise the full length, half the
bytes come, then the connection is closed. Each cut, and each request that
carries a Range header, is logged to LOG_FILE ("cut N of M", "range ...").

  usage: cut_proxy.py UPSTREAM_URL PORT_FILE LOG_FILE CUTS
"""
import http.client
import http.server
import os
import socket
import socketserver
import sys
import threading
import urllib.parse

UP = urllib.parse.urlparse(sys.argv[1])
PORT_FILE, LOG_FILE, CUTS = sys.argv[2], sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
left = {"cuts": CUTS}
HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    def fwd(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else None
        up = http.client.HTTPConnection(UP.hostname, UP.port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body, headers=hdrs)
        r = up.getresponse()
        data = r.read()
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
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.end_headers()
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


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = S(("127.0.0.1", 0), H)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
