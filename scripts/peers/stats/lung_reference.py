#!/usr/bin/env python3
"""Peer figures for crates/stats on the NCCTG lung data, printed as one JSON object.

Usage: lung_reference.py path/to/lung.csv [EDGES]

EDGES (optional): comma-separated time-bin edges in days, as an OncoFed result
reports them (`run.time_bins.edges`). Each time then becomes the last day of its
bin [e_i, e_{i+1}) before any fit, so the peers fit the same binned times the
federation summed over (issue 11, item 3: no sum over fewer than k persons).

The Rust side-by-side test (crates/stats/tests/lung_peer.rs) fits the same models
federated over 3 "sites" (site = data row index mod 3) and compares. Everything
here is the pooled single-process fit by the peers:
  - lifelines 0.30.3: Kaplan-Meier (log-log CI), log-rank, CoxPHFitter (Efron),
    with and without strata by site;
  - statsmodels 0.15: PHReg (Breslow and Efron), Logit, Poisson, GLM deviances.
Rows with NA in a model's columns are dropped per model (complete cases), as the
Rust test does. lung.csv codes status 0 = censored, 1 = dead (lifelines' copy).
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

COVARIATES = ["age", "sex", "ph.ecog"]
# lifelines' default stopping rule (relative log-likelihood change < 1e-9, as R's
# coxph) stops before the last damped Newton step: on lung its sex coefficient is
# 2e-6 short of the maximum. CONVERGED runs its Newton-Raphson to the maximum.
CONVERGED = {"precision": 1e-14, "r_precision": 1e-16, "max_steps": 100}


def num(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def km(frame):
    kmf = KaplanMeierFitter().fit(frame["time"], frame["status"])
    times = sorted(frame.loc[frame["status"] == 1, "time"].unique())
    ci = kmf.confidence_interval_
    lo, hi = median_survival_times(ci).iloc[0]
    return {
        "times": [float(t) for t in times],
        "survival": [float(v) for v in kmf.survival_function_.loc[times].iloc[:, 0]],
        "ci_lower": [float(v) for v in ci.loc[times].iloc[:, 0]],
        "ci_upper": [float(v) for v in ci.loc[times].iloc[:, 1]],
        "median": num(kmf.median_survival_time_),
        "median_ci": [num(lo), num(hi)],
        "s365": float(kmf.predict(365.0)),
    }


def cox_lifelines(frame, strata=None, fit_options=CONVERGED):
    cols = ["time", "status"] + COVARIATES + ([strata] if strata else [])
    cph = CoxPHFitter().fit(
        frame[cols], "time", "status", strata=[strata] if strata else None, fit_options=fit_options
    )
    return {
        "coef": [float(cph.params_[c]) for c in COVARIATES],
        "se": [float(cph.standard_errors_[c]) for c in COVARIATES],
        "p": [float(cph.summary.loc[c, "p"]) for c in COVARIATES],
        "loglik": float(cph.log_likelihood_),
        "n": int(len(frame)),
        "events": int(frame["status"].sum()),
    }


def cox_ecog_categorical(frame):
    """Cox (Efron) on age, sex and ECOG as a categorical covariate with
    reference 0: pd.get_dummies(drop_first=True) gives one 0/1 column per
    grade 1-3, the treatment contrasts OncoFed's cat:<variable>:0,1,2,3 builds
    at the sites (lung has a single ECOG-3 row)."""
    grade = frame["ph.ecog"].astype(int).astype(pd.CategoricalDtype([0, 1, 2, 3]))
    dummies = pd.get_dummies(grade, prefix="ecog", drop_first=True).astype(float)
    cols = ["age", "sex"] + list(dummies.columns)
    design = pd.concat([frame[["time", "status", "age", "sex"]], dummies], axis=1)
    cph = CoxPHFitter().fit(design, "time", "status", fit_options=CONVERGED)
    return {
        "terms": cols,
        "coef": [float(cph.params_[c]) for c in cols],
        "se": [float(cph.standard_errors_[c]) for c in cols],
        "loglik": float(cph.log_likelihood_),
        "n": int(len(frame)),
    }


def cox_statsmodels(frame, ties):
    res = sm.PHReg(frame["time"], frame[COVARIATES], status=frame["status"], ties=ties).fit()
    return {"coef": list(map(float, res.params)), "se": list(map(float, res.bse)), "loglik": float(res.llf)}


def glm(frame, family):
    y = frame["status"].astype(float)
    x = sm.add_constant(frame[COVARIATES].astype(float))
    if family == "binomial":
        res = sm.Logit(y, x).fit(disp=0)
        deviance = sm.GLM(y, x, family=sm.families.Binomial()).fit().deviance
    else:
        offset = np.log(frame["time"].astype(float))
        res = sm.Poisson(y, x, offset=offset).fit(disp=0)
        deviance = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit().deviance
    return {
        "coef": list(map(float, res.params)),
        "se": list(map(float, res.bse)),
        "p": list(map(float, res.pvalues)),
        "loglik": float(res.llf),
        "deviance": float(deviance),
        "iterations": int(res.mle_retvals["iterations"]),
    }


def main():
    warnings.simplefilter("ignore")
    data = pd.read_csv(sys.argv[1])
    if len(sys.argv) > 2:
        edges = np.array([float(e) for e in sys.argv[2].split(",")])
        # index of the bin holding t: the last edge <= t; its end is the next edge - 1
        i = np.searchsorted(edges, data["time"].to_numpy(), side="right")
        i = np.clip(i, 1, len(edges) - 1)
        data["time"] = edges[i] - 1.0
    data["site"] = np.arange(len(data)) % 3
    survival = data.dropna(subset=["time", "status"])
    complete = data.dropna(subset=["time", "status"] + COVARIATES)
    ecog = survival.dropna(subset=["ph.ecog"])
    male, female = survival[survival["sex"] == 1], survival[survival["sex"] == 2]
    lr = logrank_test(male["time"], female["time"], male["status"], female["status"])
    mlr = multivariate_logrank_test(ecog["time"], ecog["ph.ecog"], ecog["status"])
    out = {
        "km_overall": km(survival),
        "km_male": km(male),
        "km_female": km(female),
        "logrank_sex": {"chi2": float(lr.test_statistic), "p": float(lr.p_value)},
        "logrank_ecog": {"chi2": float(mlr.test_statistic), "p": float(mlr.p_value),
                         "df": int(mlr.degrees_of_freedom)},
        "cox_efron": cox_lifelines(complete),
        "cox_efron_default": cox_lifelines(complete, fit_options=None),
        "cox_efron_strata_site": cox_lifelines(complete, strata="site"),
        "cox_efron_ecog_categorical": cox_ecog_categorical(complete),
        "cox_efron_statsmodels": cox_statsmodels(complete, "efron"),
        "cox_breslow_statsmodels": cox_statsmodels(complete, "breslow"),
        "logit": glm(complete, "binomial"),
        "poisson": glm(complete, "poisson"),
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
