#!/usr/bin/env Rscript
# Peer figures for crates/stats/src/finegray.rs: R cmprsk's Fine-Gray regression
# (crr), printed as one JSON object.
#
# Usage: Rscript finegray_reference.R CSV
#   CSV  a comma-separated file with a header: time, status (0 = censored,
#        1 = event of interest, 2 = competing event), then the covariates
#
# crates/stats/tests/finegray_peer.rs writes the CSV (deterministic synthetic
# data with binned, heavily tied times) to a temporary directory, fits the same
# model federated over 3 sites and compares with this pooled fit:
#   crr(time, status, cov1 = covariates, failcode = 1, cencode = 0)
# once iterated to the maximum (gtol 1e-13, crr's default 1e-6 stops short of
# it: "tight") and once with the defaults ("default"): coef, var (crr's
# sandwich), naive_var (invinf, the inverse information), loglik, converged.
# Base R and cmprsk only (the JSON is written by hand); installed by
# scripts/setup-peers (Debian r-base-core, r-cran-cmprsk).
suppressPackageStartupMessages(library(cmprsk))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: finegray_reference.R CSV")
data <- read.csv(args[1])
covariates <- as.matrix(data[, setdiff(names(data), c("time", "status")), drop = FALSE])

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}
model <- function(...) {
  fit <- crr(data$time, data$status, cov1 = covariates, failcode = 1, cencode = 0, ...)
  obj(list(
    coef = arr(fit$coef),
    var = arr(fit$var),
    naive_var = arr(fit$invinf),
    loglik = num(fit$loglik),
    converged = if (isTRUE(fit$converged)) "true" else "false"
  ))
}
cat(obj(list(
  tight = model(gtol = 1e-13, maxiter = 100),
  default = model(),
  n = num(nrow(data)),
  version = sprintf("\"R %s, cmprsk %s\"", getRversion(), packageVersion("cmprsk"))
)), "\n")
