#!/usr/bin/env Rscript
# Peer figures for crates/stats/src/cif.rs from R's cmprsk package (Gray's cuminc),
# printed as one JSON object.
#
# Usage: Rscript cif_reference.R CSV
#   CSV  a comma-separated file with a header and columns time (follow-up) and
#        status (0 = censored, 1 = cause of interest, 2 = competing cause)
#
# crates/stats/tests/cif_peer.rs writes the CSV (deterministic synthetic data) to a
# temporary directory, estimates the cumulative incidence federated over 3 sites
# and compares with this pooled fit and with cif_reference.py (lifelines).
# Output: for each cause ("cause1", "cause2"), cuminc's estimate and Gray's
# variance just after each time with an event of that cause:
#   {"cause1": {"time": [...], "est": [...], "var": [...]}, "cause2": {...},
#    "n": rows, "version": "cmprsk x.y-z"}
# cuminc returns step-function corners (0, t1, t1, t2, t2, ..., last follow-up);
# the values after each jump are the elements 3, 5, ..., 2k + 1.
# Base R and cmprsk only (the JSON is written by hand); installed by
# scripts/setup-peers (Debian r-base-core, r-cran-cmprsk).
suppressPackageStartupMessages(library(cmprsk))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: cif_reference.R CSV")
data <- read.csv(args[1])

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}

fit <- cuminc(data$time, data$status, cencode = 0)
cause <- function(k) {
  curve <- fit[[paste("1", k)]]
  after <- seq(3, length(curve$time) - 1, by = 2)
  obj(list(time = arr(curve$time[after]), est = arr(curve$est[after]), var = arr(curve$var[after])))
}
cat(obj(list(
  cause1 = cause(1),
  cause2 = cause(2),
  n = num(nrow(data)),
  version = sprintf("\"R %s, cmprsk %s\"", getRversion(), packageVersion("cmprsk"))
)), "\n")
