"""Peer for crates/validation/tests/peers.rs: inter-rater agreement of an
annotations CSV (cell_id,expert,label,at) by scikit-learn and statsmodels.

Usage: kappa_peer.py ANNOTATIONS.csv  -> JSON on stdout:
  pairs: per expert pair (name order), over the cells both labelled:
         sklearn cohen_kappa_score, statsmodels cohens_kappa (kappa, std_kappa,
         kappa_low, kappa_upp), sklearn confusion_matrix over the classes
         either used (sorted codes);
  fleiss: statsmodels fleiss_kappa over the cells with exactly m experts
          (m = the most common count among cells with >= 2, larger on a tie),
          and per class the Fleiss kappa of the table collapsed to
          "class vs the rest" (which is Fleiss' per-category kappa_j).
Every expert labels a cell at most once in the input (asserted).
"""
import csv
import json
import sys
from collections import Counter, defaultdict

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

labels = defaultdict(dict)  # cell -> expert -> label
with open(sys.argv[1], newline="") as f:
    for row in csv.DictReader(f):
        assert row["expert"] not in labels[row["cell_id"]], "duplicate label"
        labels[row["cell_id"]][row["expert"]] = row["label"]

experts = sorted({e for by in labels.values() for e in by})
cells = sorted(labels)
pairs = []
for i, a in enumerate(experts):
    for b in experts[i + 1:]:
        both = [c for c in cells if a in labels[c] and b in labels[c]]
        ya = [labels[c][a] for c in both]
        yb = [labels[c][b] for c in both]
        classes = sorted(set(ya) | set(yb))
        table = confusion_matrix(ya, yb, labels=classes)
        sm = cohens_kappa(table)
        pairs.append({
            "a": a, "b": b, "n": len(both),
            "sklearn_kappa": float(cohen_kappa_score(ya, yb)),
            "kappa": float(sm.kappa), "std_kappa": float(sm.std_kappa),
            "ci": [float(sm.kappa_low), float(sm.kappa_upp)],
            "classes": classes, "confusion": table.tolist(),
        })

counts = Counter(len(by) for by in labels.values())
m = max((k for k in counts if k >= 2), key=lambda k: (counts[k], k))
subset = [c for c in cells if len(labels[c]) == m]
codes = sorted({l for c in subset for l in labels[c].values()})
data = np.array([[codes.index(l) for _, l in sorted(labels[c].items())] for c in subset])
table, cats = aggregate_raters(data, n_cat=len(codes))
per_class = {}
for j, code in enumerate(codes):
    collapsed = np.column_stack([table[:, j], m - table[:, j]])
    per_class[code] = float(fleiss_kappa(collapsed, method="fleiss"))
print(json.dumps({
    "pairs": pairs,
    "fleiss": {"m": m, "cells": len(subset), "kappa": float(fleiss_kappa(table, method="fleiss")),
               "per_class": per_class},
}))
