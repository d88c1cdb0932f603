#!/usr/bin/python3
"""Writes the golden vectors of the batch wire format, version 2.

Run with Debian's interpreter (python3-msgpack): /usr/bin/python3
tests/vectors/make_vectors.py [DIR]. The output is deterministic.

batch_raw_v2.msgpack and batch_enriched_v2.msgpack are what another msgpack
implementation writes: keys in an unusual order, float64 features, an int
where a float is expected, and unknown keys the C decoder must skip,
among them version 1's score, prev and chg (no longer fields since v2).

batch_c_v2.msgpack is the exact byte layout the C encoder must produce for
the batch built by c_batch() in tests/test_proto.c; it is assembled here
piece by piece, independently of the C code, with float32 features.
"""
import os
import sys

import msgpack

RAW = {
    "records": [
        {"pos": 1, "streams": 3456789, "name": "Not Like Us",
         "artist": "Kendrick Lamar", "tid": "6AI3ezQ4o3HUoP6Dhudph3"},
        {"pos": 2, "streams": -1, "name": "Beyoncé Medley",
         "artist": "Beyoncé", "tid": None},
        {"artist": "", "name": "夜に駆ける", "tid": None,
         "streams": 5000000000, "pos": 200},
    ],
    "v": 2, "job": 1099511627783, "attempt": 1, "seq": 0, "nbatches": 3,
    "last": False, "stage": 0, "platform": "spotify", "chart": "daily",
    "region": "us", "date": "2024-06-01",
}

ENRICHED = {
    "v": 2, "job": 7, "attempt": 2, "seq": 4, "nbatches": 5, "last": True,
    "stage": 1, "platform": "spotify", "chart": "weekly", "region": "gb",
    "date": "2023-12-31",
    "producer": {"name": "py", "ver": [1, 0], "blob": b"\x00\x01"},
    "records": [
        {"pos": 1, "streams": 1000000, "name": "Lovin On Me",
         "artist": "Jack Harlow", "tid": "4xhsWYTOGcal8zt0J161CU",
         "tkey": "jack harlow|lovin on me", "akey": "jack harlow",
         "af": [0.943, 0.558, 0.606, 104.983], "extra": None},
        # A writer still adding version 1's scores: unknown keys in v2.
        {"pos": 2, "streams": 0, "name": "Paint The Town Red",
         "artist": "Doja Cat", "tid": None,
         "af": [0.5, 0.25, 0.125, 120], "score": 50.0, "prev": 0, "chg": 0},
    ],
}

# The batch of c_batch() in tests/test_proto.c, in the C encoder's order.
C_ENVELOPE = [
    ("v", 2), ("job", 9007199254740993), ("attempt", 3), ("seq", 1),
    ("nbatches", 2), ("last", True), ("stage", 1), ("platform", "spotify"),
    ("chart", "weekly"), ("region", "global"), ("date", "2024-02-29"),
]
C_RECORDS = [
    [("pos", 1), ("streams", 48211234), ("name", "Espresso"),
     ("artist", "Sabrina Carpenter"), ("tid", "2qSkIjg1o9h3YT9RAgYN75"),
     ("tkey", "sabrina carpenter|espresso"), ("akey", "sabrina carpenter"),
     ("af", [0.703125, 0.759765625, 0.6875, 103.96875])],
    [("pos", 2), ("streams", -1), ("name", "Tití Me Preguntó"),
     ("artist", "Bad Bunny"), ("tid", None),
     ("tkey", "bad bunny|titi me pregunto"), ("akey", "bad bunny")],
    [("pos", 150), ("streams", 1200), ("name", "夜に駆ける"),
     ("artist", "YOASOBI"), ("tid", "3dPtXHP0oXQ4HCWHsOA9js")],
]


def c_layout():
    p = msgpack.Packer(use_bin_type=True)
    p32 = msgpack.Packer(use_bin_type=True, use_single_float=True)
    out = [p.pack_map_header(len(C_ENVELOPE) + 1)]
    for k, v in C_ENVELOPE:
        out += [p.pack(k), p.pack(v)]
    out += [p.pack("records"), p.pack_array_header(len(C_RECORDS))]
    for rec in C_RECORDS:
        out.append(p.pack_map_header(len(rec)))
        for k, v in rec:
            out.append(p.pack(k))
            if k == "af":
                out.append(p.pack_array_header(4))
                out += [p32.pack(x) for x in v]
            else:
                out.append(p.pack(v))
    return b"".join(out)


def main():
    here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    files = {
        "batch_raw_v2.msgpack": msgpack.packb(RAW, use_bin_type=True),
        "batch_enriched_v2.msgpack": msgpack.packb(ENRICHED,
                                                   use_bin_type=True),
        "batch_c_v2.msgpack": c_layout(),
    }
    for name, data in files.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
