"""A local ONLYOFFICE-compatible CRM (``invoice-import sandbox``) for rehearsals and tests."""

from importer.sandbox.faults import SandboxStats
from importer.sandbox.server import SandboxConfig, SandboxServer, parse_rate, run_sandbox

__all__ = ["SandboxConfig", "SandboxServer", "SandboxStats", "parse_rate", "run_sandbox"]
