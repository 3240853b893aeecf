#!/usr/bin/env python3
"""Check Prefab's exported files with pyarrow, an independent reader.

Prefab writes JSONL and Parquet with its own Rust code; this script reads them
the way `datasets` and the Hub do (pyarrow) and checks that each file has the
expected columns, column types, row count and values.

Usage:

    check_files.py MANIFEST.json
        Check every file listed in a manifest, as written by
        `cargo run -p prefab-core --example write_fixtures -- DIR`.

    check_files.py FILE [--column NAME=TYPE ...] [--rows N]
        Check one .parquet or .jsonl file.

Types are written as Prefab's `DataType` displays them, arrow-style:
`string`, `bool`, `int64`, `double`, `list<string>`,
`list<struct<role:string,content:string>>`.

A manifest is JSON:

    {"files": [{"path": "dpo.parquet", "format": "parquet", "num_rows": 3,
                "columns": [{"name": "prompt", "type": "string"}, ...],
                "values": [{"row": 0, "column": "prompt", "value": "..."}]}],
     "card": {"path": "README.md", "contains": ["- config_name: dpo\\n"]}}

Paths are relative to the manifest. Exits 0 when everything matches, 1 with
one line per mismatch otherwise, 2 on bad usage.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq


def type_name(t: pa.DataType) -> str:
    """A pyarrow type in Prefab's notation; string/large_string etc. are one."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_int64(t):
        return "int64"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{t.field(i).name}:{type_name(t.field(i).type)}" for i in range(t.num_fields))
        return f"struct<{fields}>"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def read(path: Path, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path)
    if fmt == "jsonl":
        return pa_json.read_json(path)
    raise ValueError(f"unknown format {fmt!r} (expected parquet or jsonl)")


def same(expected, actual) -> bool:
    """Equality that tolerates float rounding and int/float for whole numbers."""
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None:
            return expected is actual
        return math.isclose(float(expected), float(actual), rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same(expected[k], actual[k]) for k in expected)
    return expected == actual


def check_file(path: Path, fmt: str, columns, num_rows, values) -> list:
    """Every mismatch in one file, as messages naming the file."""
    try:
        table = read(path, fmt)
    except Exception as error:  # pyarrow raises several types; all mean "unreadable".
        return [f"{path}: pyarrow cannot read it as {fmt}: {error}"]
    problems = []
    actual = [(f.name, type_name(f.type)) for f in table.schema]
    expected = [(c["name"], c["type"]) for c in columns]
    if columns and actual != expected:
        problems.append(f"{path}: expected columns {expected}, found {actual}")
    if num_rows is not None and table.num_rows != num_rows:
        problems.append(f"{path}: expected {num_rows} rows, found {table.num_rows}")
    for check in values:
        row, column, value = check["row"], check["column"], check["value"]
        if column not in table.column_names or row >= table.num_rows:
            problems.append(f"{path}: row {row}, column {column!r}: not in the file")
            continue
        found = table.column(column)[row].as_py()
        if not same(value, found):
            problems.append(f"{path}: row {row}, column {column!r}: expected {value!r}, found {found!r}")
    return problems


def check_manifest(manifest_path: Path) -> list:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    base = manifest_path.parent
    problems = []
    files = manifest.get("files", [])
    if not files:
        problems.append(f"{manifest_path}: expected a non-empty \"files\" list")
    for entry in files:
        problems += check_file(
            base / entry["path"],
            entry["format"],
            entry.get("columns", []),
            entry.get("num_rows"),
            entry.get("values", []),
        )
    card = manifest.get("card")
    if card:
        path = base / card["path"]
        text = path.read_text(encoding="utf-8") if path.exists() else None
        if text is None:
            problems.append(f"{path}: the dataset card is missing")
        else:
            if not text.startswith("---\n") or "\n---\n" not in text[4:]:
                problems.append(f"{path}: expected YAML front matter between two '---' lines")
            for part in card.get("contains", []):
                if part not in text:
                    problems.append(f"{path}: expected it to contain {part!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a manifest .json, or one .parquet / .jsonl file")
    parser.add_argument("--column", action="append", default=[], metavar="NAME=TYPE",
                        help="an expected column, in order (repeat)")
    parser.add_argument("--rows", type=int, help="the expected number of rows")
    args = parser.parse_args()

    path = Path(args.path)
    if not path.exists():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    if path.suffix == ".json":
        problems = check_manifest(path)
        checked = "manifest"
    else:
        columns = []
        for spec in args.column:
            name, sep, kind = spec.partition("=")
            if not sep:
                print(f"--column {spec!r}: expected NAME=TYPE", file=sys.stderr)
                return 2
            columns.append({"name": name, "type": kind})
        fmt = "jsonl" if path.suffix in (".jsonl", ".ndjson") else "parquet"
        problems = check_file(path, fmt, columns, args.rows, [])
        checked = "file"

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"pyarrow check: {len(problems)} mismatch(es)", file=sys.stderr)
        return 1
    print(f"pyarrow check: {checked} {path} matches (pyarrow {pa.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
