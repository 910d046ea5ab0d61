#!/usr/bin/env Rscript
# R's figures for whole federated analysis runs on binned times
# (crates/analysis/tests/r_federated.rs), printed as one JSON object.
#
# Usage:
#   Rscript federated_reference.R cox CSV EDGES TIES COLUMNS [FACTOR LEVELS]
#   Rscript federated_reference.R km  CSV EDGES GROUP
#
#   CSV      the pooled rows of all sites: columns time (days, unbinned), event
#            (0 = censored, 1 = event) and the named covariate columns; the
#            Rust test writes it to a temporary file and deletes it after
#   EDGES    the run's time bins (`run.time_bins.edges`), comma-separated, or
#            `exact`; each time becomes its bin's last day here, in R:
#            bin i is [edges[i], edges[i+1]) and its time edges[i+1] - 1 (a
#            time at or past the last edge: the last edge - 1), as
#            `oncofed_protocol::analysis::time_bin_end` defines it
#   TIES     efron or breslow
#   COLUMNS  comma-separated covariate columns, in the model's order
#   FACTOR   one of COLUMNS entered as factor(FACTOR, levels = LEVELS): the
#            first of the comma-separated LEVELS is the reference
#   GROUP    a column with k levels: survfit per level, survdiff over all
#
# cox: coxph(Surv(binned time, event) ~ COLUMNS) iterated to the maximum
#   (eps 1e-14: R's default 1e-9 on the relative log-likelihood change stops up
#   to ~1e-6 short of it): coef, SE, loglik, iterations, n, events.
# km: per GROUP level (ascending) survfit(conf.type = "log-log") on the binned
#   times: n, the table (time, n.risk, n.event, n.censor, surv, lower, upper)
#   and the median with its CI; survdiff (rho = 0): chi2, df, p, observed and
#   expected. The test derives the released numbers from the table itself.
#
# Base R and survival only (the JSON is written by hand). Installed by
# scripts/setup-peers (Debian r-base-core, r-cran-survival).
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
usage <- paste(
  "usage: federated_reference.R cox CSV EDGES TIES COLUMNS [FACTOR LEVELS]",
  "| km CSV EDGES GROUP"
)
if (length(args) < 4) stop(usage)
mode <- args[1]
raw <- read.csv(args[2], check.names = FALSE, na.strings = c("", "NA"))

# The run's binning, applied here to the unbinned times.
bin_end <- function(time, edges) {
  i <- findInterval(time, edges) # edges at or below each time
  ifelse(i < length(edges), edges[pmin(i + 1, length(edges))] - 1, edges[length(edges)] - 1)
}
if (args[3] == "exact") {
  raw$time <- as.numeric(raw$time)
} else {
  edges <- as.numeric(strsplit(args[3], ",", fixed = TRUE)[[1]])
  if (any(is.na(edges)) || is.unsorted(edges, strictly = TRUE)) stop("EDGES: ascending numbers")
  raw$time <- bin_end(as.numeric(raw$time), edges)
}
raw$event <- as.numeric(raw$event)

num <- function(x) {
  ifelse(is.finite(x), sprintf("%.17g", x), "null")
}
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
obj <- function(fields) {
  paste0("{", paste(sprintf("\"%s\":%s", names(fields), unlist(fields)), collapse = ","), "}")
}
peer <- sprintf("\"R %s.%s, survival %s\"", R.version$major, R.version$minor,
                as.character(packageVersion("survival")))

cox <- function(ties, columns, factor_col, levels) {
  terms <- vapply(columns, function(c) {
    if (!is.na(factor_col) && c == factor_col) {
      sprintf("factor(`%s`, levels = c(%s))", c, levels)
    } else {
      sprintf("`%s`", c)
    }
  }, "")
  f <- as.formula(paste("Surv(time, event) ~", paste(terms, collapse = " + ")))
  control <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)
  fit <- withCallingHandlers(
    coxph(f, data = raw, ties = ties, control = control),
    warning = function(w) stop("coxph: ", conditionMessage(w))
  )
  obj(list(
    peer = peer,
    terms = paste0("[", paste(sprintf("\"%s\"", gsub("\"", "'", names(coef(fit)))),
                              collapse = ","), "]"),
    coef = arr(unname(coef(fit))),
    se = arr(unname(sqrt(diag(vcov(fit))))),
    loglik = num(fit$loglik[2]),
    iterations = num(fit$iter),
    n = num(fit$n),
    events = num(fit$nevent)
  ))
}

km <- function(group) {
  rows <- raw[!is.na(raw[[group]]), ]
  levels <- sort(unique(rows[[group]]))
  curves <- c()
  for (level in levels) {
    fit <- survfit(Surv(time, event) ~ 1, data = rows[rows[[group]] == level, ],
                   conf.type = "log-log")
    q <- quantile(fit, probs = 0.5)
    curves <- c(curves, obj(list(
      level = num(level),
      n = num(fit$n),
      time = arr(fit$time),
      n_risk = arr(fit$n.risk),
      n_event = arr(fit$n.event),
      n_censor = arr(fit$n.censor),
      surv = arr(fit$surv),
      lower = arr(fit$lower),
      upper = arr(fit$upper),
      median = num(unname(q$quantile)),
      median_lower = num(unname(q$lower)),
      median_upper = num(unname(q$upper))
    )))
  }
  test <- survdiff(Surv(time, event) ~ rows[[group]], data = rows)
  df <- length(test$n) - 1
  obj(list(
    peer = peer,
    curves = paste0("[", paste(curves, collapse = ","), "]"),
    logrank = obj(list(
      chi2 = num(test$chisq),
      df = num(df),
      p = num(pchisq(test$chisq, df, lower.tail = FALSE)),
      observed = arr(unname(test$obs)),
      expected = arr(unname(test$exp))
    ))
  ))
}

out <- if (mode == "cox" && length(args) %in% c(5, 7)) {
  columns <- strsplit(args[5], ",", fixed = TRUE)[[1]]
  factor_col <- if (length(args) == 7) args[6] else NA
  levels <- if (length(args) == 7) args[7] else NA
  if (!is.na(factor_col) && !(factor_col %in% columns)) stop("FACTOR must be one of COLUMNS")
  cox(args[4], columns, factor_col, levels)
} else if (mode == "km" && length(args) == 4) {
  km(args[4])
} else {
  stop(usage)
}
cat(out, "\n", sep = "")
