"""Jinja2 templates of the HTML report (a package so that setuptools ships the *.j2 files)."""
