#!/usr/bin/env python3
"""lifelines' figures for federated runs with Cox strata and delayed entry
(crates/analysis/tests/strata_entry_r.rs, side by side with R), as one JSON
object on stdout.

Usage:
  strata_entry_lifelines.py cox CSV EDGES COLUMNS STRATA
  strata_entry_lifelines.py km  CSV EDGES TIMES

CSV, EDGES, COLUMNS, STRATA (or -) and TIMES as in strata_entry_reference.R:
times become their bin's last day, entries their bin's first day less one
(R's counting-process start; lifelines' `entry_col` / `entry=` take the same
"at risk after entry" convention). Cox: CoxPHFitter (Efron, the only ties
lifelines has), strata=[STRATA], entry_col, converged tightly; KM:
KaplanMeierFitter(entry=...) S(t) at TIMES.
"""
import json
import sys

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter


def binned(raw, edges):
    edges = np.asarray(edges, dtype=float)
    last = len(edges) - 2

    def bin_of(x):
        return np.minimum(np.searchsorted(edges, x, side="right") - 1, last)

    df = raw.copy()
    df["stop"] = edges[bin_of(df["time"].to_numpy()) + 1] - 1
    df["start"] = edges[bin_of(df["entry"].to_numpy())] - 1
    return df


def main():
    mode, path, edges = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split(",")]
    df = binned(pd.read_csv(path), edges)
    if mode == "cox":
        columns = sys.argv[4].split(",")
        strata = None if sys.argv[5] == "-" else [sys.argv[5]]
        keep = columns + ["stop", "event", "start"] + (strata or [])
        fit = CoxPHFitter()
        fit.fit(
            df[keep],
            duration_col="stop",
            event_col="event",
            entry_col="start",
            strata=strata,
            fit_options={"precision": 1e-14, "max_steps": 200},
        )
        out = {
            "coef": [float(fit.params_[c]) for c in columns],
            "se": [float(fit.standard_errors_[c]) for c in columns],
            "loglik": float(fit.log_likelihood_),
        }
    elif mode == "km":
        times = [float(x) for x in sys.argv[4].split(",")]
        fit = KaplanMeierFitter().fit(df["stop"], df["event"], entry=df["start"])
        out = {"surv": [float(fit.survival_function_at_times(t).iloc[0]) for t in times]}
    else:
        raise SystemExit("mode: cox or km")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
