"""link_proxy.py - what the test proxies between a controller and keysupd
share (cut_proxy.py, drip_proxy.py): a request forwarded upstream as sent,
the answer's status and headers passed back, and a threaded server on a
free port written to a port file. Each proxy decides only how the body goes.
"""
import http.client
import http.server
import os
import socketserver
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


def forward(h, upstream):
    """Sends handler h's request to upstream (a URL); returns the upstream
    connection (close it when done), its response and the whole body."""
    up_url = urllib.parse.urlparse(upstream)
    n = int(h.headers.get("Content-Length", "0"))
    body = h.rfile.read(n) if n else None
    up = http.client.HTTPConnection(up_url.hostname, up_url.port, timeout=60)
    hdrs = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
    up.request(h.command, h.path, body=body, headers=hdrs)
    r = up.getresponse()
    return up, r, r.read()


def send_head(h, r, extra=()):
    """The status and end-to-end headers of response r, then extra pairs."""
    h.send_response(r.status)
    for k, v in r.getheaders():
        if k.lower() not in HOP:
            h.send_header(k, v)
    for k, v in extra:
        h.send_header(k, v)
    h.end_headers()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(handler, port_file):
    """Serves handler on 127.0.0.1, a free port, written atomically to port_file."""
    srv = _Server(("127.0.0.1", 0), handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
