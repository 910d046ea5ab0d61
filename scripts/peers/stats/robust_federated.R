#!/usr/bin/env Rscript
# R's robust (Lin & Wei sandwich) Cox fits for the federated robust-SE runs of
# crates/analysis/tests/robust_r.rs, printed as one JSON object.
#
# Usage: Rscript robust_federated.R CSV TIES STRATA
#   CSV     the pooled rows of all sites with the run's binned times already
#           applied: columns time, status (0/1), stratum, then the covariates
#   TIES    efron or breslow
#   STRATA  yes: + strata(stratum); no: without
#
# coxph(Surv(time, status) ~ covariates [+ strata(stratum)], ties, robust = TRUE)
# iterated to the maximum (eps 1e-14); prints coef, the robust variance
# (fit$var, row-major = column-major: symmetric), its standard errors
# (summary's "robust se") and the naive variance.
# Base R and survival only; installed by scripts/setup-peers.
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: robust_federated.R CSV TIES STRATA")
data <- read.csv(args[1])
ties <- args[2]
strata <- args[3] == "yes"
covariates <- setdiff(names(data), c("time", "status", "stratum"))

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}

rhs <- paste(covariates, collapse = " + ")
if (strata) rhs <- paste(rhs, "+ strata(stratum)")
f <- as.formula(paste("Surv(time, status) ~", rhs))
control <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)
fit <- withCallingHandlers(
  coxph(f, data = data, ties = ties, robust = TRUE, control = control),
  warning = function(w) stop("coxph: ", conditionMessage(w))
)
s <- summary(fit)$coefficients
cat(obj(list(
  coef = arr(coef(fit)),
  var = arr(fit$var),
  robust_se = arr(s[, "robust se"]),
  z = arr(s[, "z"]),
  p = arr(s[, "Pr(>|z|)"]),
  naive_var = arr(fit$naive.var),
  n = num(nrow(data)),
  version = sprintf("\"R %s, survival %s\"", getRversion(), packageVersion("survival"))
)), "\n")
