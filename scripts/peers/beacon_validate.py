#!/usr/bin/env python3
"""Validate Beacon v2 documents against the vendored beacon-v2 JSON schemas.

Usage: beacon_validate.py SCHEMA_DIR < cases.json

stdin: a JSON array of {"name": str, "schema": path relative to SCHEMA_DIR,
"document": object}. stdout: a JSON array of {"name", "valid", "errors"}.
Exit status 0 when every case could be checked (valid or not), 2 on bad input.

Draft 2020-12 (the schemas' "$schema"); "$ref"s across files are resolved
from SCHEMA_DIR through a `referencing.Registry` that loads file:// URIs, so
no network access happens. Used by crates/beacon/tests/schemas.rs.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1]).resolve()

    def retrieve(uri: str) -> Resource:
        if not uri.startswith("file://"):
            raise ValueError(f"refusing to fetch {uri}: only vendored schemas are used")
        path = pathlib.Path(uri[len("file://"):]).resolve()
        if root not in path.parents:
            raise ValueError(f"{path} is outside {root}")
        return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012)

    registry = Registry(retrieve=retrieve)
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        path = (root / case["schema"]).resolve()
        schema = json.loads(path.read_text())
        schema["$id"] = path.as_uri()
        validator = Draft202012Validator(schema, registry=registry)
        errors = sorted(
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in validator.iter_errors(case["document"])
        )
        results.append({"name": case["name"], "valid": not errors, "errors": errors})
    json.dump(results, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
