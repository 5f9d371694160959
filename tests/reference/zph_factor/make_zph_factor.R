# cox.zph with a factor covariate: R tests the factor jointly (k-1 df); an interaction term is one row too.
# Run from the repo root: Rscript tests/reference/zph_factor/make_zph_factor.R
library(survival)
out <- list()
for (tr in c("km", "rank", "identity")) {
  f <- coxph(Surv(time, status) ~ celltype + karno, data = veteran)
  z <- cox.zph(f, transform = tr)$table
  out[[tr]] <- list(terms = rownames(z), chisq = unname(z[, "chisq"]), df = unname(z[, "df"]), p = unname(z[, "p"]))
}
# A factor x numeric interaction (colon deaths): rows factor(rx), age, factor(rx):age.
col2 <- subset(colon, etype == 2)
col2$rx <- as.character(col2$rx)
z <- cox.zph(coxph(Surv(time, status) ~ factor(rx) * age, data = col2))$table
out[["interaction_km"]] <- list(terms = rownames(z), chisq = unname(z[, "chisq"]), df = unname(z[, "df"]),
                                p = unname(z[, "p"]))
# Counting-process data (R's zph2): Stanford heart transplant, Surv(start, stop, event).
for (tr in c("km", "rank", "identity")) {
  z <- cox.zph(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart),
               transform = tr)$table
  out[[paste0("heart_", tr)]] <- list(terms = rownames(z), chisq = unname(z[, "chisq"]), df = unname(z[, "df"]),
                                      p = unname(z[, "p"]))
}
writeLines(paste0("{", paste(sprintf('"%s": {"terms": [%s], "chisq": [%s], "df": [%s], "p": [%s]}',
  names(out), sapply(out, function(o) paste0('"', o$terms, '"', collapse = ",")),
  sapply(out, function(o) paste(format(o$chisq, digits = 17), collapse = ",")),
  sapply(out, function(o) paste(o$df, collapse = ",")),
  sapply(out, function(o) paste(format(o$p, digits = 17), collapse = ","))), collapse = ","), "}"),
  "tests/reference/zph_factor/zph_factor.json")
