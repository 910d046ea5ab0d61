#!/usr/bin/env Rscript
# Peer figures for crates/stats from R's survival package, printed as one JSON object.
#
# Usage: Rscript survival_reference.R CSV TIME EVENT COVARIATES BY KBY
#   CSV         a comma-separated file with a header; empty fields or NA are missing
#   TIME        column of follow-up times
#   EVENT       column coded 0 = censored, 1 = event
#   COVARIATES  comma-separated columns of the Cox model (complete cases)
#   BY          a two-level column: survfit medians per level, survdiff (2 groups)
#   KBY         a column with k levels: survdiff (k groups)
# e.g. for the NCCTG lung data (lifelines' copy, status 0/1):
#   Rscript survival_reference.R lung.csv time status age,sex,ph.ecog sex ph.ecog
#
# The Rust side-by-side test (crates/stats/tests/r_peer.rs) fits the same models
# federated over 3 sites (site = data row index mod 3, before any rows are dropped)
# and compares with this and with lifelines (survival_lifelines.py, same arguments).
# Everything here is R's pooled single-process fit:
#   - coxph, ties "efron" and "breslow", pooled and with strata(site), iterated to
#     the maximum (eps 1e-14: R's default 1e-9 on the relative log-likelihood change
#     stops up to ~1e-6 short of it);
#   - survfit (log-log CI, as lifelines and OncoFed) per BY level: medians with
#     their CI, S(t) at the event times;
#   - survdiff (rho = 0, the log-rank test) by BY and by KBY.
# Base R and survival only: the JSON is written by hand (jsonlite is not a
# dependency). Installed by scripts/setup-peers (Debian r-base-core, r-cran-survival).
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 6) {
  stop("usage: survival_reference.R CSV TIME EVENT COVARIATES BY KBY")
}
csv <- args[1]
time_col <- args[2]
event_col <- args[3]
covariates <- strsplit(args[4], ",", fixed = TRUE)[[1]]
by_col <- args[5]
kby_col <- args[6]

raw <- read.csv(csv, check.names = FALSE, na.strings = c("", "NA"))
data <- data.frame(time = as.numeric(raw[[time_col]]), event = as.numeric(raw[[event_col]]))
for (i in seq_along(covariates)) data[[paste0("x", i)]] <- as.numeric(raw[[covariates[i]]])
data$by <- as.numeric(raw[[by_col]])
data$kby <- as.numeric(raw[[kby_col]])
data$site <- (seq_len(nrow(data)) - 1) %% 3
data <- data[!is.na(data$time) & !is.na(data$event), ]

num <- function(x) {
  ifelse(is.finite(x), sprintf("%.17g", x), "null")
}
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}

terms <- paste0("x", seq_along(covariates))
complete <- data[complete.cases(data[, terms, drop = FALSE]), ]
# toler.chol must lie below eps (the default 1.8e-12 would warn)
control <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)

cox <- function(ties, strata) {
  rhs <- paste(terms, collapse = " + ")
  if (strata) rhs <- paste(rhs, "+ strata(site)")
  f <- as.formula(paste("Surv(time, event) ~", rhs))
  fit <- withCallingHandlers(
    coxph(f, data = complete, ties = ties, control = control),
    warning = function(w) stop("coxph: ", conditionMessage(w))
  )
  obj(list(
    coef = arr(unname(coef(fit))),
    se = arr(unname(sqrt(diag(vcov(fit))))),
    loglik = num(fit$loglik[2]),
    iterations = num(fit$iter),
    n = num(fit$n),
    events = num(fit$nevent)
  ))
}

km_by <- function() {
  rows <- data[!is.na(data$by), ]
  levels <- sort(unique(rows$by))
  medians <- c()
  lower <- c()
  upper <- c()
  curves <- c()
  for (level in levels) {
    fit <- survfit(Surv(time, event) ~ 1, data = rows[rows$by == level, ], conf.type = "log-log")
    q <- quantile(fit, probs = 0.5)
    medians <- c(medians, unname(q$quantile))
    lower <- c(lower, unname(q$lower))
    upper <- c(upper, unname(q$upper))
    steps <- fit$n.event > 0
    curves <- c(curves, obj(list(times = arr(fit$time[steps]), survival = arr(fit$surv[steps]))))
  }
  obj(list(levels = arr(levels), median = arr(medians), median_ci_lower = arr(lower),
           median_ci_upper = arr(upper), curves = paste0("[", paste(curves, collapse = ","), "]")))
}

logrank <- function(column) {
  rows <- data[!is.na(data[[column]]), ]
  test <- survdiff(Surv(time, event) ~ rows[[column]], data = rows)
  df <- length(test$n) - 1
  obj(list(
    chi2 = num(test$chisq),
    df = num(df),
    p = num(pchisq(test$chisq, df, lower.tail = FALSE)),
    observed = arr(unname(test$obs)),
    expected = arr(unname(test$exp))
  ))
}

out <- list(
  peer = sprintf("\"R %s.%s, survival %s\"", R.version$major, R.version$minor,
                 as.character(packageVersion("survival"))),
  cox_efron = cox("efron", FALSE),
  cox_breslow = cox("breslow", FALSE),
  cox_efron_strata_site = cox("efron", TRUE),
  cox_breslow_strata_site = cox("breslow", TRUE),
  km_by = km_by(),
  logrank_by = logrank("by"),
  logrank_kby = logrank("kby")
)
cat(obj(out), "\n", sep = "")
