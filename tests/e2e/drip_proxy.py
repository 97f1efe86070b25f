#!/usr/bin/env python3
"""drip_proxy.py - a site link an attacker throttles, for attack_drip_e2e.sh.

Forwards every request to keysupd unchanged and logs one line per request
("<unix ms> <method> <path>") to LOG_FILE. While DRIP_FILE exists, answers
to GET /v1/device/snapshot come two bytes a second: enough for curl's "no
byte for a deadline" rule, far too slow to ever finish. Once DRIP_FILE is
gone the rest of the body is sent at once.

  usage: drip_proxy.py UPSTREAM_URL PORT_FILE LOG_FILE DRIP_FILE
"""
import http.client
import http.server
import os
import socketserver
import sys
import threading
import time
import urllib.parse

UP = urllib.parse.urlparse(sys.argv[1])
PORT_FILE, LOG_FILE, DRIP_FILE = sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


def log(line):
    with lock, open(LOG_FILE, "a") as f:
        f.write("%d %s\n" % (int(time.time() * 1000), line))


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def fwd(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else None
        log("%s %s" % (self.command, self.path))
        up = http.client.HTTPConnection(UP.hostname, UP.port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body, headers=hdrs)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
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


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = S(("127.0.0.1", 0), H)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
