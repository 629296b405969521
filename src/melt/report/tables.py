"""A report's tables (`ReportContent.tables`) as Markdown, JSON, CSV or Parquet: the same
content as the HTML, for programs and documents. Sinks register by format name."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from melt.errors import MeltError

Tables = dict[str, list[dict[str, Any]]]


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def to_markdown(tables: Tables) -> str:
    out = []
    for name, rows in tables.items():
        out.append(f"## {name}\n")
        if not rows:
            out.append("(none)\n")
            continue
        cols = _columns(rows)
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for row in rows:
            cells = (_cell(row.get(c)).replace("|", "\\|") for c in cols)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def to_json(tables: Tables) -> str:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    doc = {
        name: [{k: clean(v) for k, v in r.items()} for r in rows] for name, rows in tables.items()
    }
    return json.dumps(doc, indent=2, default=str)


def _csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _table_path(output: Path, name: str, suffix: str) -> Path:
    return output.with_name(f"{output.stem}-{name}{suffix}")


def write_csv(tables: Tables, output: Path) -> list[Path]:
    paths = []
    for name, rows in tables.items():
        path = _table_path(output, name, ".csv")
        path.write_text(_csv_text(rows) if rows else "", encoding="utf-8")
        paths.append(path)
    return paths


def write_parquet(tables: Tables, output: Path) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for name, rows in tables.items():
        path = _table_path(output, name, ".parquet")
        cols = _columns(rows)
        table = (
            pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows])
            if rows
            else pa.table({})
        )
        pq.write_table(table, path)
        paths.append(path)
    return paths


TEXT_FORMATS: dict[str, Callable[[Tables], str]] = {"md": to_markdown, "json": to_json}
FILE_FORMATS: dict[str, Callable[[Tables, Path], list[Path]]] = {
    "csv": write_csv,
    "parquet": write_parquet,
}
FORMATS = (*TEXT_FORMATS, *FILE_FORMATS)


def check_format(fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise MeltError(f"--format must be one of {', '.join(FORMATS)} (got '{fmt}')")
    if fmt in FILE_FORMATS and output is None:
        raise MeltError(
            f"--format {fmt} writes one file per table: pass --output PATH "
            f"(e.g. report.{fmt} gives report-summary.{fmt}, report-turns.{fmt}, …)"
        )
