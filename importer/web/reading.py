"""The Upload and Columns steps: read an uploaded file through the pipeline's own loader and mapper, and
write the user's choices as a mapping file (the same TOML as ``--mapping``).

Nothing here decides a rule: the loader (with its hostile-file protections), the header matching and the
mapping file's checks are the pipeline's (importer.load, importer.mapping).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from importer.columns import BY_NAME, CANONICAL, REQUIRED
from importer.load import WORKBOOK_EXTENSIONS, load_table, visible_sheets
from importer.mapping import load_mapping, map_columns
from importer.models import FormatOptions, MappingConfig, RawTable
from importer.pipeline import Source, read_mapping, with_options


def make_source(file: Path, sheet: str | None, mapping: Path | None, header_row: int | None) -> Source:
    """The pipeline's Source of an upload."""
    return Source(file, sheet, mapping, FormatOptions(header_row=header_row or None))


def read_raw(source: Source) -> RawTable:
    """The file as the loader reads it (every hostile-file check applied); UsageError when unusable."""
    config = read_mapping(source.mapping)
    return load_table(source.file, sheet=source.sheet, fmt=with_options(config.format, source.fmt))


def sheet_names(file: Path) -> list[str]:
    """The visible sheets of a workbook (call after :func:`read_raw` accepted the file); [] for a CSV."""
    return visible_sheets(file) if file.suffix.lower() in WORKBOOK_EXTENSIONS else []


@dataclass(frozen=True)
class Matching:
    """What the mapper matched: canonical column -> the file's header, the headers left over, and the
    required columns neither matched nor given a default."""

    headers: dict[str, str]
    extras: list[str]
    missing: list[str]
    file_headers: list[str]


def match_columns(raw: RawTable, config: MappingConfig) -> Matching:
    """The pipeline's own header matching (importer.mapping.map_columns). Required columns that are
    missing do not stop it here: the Columns page asks for them."""
    probe = replace(config, defaults={**dict.fromkeys(REQUIRED, "?"), **config.defaults})
    table = map_columns(raw, probe)
    missing = [name for name in REQUIRED if name not in table.headers and not config.defaults.get(name)]
    return Matching(
        headers=dict(table.headers),
        extras=list(table.extras),
        missing=missing,
        file_headers=[str(header) for header in raw.frame.columns],
    )


def column_docs() -> list[dict[str, Any]]:
    """Each canonical column for the Columns page: name, required, what it is, its built-in default."""
    return [
        {
            "name": name,
            "required": BY_NAME[name].required,
            "doc": BY_NAME[name].doc,
            "default": BY_NAME[name].default,
            "invoice_level": BY_NAME[name].invoice_level,
        }
        for name in CANONICAL
    ]


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def mapping_toml(columns: Mapping[str, str], defaults: Mapping[str, str], fmt: FormatOptions) -> str:
    """The mapping file of the user's choices: [columns] header = canonical, [defaults], [format]."""
    lines = ["# invoice-import column mapping (use with: invoice-import run FILE --mapping THIS.toml)", ""]
    lines.append("[columns]")
    lines += [f"{_toml_string(header)} = {_toml_string(name)}" for header, name in columns.items()]
    lines += ["", "[defaults]"]
    lines += [f"{name} = {_toml_string(value)}" for name, value in defaults.items() if value]
    lines += ["", "[format]"]
    for key in ("encoding", "delimiter", "decimal", "date"):
        value = getattr(fmt, key)
        if value:
            lines.append(f"{key} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"


def write_mapping(path: Path, text: str) -> MappingConfig:
    """Write the mapping file and read it back through the pipeline's checks (MappingFileError if bad)."""
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


__all__ = [
    "Matching",
    "column_docs",
    "make_source",
    "mapping_toml",
    "match_columns",
    "read_raw",
    "sheet_names",
    "write_mapping",
]
