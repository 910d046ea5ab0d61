#!/usr/bin/env Rscript
# R cmprsk's Fine-Gray fit (crr) for the federated Fine-Gray runs of
# crates/analysis/tests/finegray_r.rs, printed as one JSON object.
#
# Usage: Rscript finegray_federated.R CSV
#   CSV  the pooled rows of all sites with the run's binned times already
#        applied: columns time, status (0 = censored, 1 = event of interest,
#        2 = competing event), then the covariates (a categorical covariate
#        as its 0/1 columns, as the sites' design columns)
#
# crr(time, status, cov1 = covariates, failcode = 1, cencode = 0) iterated to
# the maximum (gtol 1e-13; crr's default 1e-6 stops short of it); prints coef,
# var (crr's sandwich, column-major = row-major: symmetric), its standard
# errors (summary's "se(coef)"), z, the inverse information and loglik.
# Base R and cmprsk only (the JSON is written by hand); installed by
# scripts/setup-peers (Debian r-base-core, r-cran-cmprsk).
suppressPackageStartupMessages(library(cmprsk))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: finegray_federated.R CSV")
data <- read.csv(args[1])
covariates <- as.matrix(data[, setdiff(names(data), c("time", "status")), drop = FALSE])

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}
fit <- crr(data$time, data$status, cov1 = covariates, failcode = 1, cencode = 0,
           gtol = 1e-13, maxiter = 100)
if (!isTRUE(fit$converged)) stop("crr did not converge")
se <- sqrt(diag(fit$var))
cat(obj(list(
  coef = arr(fit$coef),
  var = arr(fit$var),
  se = arr(se),
  z = arr(fit$coef / se),
  naive_var = arr(fit$invinf),
  loglik = num(fit$loglik),
  n = num(nrow(data)),
  events = num(sum(data$status == 1)),
  competing = num(sum(data$status == 2)),
  version = sprintf("\"R %s, cmprsk %s\"", getRversion(), packageVersion("cmprsk"))
)), "\n")
