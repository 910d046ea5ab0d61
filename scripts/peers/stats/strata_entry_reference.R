#!/usr/bin/env Rscript
# R's figures for federated runs with Cox strata and delayed entry
# (crates/analysis/tests/strata_entry_r.rs), printed as one JSON object.
#
# Usage:
#   Rscript strata_entry_reference.R cox CSV EDGES TIES COLUMNS STRATA
#   Rscript strata_entry_reference.R km  CSV EDGES TIMES
#
#   CSV      pooled rows: time (days, unbinned), event (0/1), entry (day the
#            row enters follow-up, 0 = from the origin) and the named columns
#   EDGES    the run's time bins, comma-separated: a time becomes its bin's
#            last day, an entry its bin's first day (OncoFed's rule: at risk
#            from the entry day on, inclusive), entered into R's
#            counting-process form Surv(entry - 1, time, event), at risk on
#            (start, stop]
#   TIES     efron or breslow
#   COLUMNS  comma-separated covariate columns
#   STRATA   a column entered as strata(STRATA), or - for none
#   TIMES    comma-separated times at which to report S(t) (km)
#
# cox: coxph(Surv(start, stop, event) ~ COLUMNS + strata(STRATA)), iterated to
#   the maximum (eps 1e-14): coef, SE, loglik.
# km: survfit(Surv(start, stop, event) ~ 1): S(t) at TIMES (summary).
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4) stop("usage: strata_entry_reference.R cox|km CSV EDGES ...")
mode <- args[1]
raw <- read.csv(args[2])
edges <- as.numeric(strsplit(args[3], ",", fixed = TRUE)[[1]])
if (any(is.na(edges)) || is.unsorted(edges, strictly = TRUE)) stop("EDGES: ascending numbers")
bin <- function(x) pmin(findInterval(x, edges), length(edges) - 1)
raw$stop <- edges[bin(raw$time) + 1] - 1
raw$start <- edges[bin(raw$entry)] - 1
raw$event <- as.numeric(raw$event)

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")

if (mode == "cox") {
  columns <- strsplit(args[5], ",", fixed = TRUE)[[1]]
  rhs <- paste(columns, collapse = " + ")
  if (args[6] != "-") rhs <- paste0(rhs, " + strata(", args[6], ")")
  f <- as.formula(paste("Surv(start, stop, event) ~", rhs))
  fit <- coxph(f, data = raw, ties = args[4],
               control = coxph.control(eps = 1e-14, iter.max = 100, toler.inf = 1e-14))
  cat(sprintf('{"coef":%s,"se":%s,"loglik":%s,"n":%d,"events":%d}\n',
              arr(unname(coef(fit))), arr(unname(sqrt(diag(fit$var)))),
              num(fit$loglik[2]), fit$n, fit$nevent))
} else if (mode == "km") {
  times <- as.numeric(strsplit(args[4], ",", fixed = TRUE)[[1]])
  fit <- survfit(Surv(start, stop, event) ~ 1, data = raw)
  s <- summary(fit, times = times, extend = TRUE)
  cat(sprintf('{"times":%s,"surv":%s}\n', arr(s$time), arr(s$surv)))
} else {
  stop("mode: cox or km")
}
