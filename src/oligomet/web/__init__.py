"""The tumor board in the browser (``oligomet board serve``): logins, per-site access, a hash-chained
audit trail, and pages that render the board layer's results (they compute nothing themselves)."""
