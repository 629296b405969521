"""Reading the files a user hands melt: text, YAML, JSON, JSON Lines, and their shape.

Every failure is a `MeltError` of one line that names the file, the place (line and column,
line number, key path or item index) and the fix, so no user file ends in a traceback. Each
reader takes `what` (how the message names the file: "experiment file", "workload file")
and `fix` (what to do when it is missing: "pass --config FILE.yaml").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from melt.errors import MeltError

if TYPE_CHECKING:  # imported where used: the runner on a device has neither
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")

# How the archives people pack logs and conversations into begin (a tar has "ustar" at 257).
ARCHIVE_MAGIC = {
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!\x1a\x07": "rar",
}
TAR_MAGIC = (257, b"ustar")
ARCHIVE_HEAD_BYTES = 512


def refuse_archive(path: Path, head: bytes, what: str) -> None:
    """A one-line error if `head` (a file's first bytes) is an archive's: melt reads the
    files inside one, not the archive."""
    offset, tar = TAR_MAGIC
    kind = next((k for magic, k in ARCHIVE_MAGIC.items() if head.startswith(magic)), None)
    if kind is None and head[offset : offset + len(tar)] == tar:
        kind = "tar"
    if kind is not None:
        raise MeltError(
            f"{what} '{path}' is a {kind} archive, and archives are not supported; extract it "
            "and pass what it holds"
        )


def read_text_file(path: Path, what: str, fix: str) -> str:
    """The file's text, decoded as UTF-8 (strict: a stray byte is the user's to fix)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MeltError(f"{what} '{path}' not found ({fix})") from None
    except IsADirectoryError:
        raise MeltError(f"{what} '{path}' is a directory, not a file ({fix})") from None
    except OSError as exc:
        raise MeltError(
            f"{what} '{path}' is not readable ({exc.strerror or exc}); check its permissions"
        ) from None
    refuse_archive(path, data[:ARCHIVE_HEAD_BYTES], what)
    return decode_utf8(data, path, what)


def decode_utf8(data: bytes, path: Path, what: str) -> str:
    """`data` read from `path` as strict UTF-8, or a line naming the first stray byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise MeltError(
            f"{what} '{path}' line {line} column {column}: byte 0x{data[exc.start]:02x} is "
            "not UTF-8 text; save the file as UTF-8"
        ) from None


def load_yaml(path: Path, what: str, fix: str) -> Any:
    """The parsed YAML document (None for an empty file)."""
    import yaml

    text = read_text_file(path, what, fix)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MeltError(f"{what} '{path}'{place}: {problem}; fix the YAML syntax") from None


def json_error(exc: json.JSONDecodeError, path: Path, what: str, line: int | None = None) -> str:
    """One line for a JSON syntax error; `line` is the file line of a JSON Lines record."""
    place = f"line {line if line is not None else exc.lineno} column {exc.colno}"
    return f"{what} '{path}' {place}: invalid JSON ({exc.msg}); fix the JSON syntax"


def load_json(path: Path, what: str, fix: str) -> Any:
    text = read_text_file(path, what, fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeltError(json_error(exc, path, what)) from None


def parse_jsonl(text: str, path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, record) for every non-blank line of JSON Lines text."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise MeltError(json_error(exc, path, what, line=number)) from None


def iter_jsonl(path: Path, what: str, fix: str) -> Iterator[tuple[int, Any]]:
    return parse_jsonl(read_text_file(path, what, fix), path, what)


def require_mapping(
    data: Any, where: str, key: str = "top level", expected: str = "a mapping of keys"
) -> Mapping[str, Any]:
    """`data` when it is a mapping (None counts as empty), else a line naming `key` (the key
    path that holds it) and what it is."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise MeltError(f"{where}: {key} must be {expected}, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def key_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a YAML key path: ``sampling.top_p``, ``models[1]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The (sub)model whose keys are allowed at `loc`, for listing them in an error."""
    from pydantic import BaseModel

    for part in loc:
        info = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = info.annotation if info is not None else None
        for candidate in (annotation, *get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
    return model


def describe_validation(
    exc: ValidationError,
    where: str,
    model: type[BaseModel],
    names: Mapping[str, str] | None = None,
) -> str:
    """One line for the first invalid field: its key path (or the CLI flag `names` gives for
    its top-level key), what is wrong, what was given and, for an unknown key, the known ones."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    path = key_path(loc)
    if error["type"] == "extra_forbidden":
        known = ", ".join(_model_at(model, loc[:-1]).model_fields)
        return f"{where}: unknown key '{path}' (known keys: {known})"
    name = (names or {}).get(str(loc[0]), path) if loc else path
    return f"{where}: {name}: {error['msg'].lower()} (got {error.get('input')!r})"


def validate(model: type[M], data: Any, where: str) -> M:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MeltError(describe_validation(exc, where, model)) from None
