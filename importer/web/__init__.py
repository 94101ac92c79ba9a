"""``invoice-import serve``: the importer as a web application for finance teams.

Server-rendered pages (Starlette, Jinja2) over the same pipeline as the command line: nothing here
re-implements a rule. :func:`importer.pipeline.validate_source` and :func:`importer.pipeline.run_command`
do the work on a background thread (see :mod:`importer.web.jobs`); the pages only show their reports.
"""

from importer.web.config import WebConfig

__all__ = ["WebConfig"]
