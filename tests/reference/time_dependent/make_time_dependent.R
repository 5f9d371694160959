# R reference for oligomet.time_dependent: survival::tmerge with tdc() switches, and coxph on its output.
# Run from this folder:  Rscript make_time_dependent.R   (R 4.2, survival 3.5-3)
suppressPackageStartupMessages({library(survival); library(jsonlite)})
set.seed(21)
d <- survival::veteran
d$id <- seq_len(nrow(d))
n <- nrow(d)
# a treatment switch during follow-up for some, after the end for some, at time 0 for a few, never for others
d$sw <- round(runif(n, 0, 1.4) * d$time)
d$sw[sample(n, 25)] <- NA
d$sw[sample(which(!is.na(d$sw)), 5)] <- 0
d$sw2 <- ifelse(runif(n) < 0.5, round(runif(n, 0, 1) * d$time), NA)
write.csv(d[, c("id", "time", "status", "karno", "age", "sw", "sw2")], "input.csv", row.names = FALSE, na = "")
base <- d[, c("id", "karno", "age")]
tm <- tmerge(base, d, id = id, death = event(time, status))
tm <- tmerge(tm, d, id = id, treated = tdc(sw), second = tdc(sw2))
tm <- tm[order(tm$id, tm$tstart), c("id", "tstart", "tstop", "death", "treated", "second", "karno", "age")]
write.csv(tm, "tmerge.csv", row.names = FALSE)
fit <- coxph(Surv(tstart, tstop, death) ~ treated + second + karno + age, data = tm, cluster = id)
out <- list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$naive.var))), robust_se = unname(sqrt(diag(fit$var))),
            loglik = fit$loglik, n = fit$n, nevent = fit$nevent)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), "coxph_tmerge.json")
