#!/usr/bin/python3
"""Checks that a batch written by the C encoder decodes with Python's
msgpack and holds the fields of c_batch() in tests/test_proto.c.

Usage: /usr/bin/python3 tests/vectors/check_c_batch.py FILE
Exits 0 when every field matches, 1 (naming the field) otherwise."""
import sys

import msgpack

EXPECTED = {
    "v": 2, "job": 9007199254740993, "attempt": 3, "seq": 1,
    "nbatches": 2, "last": True, "stage": 1, "platform": "spotify",
    "chart": "weekly", "region": "global", "date": "2024-02-29",
    "records": [
        {"pos": 1, "streams": 48211234, "name": "Espresso",
         "artist": "Sabrina Carpenter", "tid": "2qSkIjg1o9h3YT9RAgYN75",
         "tkey": "sabrina carpenter|espresso", "akey": "sabrina carpenter",
         "af": [0.703125, 0.759765625, 0.6875, 103.96875]},
        {"pos": 2, "streams": -1, "name": "Tití Me Preguntó",
         "artist": "Bad Bunny", "tid": None,
         "tkey": "bad bunny|titi me pregunto", "akey": "bad bunny"},
        {"pos": 150, "streams": 1200, "name": "夜に駆ける",
         "artist": "YOASOBI", "tid": "3dPtXHP0oXQ4HCWHsOA9js"},
    ],
}


def compare(path, got, want):
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            sys.exit(f"{path}: keys {sorted(got)} != {sorted(want)}")
        for k in want:
            compare(f"{path}.{k}", got[k], want[k])
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            sys.exit(f"{path}: {got!r} != {want!r}")
        for i, (g, w) in enumerate(zip(got, want)):
            compare(f"{path}[{i}]", g, w)
    elif type(got) is not type(want) or got != want:
        sys.exit(f"{path}: {got!r} != {want!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_c_batch.py FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    batch = msgpack.unpackb(data, raw=False, strict_map_key=True)
    compare("batch", batch, EXPECTED)
    print("check_c_batch: ok")


if __name__ == "__main__":
    main()
