# Harrell's C of each prognostic score against OS, as R's survival::concordance computes it
# (reverse = TRUE: a higher score predicts shorter survival), overall and per site.
# Input: scores_os.csv (written from the synthetic registry, seed 7, by tests/board/test_scores.py's
# generator; committed). Output: concordance_scores.json. Run from this folder:
#   Rscript concordance_scores.R
library(survival)
library(jsonlite)
d <- read.csv("scores_os.csv", stringsAsFactors = FALSE)
out <- list(survival_version = as.character(packageVersion("survival")), scores = list())
for (s in c("fong", "game", "tbs", "sarcoma", "irlm_rank")) {
  x <- d[!is.na(d[[s]]), ]
  f <- concordance(Surv(os_time, os_event) ~ x[[s]], data = x, reverse = TRUE)
  per_site <- list()
  for (site in sort(unique(x$site))) {
    y <- x[x$site == site, ]
    g <- concordance(Surv(os_time, os_event) ~ y[[s]], data = y, reverse = TRUE)
    per_site[[site]] <- list(c = unname(g$concordance), std_err = sqrt(unname(g$var)))
  }
  out$scores[[s]] <- list(n = nrow(x), c = unname(f$concordance), std_err = sqrt(unname(f$var)),
                          count = as.list(f$count[1:5]), per_site = per_site)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "concordance_scores.json")
