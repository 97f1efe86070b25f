#!/usr/bin/env python3
"""Load clients for tests/harden_e2e.sh (python3 stdlib only).

Attack traffic comes from 127.0.0.2 and up (all of 127/8 is loopback on
Linux), so keysupd's per-address limits see several attackers, and the
honest requests from 127.0.0.1 are measured separately.

  conns PORT TOKEN --idle N --slow M [--ips K] [--hold S]
      N idle and M slowloris connections (one header byte per second);
      meanwhile times GET /healthz and an authorised GET /v1/keys from
      127.0.0.1; then waits for the server to close the slowloris sockets.
      Prints one JSON object.
  push PORT PID --clients N --size BYTES
      N unauthenticated clients each announce and push a BYTES body to an
      operator route, a device route and the public enrolment route; reads
      keysupd's VmRSS from /proc/PID/status meanwhile. Prints JSON.
  slowbody PORT TOKEN LIMIT
      an authorised POST whose body trickles a byte a second; prints the
      seconds until keysupd closed it (-1: still open after LIMIT s).
  flood PORT --secs S [--src IP]
      keep-alive GET /v1/device/nonce as fast as one client can; prints the
      count of answers by status as JSON.
"""
import http.client
import json
import resource
import socket
import sys
import threading
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def timed_get(port, path, token=None):
    """Seconds for one fresh-connection GET, and its status (0 on error)."""
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        h = {"Authorization": "Bearer " + token} if token else {}
        c.request("GET", path, headers=h)
        r = c.getresponse()
        r.read()
        st = r.status
        c.close()
    except OSError:
        st = 0
    return time.monotonic() - t0, st


def alive(s):
    """False once the server closed (or reset) the socket."""
    try:
        s.setblocking(False)
        d = s.recv(4096)
        return d != b"" and True
    except BlockingIOError:
        return True
    except OSError:
        return False


def cmd_conns(argv):
    port, token = int(argv[0]), argv[1]
    opt = dict(zip(argv[2::2], argv[3::2]))
    n_idle, n_slow = int(opt.get("--idle", 2000)), int(opt.get("--slow", 2000))
    ips, hold = int(opt.get("--ips", 40)), float(opt.get("--hold", 3))
    raise_nofile()
    idle, slow, refused = [], [], 0
    t_open = time.monotonic()
    for i in range(n_idle + n_slow):
        src = "127.0.1.%d" % (1 + i % ips)
        try:
            s = connect(port, src)
        except OSError:
            refused += 1
            continue
        if i < n_idle:
            idle.append(s)
        else:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
    t_open = time.monotonic() - t_open
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(1.0)

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    time.sleep(0.5)
    lat_h, lat_a, bad = [], [], 0
    t_end = time.monotonic() + hold
    while time.monotonic() < t_end:
        d, st = timed_get(port, "/healthz")
        lat_h.append(d)
        bad += st != 200
        d, st = timed_get(port, "/v1/keys", token)
        lat_a.append(d)
        bad += st != 200
        time.sleep(0.1)
    # Still open at the end of the measurement (the server did not simply
    # refuse them), then the absolute header deadline closes the trickling
    # ones although they send a byte every second.
    open_idle = sum(alive(s) for s in idle)
    open_slow = sum(alive(s) for s in slow)
    t_wait = time.monotonic()
    deadline = t_wait + float(opt.get("--wait", 20))
    while time.monotonic() < deadline:
        left = sum(alive(s) for s in slow)
        if left == 0:
            break
        time.sleep(0.5)
    slow_left = sum(alive(s) for s in slow)
    idle_left = sum(alive(s) for s in idle)
    stop.set()
    for s in idle + slow:
        s.close()
    print(json.dumps({
        "opened": len(idle) + len(slow), "refused": refused, "open_seconds": round(t_open, 2),
        "open_idle_after_hold": open_idle, "open_slow_after_hold": open_slow,
        "requests": len(lat_h) + len(lat_a), "failed": bad,
        "healthz_max": round(max(lat_h), 3), "authorised_max": round(max(lat_a), 3),
        "slow_open_at_end": slow_left, "idle_open_at_end": idle_left,
        "close_wait_seconds": round(time.monotonic() - t_wait, 1)}))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_push(argv):
    port, pid = int(argv[0]), int(argv[1])
    opt = dict(zip(argv[2::2], argv[3::2]))
    n, size = int(opt.get("--clients", 200)), int(opt.get("--size", 1 << 20))
    raise_nofile()
    targets = [
        ("POST", "/v1/keys", b""),
        ("POST", "/v1/device/heartbeat",
         b"X-Keysup-Controller: 1\r\nX-Keysup-Nonce: " + b"00" * 32 +
         b"\r\nX-Keysup-Signature: " + b"00" * 64 + b"\r\n"),
        ("POST", "/v1/device/enroll", b""),
    ]
    statuses = {}
    lock = threading.Lock()
    start = threading.Barrier(n + 1)

    def client(i):
        method, path, extra = targets[i % len(targets)]
        st = "error"
        try:
            s = connect(port, "127.0.2.%d" % (1 + i % 50))
            s.settimeout(10)
            start.wait()
            s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n%s\r\n" % (method.encode(), path.encode(), size,
                                                          extra))
            chunk = b"a" * 65536
            sent = 0
            try:
                while sent < size:
                    sent += s.send(chunk[:size - sent])
            except OSError:
                pass
            try:
                head = s.recv(64)
                st = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "closed"
            except OSError:
                st = "reset"
            s.close()
        except (OSError, threading.BrokenBarrierError):
            pass
        with lock:
            statuses[st] = statuses.get(st, 0) + 1

    before = rss_kb(pid)
    ths = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    start.wait()
    peak = before
    while any(t.is_alive() for t in ths):
        peak = max(peak, rss_kb(pid))
        time.sleep(0.02)
    peak = max(peak, rss_kb(pid))
    print(json.dumps({"rss_before_kb": before, "rss_peak_kb": peak,
                      "growth_kb": peak - before, "statuses": statuses}))


def cmd_flood(argv):
    port = int(argv[0])
    opt = dict(zip(argv[1::2], argv[2::2]))
    secs, src = float(opt.get("--secs", 5)), opt.get("--src", "127.0.0.2")
    counts = {}
    end = time.monotonic() + secs
    c = None
    while time.monotonic() < end:
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                               source_address=(src, 0))
            c.request("GET", "/v1/device/nonce")
            r = c.getresponse()
            r.read()
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
        except (OSError, http.client.HTTPException):
            counts["error"] = counts.get("error", 0) + 1
            c = None
    print(json.dumps(counts))


def cmd_slowbody(argv):
    """An authorised POST whose body trickles in a byte a second: prints the
    seconds until the server closed the connection (or -1)."""
    port, token, limit = int(argv[0]), argv[1], float(argv[2])
    s = connect(port, "127.0.0.1")
    s.sendall(b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
              b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
              % token.encode())
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            s.send(b" ")
        except OSError:
            break
        time.sleep(1.0)
        if not alive(s):
            break
    print(round(time.monotonic() - t0, 1) if not alive(s) else -1)


if __name__ == "__main__":
    {"conns": cmd_conns, "push": cmd_push, "flood": cmd_flood,
     "slowbody": cmd_slowbody}[sys.argv[1]](sys.argv[2:])
