#!/usr/bin/env python3
"""Independent reading of docs/formats.md, in Python's standard library only.

It never calls keysup's C code: it recomputes what the documentation says a
snapshot's Merkle root, key ids and a delta's result must be, so the C
implementation and the byte-level documentation are checked against each
other. Ed25519 signatures are not re-verified here (no stdlib support);
the C tests do that against RFC 8032 and Wycheproof.

usage: ks_ref.py snapshot FILE
       ks_ref.py delta BASE DELTA TARGET     (BASE + DELTA must equal TARGET's records)
"""
import hashlib
import struct
import sys

REC = 128
HDR = 160


def H(*parts):
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


def mth(items, leaf):
    """RFC 6962 Merkle Tree Hash; leaf(x) gives the hash of one item."""
    n = len(items)
    if n == 0:
        return H(b"")
    if n == 1:
        return leaf(items[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01", mth(items[:k], leaf), mth(items[k:], leaf))


def bucket(key_id, bits):
    return 0 if bits == 0 else struct.unpack(">I", key_id[:4])[0] >> (32 - bits)


def root(records, bits):
    buckets = [[] for _ in range(1 << bits)]
    for r in records:
        buckets[bucket(r[:16], bits)].append(r)
    bh = [mth(b, lambda r: H(b"\x00", r)) for b in buckets]
    return bh[0] if bits == 0 else mth(bh, lambda h: h)


def parse_header(h):
    assert len(h) == HDR
    magic, fmt, bits, res0, version, created, expires = struct.unpack_from("<4sHBBQQQ", h, 0)
    signer = h[32:48]
    count, recsize, scope, history = struct.unpack_from("<IIII", h, 48)
    assert magic == b"KSSN", "magic"
    assert fmt == 1 and recsize == REC and res0 == 0 and bits <= 20
    return dict(bits=bits, version=version, created=created, expires=expires, signer=signer,
                count=count, scope=scope, history=history, root=h[64:96])


def check_record(r):
    assert len(r) == REC
    assert r[101:] == bytes(27), "reserved bytes"
    assert r[96] == 1 and r[97] >= 1 and r[98] == 1 and r[99] <= 2 and r[100] <= 4
    # key id = first 16 bytes of BLAKE2b-256(public key), as docs/formats.md says
    assert r[:16] == H(r[16:48])[:16], "key id is not BLAKE2b(public key)[:16]"
    vfrom, vuntil = struct.unpack_from("<QQ", r, 56)
    assert vuntil == 0 or vuntil > vfrom


def load_snapshot(path):
    data = open(path, "rb").read()
    h = parse_header(data[:HDR])
    body = data[HDR:]
    assert len(body) == h["count"] * REC, "size does not match record_count"
    recs = [body[i:i + REC] for i in range(0, len(body), REC)]
    for i, r in enumerate(recs):
        check_record(r)
        if i:
            assert recs[i - 1][:16] < r[:16], "records not strictly sorted by key id"
    return h, recs


def cmd_snapshot(path):
    h, recs = load_snapshot(path)
    got = root(recs, h["bits"])
    assert got == h["root"], "Merkle root per docs/formats.md differs from the header"
    print(f"ref: {path}: {len(recs)} records, history {h['history']}, bucket_bits {h['bits']}, root {got.hex()} matches")


def cmd_delta(base_path, delta_path, target_path):
    bh, base = load_snapshot(base_path)
    th, target = load_snapshot(target_path)
    d = open(delta_path, "rb").read()
    magic, fmt, res, base_version = struct.unpack_from("<4sHHQ", d, 0)
    assert magic == b"KSDL" and fmt == 1 and res == 0
    base_root = d[16:48]
    nup, nrm = struct.unpack_from("<II", d, 48)
    assert len(d) == 216 + nup * REC + nrm * 16, "delta size"
    assert base_version == bh["version"] and base_root == bh["root"], "delta base"
    assert d[56:216] == open(target_path, "rb").read()[:HDR], "delta target header"
    ups = [d[216 + i * REC:216 + (i + 1) * REC] for i in range(nup)]
    off = 216 + nup * REC
    rms = {d[off + i * 16:off + (i + 1) * 16] for i in range(nrm)}
    merged = {r[:16]: r for r in base if r[:16] not in rms}
    for u in ups:
        merged[u[:16]] = u
    result = [merged[k] for k in sorted(merged)]
    assert result == target, "base + delta differs from the target's records"
    assert root(result, th["bits"]) == th["root"], "result does not land on the target root"
    print(f"ref: delta {base_version} -> {th['version']}: {nup} upserts, {nrm} removals, lands on the target root")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        cmd_snapshot(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "delta":
        cmd_delta(*sys.argv[2:])
    else:
        sys.exit(__doc__)
