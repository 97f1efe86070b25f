#!/usr/bin/env python3
"""The store's files call one way only (issue 15 item 2).

Reads src/core/ks_store*.c, finds which file defines each internal ks__
function and which files call it, and fails when the file-level call graph
has a cycle. One pair is one unit on purpose: the metadata log and the
changed-keys list (ks_store_meta.c compacts the list, ks_store_deny.c
appends list records to the log), so they count as one node. It also
checks that ks_store.c, the entry file, is called by no other store file.
usage: store_layers.py SRC_CORE_DIR
"""
import glob
import os
import re
import sys

UNITS = {"ks_store_deny.c": "ks_store_meta.c"}


def main(core):
    files = sorted(glob.glob(os.path.join(core, "ks_store*.c")))
    if len(files) < 10:
        sys.exit("store_layers: expected the store's files in %s" % core)
    node = lambda f: UNITS.get(f, f)
    defs, text = {}, {}
    for f in files:
        b = os.path.basename(f)
        text[b] = re.sub(r"/\*.*?\*/", "", open(f).read(), flags=re.S)
        for m in re.finditer(r"^[a-z][^\n;]*?\b(ks__\w+)\(", text[b], re.M):
            defs[m.group(1)] = b
    graph = {}
    for b, s in text.items():
        for c in set(re.findall(r"\b(ks__\w+)\(", s)):
            d = defs.get(c)
            if d and node(d) != node(b):
                graph.setdefault(node(b), set()).add(node(d))
    for b, outs in graph.items():
        if "ks_store.c" in outs:
            sys.exit("store_layers: %s calls up into the entry file ks_store.c" % b)
    # depth-first search for a cycle
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cyc = path[path.index(m):] + [m] if m in path else path + [m]
                sys.exit("store_layers: import circle: " + " -> ".join(cyc))
            if not state.get(m):
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(graph):
        if not state.get(n):
            visit(n, [n])
    for n in sorted(graph):
        print("%-22s -> %s" % (n, " ".join(sorted(graph[n]))))
    print("store layers: one way, no circle")


if __name__ == "__main__":
    main(sys.argv[1])
