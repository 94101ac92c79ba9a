"""A local ONLYOFFICE-compatible CRM (``invoice-import sandbox``) for rehearsals and tests."""

from importer.rates import parse_rate
from importer.sandbox.faults import SandboxStats
from importer.sandbox.server import SandboxConfig, SandboxServer, run_sandbox

__all__ = ["SandboxConfig", "SandboxServer", "SandboxStats", "parse_rate", "run_sandbox"]
