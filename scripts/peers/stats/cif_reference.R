#!/usr/bin/env Rscript
# Peer figures for crates/stats/src/cif.rs (and cif/gray.rs) from R's cmprsk
# package (Gray's cuminc), printed as one JSON object.
#
# Usage: Rscript cif_reference.R CSV
#   CSV  a comma-separated file with a header and columns time (follow-up) and
#        status (0 = censored, 1 = cause of interest, 2 = competing cause), and
#        optionally group (any labels): then cuminc compares the groups
#
# crates/stats/tests/cif_peer.rs writes the CSVs (deterministic synthetic data) to a
# temporary directory, estimates the cumulative incidence (and, with groups, Gray's
# test) federated over 3 sites and compares with this pooled fit and, without
# groups, with cif_reference.py (lifelines).
# Output: for each curve (without groups "cause1", "cause2"; with groups
# "<group> <cause>" as cuminc names them), cuminc's estimate and Gray's variance
# just after each time with an event of that cause in that group, and the
# pointwise 95% log(-log) interval computed from them,
#   est^exp(qnorm(0.025) * sqrt(var) / (est * log(est))) and the same with
#   -qnorm(0.025) (tidycmprsk's conf.low / conf.high; null where est is 0 or 1):
#   {"cause1": {"time": [...], "est": [...], "var": [...], "lower": [...],
#    "upper": [...]}, "cause2": {...}, "n": rows, "version": "cmprsk x.y-z"}
# With groups also cuminc's Tests, one row per cause:
#   "tests": {"cause1": {"stat": s, "pv": p, "df": k - 1}, "cause2": {...}}
# cuminc returns step-function corners (0, t1, t1, t2, t2, ..., last follow-up);
# the values after each jump are the elements 3, 5, ..., 2k + 1.
# Base R and cmprsk only (the JSON is written by hand); installed by
# scripts/setup-peers (Debian r-base-core, r-cran-cmprsk).
suppressPackageStartupMessages(library(cmprsk))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: cif_reference.R CSV")
data <- read.csv(args[1])
grouped <- "group" %in% names(data)

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}
# the log(-log) interval; NA (null) where est is 0 or 1
band <- function(est, var, z) {
  inside <- est > 0 & est < 1
  ifelse(inside, est^exp(z * sqrt(var) / (est * log(ifelse(inside, est, 0.5)))), NA)
}

fit <- if (grouped) {
  cuminc(data$time, data$status, data$group, cencode = 0)
} else {
  cuminc(data$time, data$status, cencode = 0)
}
curve <- function(name) {
  curve <- fit[[name]]
  after <- seq(3, length(curve$time) - 1, by = 2)
  est <- curve$est[after]
  var <- curve$var[after]
  obj(list(
    time = arr(curve$time[after]), est = arr(est), var = arr(var),
    lower = arr(band(est, var, qnorm(0.025))), upper = arr(band(est, var, -qnorm(0.025)))
  ))
}
fields <- if (grouped) {
  names <- setdiff(names(fit), "Tests")
  curves <- lapply(names, curve)
  names(curves) <- names
  tests <- fit$Tests
  row <- function(k) {
    obj(list(stat = num(tests[k, "stat"]), pv = num(tests[k, "pv"]), df = num(tests[k, "df"])))
  }
  c(curves, list(tests = obj(list(cause1 = row("1"), cause2 = row("2")))))
} else {
  list(cause1 = curve("1 1"), cause2 = curve("1 2"))
}
cat(obj(c(fields, list(
  n = num(nrow(data)),
  version = sprintf("\"R %s, cmprsk %s\"", getRversion(), packageVersion("cmprsk"))
))), "\n")
