#!/usr/bin/env python3
"""A webhook receiver for tests/ops/webhook.sh: answers 503 to the first
POST (so keysupd must retry), 200 afterwards; appends every request as one
JSON line (headers, body, the status it got) to LOG; writes its port to
PORTFILE. Usage: webhook_receiver.py PORTFILE LOG"""
import http.server, json, sys

portfile, log = sys.argv[1], sys.argv[2]
seen = {"n": 0}

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        seen["n"] += 1
        status = 503 if seen["n"] == 1 else 200
        with open(log, "a") as f:
            f.write(json.dumps({"status": status, "headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
