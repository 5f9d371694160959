"""One module per analysis family; each ``compute_*(ctx)`` returns tidy frames and numbers (a
:class:`~._context.Computed`), which a builder of :mod:`oligomet.report.sections` turns into the report.
The catalogue (:mod:`oligomet.study.catalogue`) pairs them."""
