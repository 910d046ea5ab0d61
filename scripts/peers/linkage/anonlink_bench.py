#!/usr/bin/env python3
"""Peer side of the Dice throughput comparison (crates/linkage/examples/dice_bench.rs).

Reads two files of CLKs in clkhash's serialisation (one base64 string of the
128 filter bytes per line, bit 0 first), runs anonlink's all-pairs candidate
generation on them (find_candidate_pairs with dice_coefficient, the native
C++ kernel; one thread), best of --repeat runs, and prints one JSON object:
{comparisons, candidates, seconds, comparisons_per_second, runs, threshold,
 cpu_affinity, versions}.

Usage: anonlink_bench.py A.b64 B.b64 [--threshold 0.75] [--repeat 3]
Needs: pip install anonlink==0.15.3 (scripts/peers/requirements.txt).
"""
import argparse
import base64
import json
import os
import time
from importlib.metadata import version

import anonlink
from bitarray import bitarray


def read(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                b = bitarray(endian="big")
                b.frombytes(base64.b64decode(line))
                out.append(b)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--threshold", type=float, default=0.75)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    a, b = read(args.a), read(args.b)
    sim = anonlink.similarities.dice_coefficient
    runs = []
    candidates = 0
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        sims, _, _ = anonlink.candidate_generation.find_candidate_pairs([a, b], sim, args.threshold)
        runs.append(time.perf_counter() - t)
        candidates = len(sims)
    comparisons = len(a) * len(b)
    seconds = min(runs)
    print(
        json.dumps(
            {
                "comparisons": comparisons,
                "candidates": candidates,
                "seconds": seconds,
                "comparisons_per_second": comparisons / seconds,
                "runs": runs,
                "threshold": args.threshold,
                "cpu_affinity": sorted(os.sched_getaffinity(0)),
                "versions": {"anonlink": version("anonlink"), "bitarray": version("bitarray")},
            }
        )
    )


if __name__ == "__main__":
    main()
