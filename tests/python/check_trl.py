#!/usr/bin/env python3
"""Check exported KTO and DPO files the way TRL's trainers will see them: loaded
with the `datasets` library.

Usage:

    check_trl.py FILE...

Each file is a .jsonl or .parquet export. Its kind comes from its columns: KTO
has `prompt`, `completion` and `label`; DPO has `prompt`, `chosen` and
`rejected`. Its style is standard when those are strings and conversational
when they are lists of {role, content} messages. For each file the script
checks what TRL needs:

- `datasets.load_dataset` reads it, with at least one row;
- KTO's `label` is a bool feature;
- standard: every prompt and completion is a non-empty string;
- conversational: every message has a role and content, the prompt ends with a
  user turn (after an optional system turn) and each completion is one
  assistant turn;
- DPO's chosen and rejected differ on every row.

It prints one JSON line per file ({"file", "kind", "style", "rows",
"features"}) and exits 0, or prints each problem and exits 1.
"""

import json
import sys
from pathlib import Path

from datasets import load_dataset


def is_text(value):
    return isinstance(value, str) and value.strip() != ""


def messages_problem(value, roles):
    """Why `value` is not a list of messages with these roles, or None."""
    if not isinstance(value, list) or not value:
        return f"expected a list of messages, found {value!r}"
    for message in value:
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f"expected {{role, content}} messages, found {message!r}"
    found = [m["role"] for m in value]
    if found not in roles:
        return f"expected the roles {' or '.join(map(str, roles))}, found {found}"
    return None


def check(path: Path):
    builder = "parquet" if path.suffix == ".parquet" else "json"
    dataset = load_dataset(builder, data_files=str(path), split="train")
    columns = set(dataset.column_names)
    if {"prompt", "completion", "label"} <= columns:
        kind, answers = "kto", ["completion"]
    elif {"prompt", "chosen", "rejected"} <= columns:
        kind, answers = "dpo", ["chosen", "rejected"]
    else:
        return None, [f"{path}: neither KTO nor DPO columns: {sorted(columns)}"]
    problems = []
    if dataset.num_rows == 0:
        problems.append(f"{path}: no rows")
    if kind == "kto" and str(dataset.features["label"]) != "Value('bool')":
        problems.append(f"{path}: label is {dataset.features['label']}, TRL's KTO wants bool")
    conversational = dataset.num_rows > 0 and isinstance(dataset[0]["prompt"], list)
    for index, row in enumerate(dataset):
        where = f"{path}: row {index}"
        if conversational:
            problem = messages_problem(row["prompt"], [["user"], ["system", "user"]])
            if problem:
                problems.append(f"{where}, prompt: {problem}")
            for column in answers:
                problem = messages_problem(row[column], [["assistant"]])
                if problem:
                    problems.append(f"{where}, {column}: {problem}")
        else:
            for column in ["prompt", *answers]:
                if not is_text(row[column]):
                    problems.append(f"{where}, {column}: expected non-empty text, found {row[column]!r}")
        if kind == "dpo" and row["chosen"] == row["rejected"]:
            problems.append(f"{where}: chosen and rejected are the same")
    summary = {
        "file": str(path),
        "kind": kind,
        "style": "conversational" if conversational else "standard",
        "rows": dataset.num_rows,
        "features": {name: str(feature) for name, feature in dataset.features.items()},
    }
    return summary, problems


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for name in sys.argv[1:]:
        summary, found = check(Path(name))
        problems += found
        if summary:
            print(json.dumps(summary))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
