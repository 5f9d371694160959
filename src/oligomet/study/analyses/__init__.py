"""One module per analysis family; each ``run(ctx)`` adds numbers, tables and figures to ``ctx.results``."""
