#!/usr/bin/env python3
"""Type=notify without systemd: starts a daemon with NOTIFY_SOCKET pointing
at our own datagram socket and checks it says READY=1 once serving, then
STOPPING=1 on SIGTERM. Usage: sd_notify.py WORKDIR CMD..."""
import os, signal, socket, subprocess, sys, time

work, cmd = sys.argv[1], sys.argv[2:]
path = os.path.join(work, "notify.sock")
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(20)
log = open(os.path.join(work, "notify-daemon.log"), "wb")
p = subprocess.Popen(cmd, env=dict(os.environ, NOTIFY_SOCKET=path), stdout=log, stderr=log)
try:
    msg = s.recv(4096).decode()
    if "READY=1" not in msg:
        sys.exit(f"FAIL: first notification {msg!r}, want READY=1")
    if p.poll() is not None:
        sys.exit("FAIL: the daemon exited after READY=1")
    p.send_signal(signal.SIGTERM)
    msg = s.recv(4096).decode()
    if "STOPPING=1" not in msg:
        sys.exit(f"FAIL: on SIGTERM {msg!r}, want STOPPING=1")
    p.wait(timeout=15)
    print(f"ok: {os.path.basename(cmd[0])} READY=1, then STOPPING=1 on SIGTERM")
except socket.timeout:
    sys.exit("FAIL: no notification within 20 s: " + open(os.path.join(work, "notify-daemon.log")).read())
finally:
    if p.poll() is None:
        p.kill()
