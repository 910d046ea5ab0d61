#!/usr/bin/env Rscript
# Peer figures for crates/stats/src/cox/robust.rs: R survival's robust (Lin & Wei
# sandwich) Cox covariance, printed as one JSON object.
#
# Usage: Rscript robust_reference.R CSV
#   CSV  a comma-separated file with a header: time, status (0 = censored,
#        1 = event), stratum, then the covariates (every further column)
#
# crates/stats/tests/robust_peer.rs writes the CSV (lung data with binned times)
# to a temporary directory, fits the same models federated over 3 sites and
# compares. For ties "breslow" and "efron", without and with strata(stratum):
#   coxph(Surv(time, status) ~ covariates [+ strata(stratum)], ties, robust = TRUE)
# iterated to the maximum (eps 1e-14), printing coef, var (robust), naive.var and
# the score residuals' crossproduct (the sandwich's meat, from
# residuals(fit, type = "score")), all matrices column-major (= row-major here,
# they are symmetric).
# Base R and survival only (the JSON is written by hand); installed by
# scripts/setup-peers (Debian r-base-core, r-cran-survival).
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: robust_reference.R CSV")
data <- read.csv(args[1])
covariates <- setdiff(names(data), c("time", "status", "stratum"))

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}

control <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)
model <- function(ties, strata) {
  rhs <- paste(covariates, collapse = " + ")
  if (strata) rhs <- paste(rhs, "+ strata(stratum)")
  f <- as.formula(paste("Surv(time, status) ~", rhs))
  fit <- withCallingHandlers(
    coxph(f, data = data, ties = ties, robust = TRUE, control = control),
    warning = function(w) stop("coxph: ", conditionMessage(w))
  )
  score <- residuals(fit, type = "score")
  obj(list(
    coef = arr(coef(fit)),
    var = arr(fit$var),
    naive_var = arr(fit$naive.var),
    meat = arr(crossprod(score)),
    loglik = num(fit$loglik[2]),
    events = num(fit$nevent)
  ))
}
cat(obj(list(
  breslow = model("breslow", FALSE),
  efron = model("efron", FALSE),
  breslow_strata = model("breslow", TRUE),
  efron_strata = model("efron", TRUE),
  n = num(nrow(data)),
  version = sprintf("\"R %s, survival %s\"", getRversion(), packageVersion("survival"))
)), "\n")
