#!/usr/bin/env python3
"""Python peer figures for crates/stats/src/cif.rs from lifelines'
AalenJohansenFitter, printed as one JSON object.

Usage: cif_reference.py CSV
  CSV has a header and columns time (follow-up) and status (0 = censored,
  1 = cause of interest, 2 = competing cause); crates/stats/tests/cif_peer.rs writes
  it to a temporary directory (deterministic synthetic data) and compares this pooled
  fit and cif_reference.R (R cmprsk) with its estimate federated over 3 sites.

Output: {"cause1": {"time": [...], "est": [...], "var": [...]}, "cause2": {...},
"version": "..."}: for each cause as the event of interest, lifelines'
cumulative_density_ and variance_ at every time of its event table (event and
censoring times, and 0). Non-finite variances (lifelines divides by n - d, which is
0 where everybody at risk has an event) are printed as null.

Ties: AalenJohansenFitter.fit jitters the event times by default whenever two
events of different causes share a time (jitter_level only scales the noise, it
cannot turn it off), which would change the estimate. The estimator itself handles
tied times (it works on the event table, all-cause S(t-) times d1/n), so this script
disables the tie check (AalenJohansenFitter._check_for_duplicates) and fits the
data as it is. The variance is lifelines' delta-method one (Collett, SAS LIFETEST),
which is not Gray's variance that cmprsk and OncoFed report: the test prints its
difference but asserts the variance only against R.
"""
import json
import sys
import warnings

import lifelines
import numpy as np
import pandas as pd
from lifelines import AalenJohansenFitter


def num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def no_ties(durations, events):
    """Replaces the tie check: fit the tied data as they are (no jitter)."""
    return False


AalenJohansenFitter._check_for_duplicates = staticmethod(no_ties)


def cause(frame, k):
    ajf = AalenJohansenFitter(calculate_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # divide by zero where n = d (variance inf)
        ajf.fit(frame["time"], frame["status"], event_of_interest=k)
    est = ajf.cumulative_density_.iloc[:, 0]
    return {
        "time": [float(t) for t in est.index],
        "est": [num(v) for v in est.values],
        "var": [num(v) for v in ajf.variance_.values],
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: cif_reference.py CSV")
    frame = pd.read_csv(sys.argv[1])
    out = {
        "cause1": cause(frame, 1),
        "cause2": cause(frame, 2),
        "n": len(frame),
        "version": f"lifelines {lifelines.__version__}",
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
