"""report layer: renderers only (figures, tables, HTML, results.json); no statistics here."""
