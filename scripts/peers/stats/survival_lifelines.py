#!/usr/bin/env python3
"""Python peer figures for crates/stats/tests/r_peer.rs, printed as one JSON object
with the same keys as survival_reference.R (R's survival package).

Usage:
  survival_lifelines.py CSV TIME EVENT COVARIATES BY KBY
      fits, with the same arguments as survival_reference.R (see there);
  survival_lifelines.py rossi OUT.csv
      writes the Rossi recidivism data that ships inside the lifelines package
      (lifelines.datasets.load_rossi(): week, arrest, fin, age, race, wexp, mar,
      paro, prio; 432 rows) to OUT.csv, with one derived column for a k-group
      log-rank: prio_group = min(prio, 3) (0, 1, 2, 3 or more prior convictions).
      The test writes it to a temporary file; it is never committed.

Everything here is the pooled single-process fit (site = data row index mod 3):
  - lifelines 0.30.3 CoxPHFitter (Efron ties), pooled and with strata site, run to
    the maximum (fit_options precision 1e-14, as lung_reference.py);
  - lifelines has no Breslow ties: Breslow (pooled, strata site) is statsmodels
    0.15 PHReg, the other Python peer;
  - lifelines KaplanMeierFitter per BY level: medians (log-log CI), S(t) at the
    event times;
  - lifelines logrank_test by BY, multivariate_logrank_test by KBY.
"""
import json
import sys
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times

CONVERGED = {"precision": 1e-14, "r_precision": 1e-16, "max_steps": 100}


def num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def cox_efron(frame, covariates, strata):
    cols = ["time", "event"] + covariates + (["site"] if strata else [])
    cph = CoxPHFitter().fit(frame[cols], "time", "event",
                            strata=["site"] if strata else None, fit_options=CONVERGED)
    return {
        "coef": [float(cph.params_[c]) for c in covariates],
        "se": [float(cph.standard_errors_[c]) for c in covariates],
        "loglik": float(cph.log_likelihood_),
        "n": len(frame),
        "events": int(frame["event"].sum()),
        "peer": "lifelines",
    }


def cox_breslow(frame, covariates, strata):
    res = sm.PHReg(frame["time"], frame[covariates].astype(float), status=frame["event"],
                   ties="breslow", strata=frame["site"] if strata else None).fit()
    return {"coef": list(map(float, res.params)), "se": list(map(float, res.bse)),
            "loglik": float(res.llf), "n": len(frame), "events": int(frame["event"].sum()),
            "peer": "statsmodels"}


def km_by(frame):
    rows = frame.dropna(subset=["by"])
    levels = sorted(rows["by"].unique())
    out = {"levels": [float(v) for v in levels], "median": [], "median_ci_lower": [],
           "median_ci_upper": [], "curves": []}
    for level in levels:
        group = rows[rows["by"] == level]
        kmf = KaplanMeierFitter().fit(group["time"], group["event"])
        lo, hi = median_survival_times(kmf.confidence_interval_).iloc[0]
        out["median"].append(num(kmf.median_survival_time_))
        out["median_ci_lower"].append(num(lo))
        out["median_ci_upper"].append(num(hi))
        times = sorted(group.loc[group["event"] == 1, "time"].unique())
        out["curves"].append({
            "times": [float(t) for t in times],
            "survival": [float(v) for v in kmf.survival_function_.loc[times].iloc[:, 0]],
        })
    return out


def logrank(frame, column):
    rows = frame.dropna(subset=[column])
    levels = sorted(rows[column].unique())
    if len(levels) == 2:
        a, b = (rows[rows[column] == v] for v in levels)
        test = logrank_test(a["time"], b["time"], a["event"], b["event"])
    else:
        test = multivariate_logrank_test(rows["time"], rows[column], rows["event"])
    return {"chi2": float(test.test_statistic), "df": len(levels) - 1, "p": float(test.p_value)}


def write_rossi(out):
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    rossi["prio_group"] = rossi["prio"].clip(upper=3)
    rossi.to_csv(out, index=False)


def main():
    warnings.simplefilter("ignore")
    if sys.argv[1:2] == ["rossi"]:
        write_rossi(sys.argv[2])
        return
    csv, time_col, event_col, covariates, by_col, kby_col = sys.argv[1:7]
    covariates = covariates.split(",")
    raw = pd.read_csv(csv)
    data = pd.DataFrame({"time": raw[time_col].astype(float), "event": raw[event_col]})
    for c in covariates:
        data[c] = raw[c].astype(float)
    data["by"], data["kby"] = raw[by_col].astype(float), raw[kby_col].astype(float)
    data["site"] = np.arange(len(data)) % 3
    data = data.dropna(subset=["time", "event"])
    data["event"] = data["event"].astype(int)
    complete = data.dropna(subset=covariates)
    import lifelines
    out = {
        "peer": f"lifelines {lifelines.__version__}, statsmodels {sm.__version__} (Breslow)",
        "cox_efron": cox_efron(complete, covariates, False),
        "cox_breslow": cox_breslow(complete, covariates, False),
        "cox_efron_strata_site": cox_efron(complete, covariates, True),
        "cox_breslow_strata_site": cox_breslow(complete, covariates, True),
        "km_by": km_by(data),
        "logrank_by": logrank(data, "by"),
        "logrank_kby": logrank(data, "kby"),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
