"""audit_recs.py - audit records as a controller uploads them (ctl_sync.c
audit_json), with the raw 104 bytes and the chain hash keysupd re-checks
(sup_auditchain.c; layout in ks_auth_audit.c, hash BLAKE2b-256 of
"KEYSUP-AUDITREC1" || record).

usage: audit_recs.py STATE_FILE FIRST_SEQ COUNT [--drop I] [--swap I] [--alter I]
                     [--key HEX] [--counter C] [--time T]

Prints {"records": [...]} for COUNT granted decisions continuing the chain
kept in STATE_FILE (index, hash; created empty: the chain starts). The
chain position in STATE_FILE advances over every record made, dropped or
not. --drop I leaves record I out and renumbers the seqs after it (a
hidden drop; a loss the seqs show is the ring's, a gap), --swap I swaps records I and I+1,
--alter I changes record I's counter in JSON and raw (its hash no longer
what the next record names). --key/--counter/--time: the uses' key id,
first counter (each record one more) and first time.
"""
import argparse
import hashlib
import json
import struct

ap = argparse.ArgumentParser()
ap.add_argument("state")
ap.add_argument("seq", type=int)
ap.add_argument("count", type=int)
ap.add_argument("--drop", type=int)
ap.add_argument("--swap", type=int)
ap.add_argument("--alter", type=int)
ap.add_argument("--key", default="11" * 16)
ap.add_argument("--counter", type=int, default=1)
ap.add_argument("--time", type=int, default=1_800_000_000)
a = ap.parse_args()

try:
    st = json.load(open(a.state))
except FileNotFoundError:
    st = {"index": 0, "hash": "00" * 32}


def encode(event, t, key, reader, detail, index, prev, clock):
    return (struct.pack("<BBHiQ", 1, event, 0, 0, t) + key + reader.ljust(16, b"\0") +
            struct.pack("<QQ", detail, index) + prev + struct.pack("<II", 0, clock))


def chain_hash(raw):
    return hashlib.blake2b(b"KEYSUP-AUDITREC1" + raw, digest_size=32).digest()


def as_json(seq, raw, t, key, reader, detail, index, prev, clock):
    return {"seq": seq, "time": t, "event": 1, "action": "none", "key_id": key.hex(),
            "reader": reader.decode(), "detail": detail, "index": index, "prev": prev.hex(),
            "hash": chain_hash(raw).hex(), "granted": True, "clock": clock, "raw": raw.hex()}


recs = []
index, prev = st["index"], bytes.fromhex(st["hash"])
key = bytes.fromhex(a.key)
for i in range(a.count):
    index += 1
    if index == 1:
        prev = b"\0" * 32
    t, detail, reader, clock = a.time + 10 * i, a.counter + i, b"reader-1", 1
    raw = encode(1, t, key, reader, detail, index, prev, clock)
    recs.append(as_json(a.seq + i, raw, t, key, reader, detail, index, prev, clock))
    prev = chain_hash(raw)
json.dump({"index": index, "hash": prev.hex()}, open(a.state, "w"))

if a.alter is not None:
    r = recs[a.alter]
    raw = bytearray(bytes.fromhex(r["raw"]))
    raw[48:56] = struct.pack("<Q", r["detail"] + 1000)
    r.update(detail=r["detail"] + 1000, raw=raw.hex(), hash=chain_hash(bytes(raw)).hex())
if a.swap is not None:
    s = a.swap
    recs[s], recs[s + 1] = recs[s + 1], recs[s]
    recs[s]["seq"], recs[s + 1]["seq"] = recs[s + 1]["seq"], recs[s]["seq"]
if a.drop is not None:
    # left out, and the seqs after it renumbered so none seems missing
    for r in recs[a.drop + 1:]:
        r["seq"] -= 1
    del recs[a.drop]
print(json.dumps({"records": recs}))
