"""Stage 2: map the file's headers to the canonical columns of importer.columns.

Headers match ignoring case, spaces, underscores and punctuation, against the canonical names, their
aliases and the ``[columns]`` of a ``--mapping`` TOML file. Values are not interpreted here.
"""

from __future__ import annotations

import codecs
import difflib
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from importer.columns import BY_NAME, CANONICAL, REQUIRED, alias_index, normalize_header
from importer.errors import InputFileError, MappingFileError, MissingColumnsError
from importer.models import Coded, FormatOptions, MappedTable, MappingConfig, RawTable, objects

SECTIONS = ("columns", "defaults", "format")
FORMAT_KEYS = ("encoding", "delimiter", "decimal", "date")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_CANONICAL_KEYS = {normalize_header(name): name for name in CANONICAL}
_DEFAULT_CONFIG = MappingConfig()


# ----------------------------------------------------------------------------------------- mapping file


def load_mapping(path: Path) -> MappingConfig:
    """Read a --mapping TOML file ([columns], [defaults], [format]); MappingFileError on any problem."""
    path = Path(path)
    document = _read_toml(path)
    unknown = [key for key in document if key not in SECTIONS]
    if unknown:
        raise MappingFileError(
            f"{path.name}: unknown section {_quoted(unknown)}; a mapping file has only "
            f"{_quoted(SECTIONS)} sections."
        )
    columns = _parse_columns(path, _section(path, document, "columns"))
    defaults = _parse_defaults(path, _section(path, document, "defaults"))
    fmt = _parse_format(path, _section(path, document, "format"))
    return MappingConfig(columns=columns, defaults=defaults, format=fmt)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise MappingFileError(f"mapping file {path}: {what}; check the --mapping path.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise MappingFileError(f"mapping file {path.name}: cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise MappingFileError(
            f"mapping file {path.name}: is not UTF-8 text; save it as UTF-8 in a text editor."
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingFileError(
            f"mapping file {path.name}: is not valid TOML ({exc}); write entries like "
            '"Kunde" = "contact" under [columns], with the header in quotes.'
        ) from exc


def _section(path: Path, document: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = document.get(name, {})
    if not isinstance(section, dict):
        raise MappingFileError(
            f"mapping file {path.name}: '{name}' must be a [{name}] section of key = value lines."
        )
    return section


def _parse_columns(path: Path, section: Mapping[str, Any]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for header, target in section.items():
        if not isinstance(target, str):
            raise MappingFileError(
                f'mapping file {path.name}: [columns] "{header}" must name a column in quotes, '
                f'e.g. "{header}" = "invoice_number".'
            )
        columns[header] = canonical_name(target, f'mapping file {path.name}: [columns] "{header}"')
    return columns


def _parse_defaults(path: Path, section: Mapping[str, Any]) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for key, value in section.items():
        name = canonical_name(key, f"mapping file {path.name}: [defaults]")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise MappingFileError(
                f"mapping file {path.name}: [defaults] {key} must be a text or a number in quotes, "
                f'e.g. {key} = "EUR".'
            )
        defaults[name] = str(value)
    return defaults


def _parse_format(path: Path, section: Mapping[str, Any]) -> FormatOptions:
    where = f"mapping file {path.name}: [format]"
    unknown = [key for key in section if key not in FORMAT_KEYS]
    if unknown:
        raise MappingFileError(
            f"{where} has unknown key {_quoted(unknown)}; the keys are {_quoted(FORMAT_KEYS)}."
        )
    values: dict[str, str] = {}
    for key, value in section.items():
        if not isinstance(value, str) or not value:
            raise MappingFileError(f"{where} {key} must be a non-empty text in quotes.")
        values[key] = value
    return FormatOptions(
        encoding=_check_encoding(where, values.get("encoding")),
        delimiter=_check_delimiter(where, values.get("delimiter")),
        decimal=_check_decimal(where, values.get("decimal")),
        date=check_date_format(where, values.get("date")),
    )


def _check_encoding(where: str, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise MappingFileError(
            f'{where} encoding {encoding!r} is not a known encoding; use e.g. "utf-8" or "cp1252".'
        ) from exc
    return encoding


def _check_delimiter(where: str, delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    delimiter = _DELIMITER_NAMES.get(delimiter.lower(), delimiter)
    if len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum():
        raise MappingFileError(
            f'{where} delimiter {delimiter!r} must be one character such as ",", ";", "|" or "tab".'
        )
    return delimiter


def _check_decimal(where: str, decimal: str | None) -> str | None:
    if decimal is None or decimal in (".", ","):
        return decimal
    raise MappingFileError(f'{where} decimal {decimal!r} must be "." or ",".')


def check_date_format(where: str, date_format: str | None) -> str | None:
    """A strptime format that writes and reads back a whole date; MappingFileError otherwise."""
    if date_format is None:
        return None
    sample = datetime(2026, 12, 31)
    try:
        ok = "%" in date_format and datetime.strptime(sample.strftime(date_format), date_format) == sample
    except ValueError:
        ok = False
    if not ok:
        raise MappingFileError(
            f"{where} date {date_format!r} is not a full date format; use strptime codes such as "
            '"%d.%m.%Y" or "%m/%d/%Y".'
        )
    return date_format


def canonical_name(name: str, where: str) -> str:
    """The canonical column ``name`` means (case/spacing ignored); else MappingFileError naming valid ones."""
    canonical = _CANONICAL_KEYS.get(normalize_header(name))
    if canonical is not None:
        return canonical
    close = difflib.get_close_matches(name, CANONICAL, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise MappingFileError(
        f"{where}: '{name}' is not a column name{hint}; use one of: {', '.join(CANONICAL)}."
    )


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


# ---------------------------------------------------------------------------------------------- mapping


def map_columns(raw: RawTable, config: MappingConfig = _DEFAULT_CONFIG) -> MappedTable:
    """Rename the raw table's headers to canonical columns; refuse conflicts and missing required columns."""
    file_name = raw.source.name
    explicit = _explicit_mapping(raw, config)
    defaults = {canonical_name(key, "mapping [defaults]"): value for key, value in config.defaults.items()}
    headers, extras = _match_headers(file_name, [str(header) for header in raw.frame.columns], explicit)
    _refuse_missing(file_name, headers, extras, defaults)
    frame = _canonical_frame(raw, headers)
    coded = _canonical_coded(raw, headers)
    return MappedTable(raw=raw, frame=frame, headers=headers, extras=extras, defaults=defaults, coded=coded)


def _explicit_mapping(raw: RawTable, config: MappingConfig) -> dict[str, str]:
    """file header -> canonical column, from the mapping's [columns]; each header must be in the file."""
    file_headers = [str(header) for header in raw.frame.columns]
    by_key = {normalize_header(header): header for header in file_headers}
    explicit: dict[str, str] = {}
    for header, target in config.columns.items():
        canonical = canonical_name(target, f'mapping [columns] "{header}"')
        found = header if header in file_headers else by_key.get(normalize_header(header))
        if found is None:
            close = difflib.get_close_matches(header, file_headers, n=3, cutoff=0.5)
            hint = f"closest headers: {_quoted(close)}" if close else f"headers: {_quoted(file_headers)}"
            raise MappingFileError(
                f'mapping [columns] "{header}": {raw.source.name} has no such header ({hint}); '
                "correct the header in the mapping file."
            )
        explicit[found] = canonical
    return explicit


def _match_headers(
    file_name: str, file_headers: list[str], explicit: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    index = alias_index()
    headers: dict[str, str] = {}
    extras: list[str] = []
    for header in file_headers:
        canonical = explicit.get(header) or index.get(normalize_header(header))
        if canonical is None:
            extras.append(header)
            continue
        if canonical in headers:
            raise InputFileError(
                f"{file_name}: the headers '{headers[canonical]}' and '{header}' both mean column "
                f"'{canonical}'; rename or delete one of them (or map one elsewhere in a --mapping file)."
            )
        headers[canonical] = header
    return headers, extras


def _refuse_missing(
    file_name: str, headers: Mapping[str, str], extras: list[str], defaults: Mapping[str, str]
) -> None:
    missing = [name for name in REQUIRED if name not in headers and not defaults.get(name)]
    if not missing:
        return
    parts: list[str] = []
    example = (extras[0] if extras else "Header in your file", missing[0])
    for name in reversed(missing):
        close = closest_headers(name, extras)
        if close:
            example = (close[0], name)
        found = f"closest headers: {_quoted(close)}" if close else "no similar header"
        parts.insert(0, f"{name} ({found})")
    raise MissingColumnsError(
        f"{file_name}: required columns missing: {'; '.join(parts)}; rename those headers, or add a "
        f'[columns] entry such as "{example[0]}" = "{example[1]}" in a --mapping file.',
        missing=missing,
    )


def closest_headers(canonical: str, headers: Iterable[str], n: int = 3) -> list[str]:
    """The file headers most like a canonical column (its name or any alias), best first."""
    column = BY_NAME[canonical]
    names = [normalize_header(name) for name in (column.name, *column.aliases)]
    scored: list[tuple[float, str]] = []
    for header in headers:
        key = normalize_header(header)
        if not key:
            continue
        score = max(difflib.SequenceMatcher(None, key, name).ratio() for name in names)
        if score >= 0.6:
            scored.append((score, header))
    scored.sort(key=lambda item: -item[0])
    return [header for _, header in scored[:n]]


def _canonical_coded(raw: RawTable, headers: Mapping[str, str]) -> dict[str, Coded]:
    """The loader's coded columns under their canonical names (absent columns all blank); none when the
    loader coded none."""
    if not raw.coded:
        return {}
    blank = Coded(np.full(len(raw.frame), -1, dtype=np.int64), objects([None]))
    return {name: raw.coded[headers[name]] if name in headers else blank for name in CANONICAL}


def _canonical_frame(raw: RawTable, headers: Mapping[str, str]) -> pd.DataFrame:
    length = len(raw.frame)
    data: dict[str, Any] = {}
    for name in CANONICAL:
        header = headers.get(name)
        data[name] = (
            raw.frame[header].to_numpy(dtype=object)
            if header is not None
            else np.full(length, None, dtype=object)
        )
    frame = pd.DataFrame(data, index=range(length), columns=list(CANONICAL), dtype=object, copy=False)
    frame["row"] = np.asarray(raw.row_numbers, dtype=np.int64)
    return frame
