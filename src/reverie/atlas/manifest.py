"""The atlas's records on disk, as Parquet: a journal of every rendered image, appended one file per
finished batch, and the manifest, one row per unit, written when a build completes.

``records.parts/`` gets one small Parquet file per finished batch (written after the batch's images,
atomically), so a build killed at any moment loses at most the batches in flight. A finished build
compacts the parts into ``records.parquet`` and writes ``manifest.parquet`` from the plan, the records
and the dataset examples. pyarrow is an optional extra (``reverie[atlas]``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reverie.errors import ReverieError
from reverie.io.atomic import atomic_path

RECORDS = "records.parquet"
PARTS = "records.parts"
MANIFEST = "manifest.parquet"
ATLAS_HINT = "install it with: pip install 'reverie[atlas]'"

# One rendered image (a unit's visualization, negative or diversity batch).
RECORD_FIELDS = {"key": "string", "layer": "string", "unit": "int64", "variant": "string", "file": "string",
                 "recipe_hash": "string", "activation": "float64", "baseline": "float64", "gain": "float64",
                 "std": "float64", "dead": "bool", "grey": "bool"}


def pyarrow():
    """``(pyarrow, pyarrow.parquet)``, or a one-line ReverieError saying how to install them."""
    try:
        import pyarrow as pa  # an optional extra, imported when an atlas is built or read
        import pyarrow.parquet as pq
    except ImportError:
        raise ReverieError(f"a model atlas writes its manifest with pyarrow; {ATLAS_HINT}") from None
    return pa, pq


def _record_schema():
    pa, _ = pyarrow()
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(name, types[kind]) for name, kind in RECORD_FIELDS.items()])


def write_parquet(path: Path, table) -> None:
    """``table`` to ``path``, atomically (a reader never sees half a file)."""
    _, pq = pyarrow()
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def append_records(folder: Path, name: str, records: list[dict[str, Any]]) -> None:
    """One finished batch's records, as their own part file ``name`` (a batch's first key: unique)."""
    pa, _ = pyarrow()
    parts = folder / PARTS
    parts.mkdir(exist_ok=True)
    write_parquet(parts / f"{name}.parquet", pa.Table.from_pylist(records, schema=_record_schema()))


def read_records(folder: Path) -> dict[str, dict[str, Any]]:
    """Every record the journal holds (compacted and in parts), by key; unreadable parts (a disk that
    filled up) are skipped: their batches are simply rendered again."""
    _, pq = pyarrow()
    found: dict[str, dict[str, Any]] = {}
    paths = [folder / RECORDS] + sorted((folder / PARTS).glob("*.parquet"))
    for path in paths:
        for row in _rows(pq, path):
            found[row["key"]] = row
    return found


def _rows(pq, path: Path) -> list[dict[str, Any]]:
    """A journal file's rows; none for a missing or damaged one."""
    if not path.exists():
        return []
    try:
        return pq.read_table(path).to_pylist()
    except Exception:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        return []


def compact_records(folder: Path, keep: Iterable[str] | None = None) -> None:
    """Merge the parts into ``records.parquet`` (sorted by key, so the file is the same however the build
    was interrupted) and remove them. ``keep``: only these keys (None: all)."""
    pa, _ = pyarrow()
    records = read_records(folder)
    if keep is not None:
        wanted = set(keep)
        records = {key: row for key, row in records.items() if key in wanted}
    rows = [records[key] for key in sorted(records)]
    write_parquet(folder / RECORDS, pa.Table.from_pylist(rows, schema=_record_schema()))
    parts = folder / PARTS
    if parts.exists():
        for path in parts.glob("*.parquet"):
            path.unlink(missing_ok=True)
        for path in parts.glob(".*"):  # temporary files of a write that was killed
            path.unlink(missing_ok=True)
        try:
            parts.rmdir()
        except OSError:
            pass


def manifest_schema():
    pa, _ = pyarrow()
    example = pa.struct([("source", pa.string()), ("crop", pa.string()), ("score", pa.float64()),
                         ("box", pa.list_(pa.int32()))])
    return pa.schema([
        ("model", pa.string()), ("model_hash", pa.string()), ("layer", pa.string()), ("unit", pa.int64()),
        ("key", pa.string()), ("recipe_hash", pa.string()), ("image", pa.string()),
        ("activation", pa.float64()), ("baseline", pa.float64()), ("gain", pa.float64()),
        ("image_std", pa.float64()), ("dead", pa.bool_()), ("grey", pa.bool_()),
        ("negative_image", pa.string()), ("negative_activation", pa.float64()), ("negative_gain", pa.float64()),
        ("diversity_image", pa.string()), ("examples", pa.list_(example)),
    ])


def write_manifest(folder: Path, rows: list[dict[str, Any]]) -> Path:
    pa, _ = pyarrow()
    path = folder / MANIFEST
    write_parquet(path, pa.Table.from_pylist(rows, schema=manifest_schema()))
    return path


def read_manifest(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The manifest's rows, in atlas order (layer by layer, unit by unit)."""
    _, pq = pyarrow()
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise ReverieError(f"{folder} holds no finished atlas ({MANIFEST} is missing); build it with "
                           f"reverie atlas build -o {folder}")
    try:
        return pq.read_table(path).to_pylist()
    except Exception as error:  # noqa: BLE001
        raise ReverieError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
