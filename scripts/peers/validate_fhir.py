#!/usr/bin/env python3
"""Validate FHIR R4 JSON / NDJSON files with the fhir.resources R4B models.

Usage: validate_fhir.py [--max-errors N] PATH [PATH ...]

PATH is a file (*.json: one Bundle or resource; *.ndjson: one per line) or a
directory, searched recursively for *.json and *.ndjson. In a directory walk, a
.json file whose top-level value is not a FHIR resource (no "resourceType", e.g.
OncoFed's manifest.json) is skipped and listed under "skipped"; given explicitly,
it is an error.

Every Bundle entry resource is constructed with its R4B model (pydantic validation:
cardinalities, types, primitive formats, unknown fields), then the Bundle itself
with the already-built entries. On top of that, a few checks fhir.resources does not
make: required-binding codes (Bundle.type, request.method, Patient.gender, statuses,
Consent provision types), transaction entries carry a request whose PUT url is
"<Type>/<id>", fullUrls are unique, and every "urn:uuid:" reference resolves to a
fullUrl of the same Bundle.

Prints one JSON object on stdout:
  {"resources": n, "bundles": n, "files": n, "errors": [...first N...],
   "error_count": n, "skipped": [...], "seconds": t, "resources_per_second": r}
and exits 1 if there is any error (2 on bad usage or missing fhir.resources).
"""

import argparse
import json
import os
import sys
import time

try:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle
except ImportError as exc:  # pragma: no cover - environment problem
    print(json.dumps({"error": f"fhir.resources (R4B) not importable: {exc}; "
                      "pip install -r scripts/peers/requirements.txt"}))
    sys.exit(2)

# Required bindings that the pydantic models accept as any code.
CODES = {
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response",
                         "batch", "batch-response", "history", "searchset", "collection"},
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected",
                                "cancelled", "entered-in-error", "unknown"},
    ("Procedure", "status"): {"preparation", "in-progress", "not-done", "on-hold", "stopped",
                              "completed", "entered-in-error", "unknown"},
    ("MedicationStatement", "status"): {"active", "completed", "entered-in-error", "intended",
                                        "stopped", "on-hold", "unknown", "not-taken"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive",
                            "entered-in-error"},
}
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
PROVISION_TYPES = {"deny", "permit"}


class Report:
    def __init__(self, max_errors):
        self.max_errors = max_errors
        self.errors = []
        self.error_count = 0
        self.resources = 0
        self.bundles = 0
        self.files = 0
        self.skipped = []

    def error(self, where, message):
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(f"{where}: {message}")


def pydantic_message(exc):
    """A compact one-line message from a pydantic ValidationError (or anything else)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = []
            for e in errors()[:5]:
                loc = ".".join(str(x) for x in e.get("loc", ()))
                parts.append(f"{loc}: {e.get('msg')}")
            return "; ".join(parts)
        except Exception:  # noqa: BLE001 - fall back to str()
            pass
    return " ".join(str(exc).split())[:500]


def references(value, out):
    """Collect every Reference.reference string in a JSON tree."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                references(v, out)
    elif isinstance(value, list):
        for v in value:
            references(v, out)


def check_codes(where, resource, report):
    rtype = resource.get("resourceType")
    for (t, field), allowed in CODES.items():
        if t == rtype and field in resource and resource[field] not in allowed:
            report.error(where, f"{rtype}.{field} '{resource[field]}' is not in its required value set")
    if rtype == "Consent":
        stack = [resource.get("provision")]
        while stack:
            p = stack.pop()
            if isinstance(p, dict):
                if "type" in p and p["type"] not in PROVISION_TYPES:
                    report.error(where, f"Consent provision.type '{p['type']}' is not deny/permit")
                stack.extend(p.get("provision") or [])


def validate_resource(where, resource, report):
    """Construct one resource with its R4B model; returns the model or None."""
    if not isinstance(resource, dict):
        report.error(where, "resource is not a JSON object")
        return None
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        report.error(where, "resource has no resourceType")
        return None
    try:
        cls = get_fhir_model_class(rtype)
    except Exception:  # noqa: BLE001
        report.error(where, f"'{rtype}' is not an R4B resource type")
        return None
    if rtype != "Bundle":
        report.resources += 1
    check_codes(where, resource, report)
    try:
        return cls.model_validate(resource)
    except Exception as exc:  # noqa: BLE001 - report any validation failure
        report.error(where, f"{rtype}/{resource.get('id', '?')}: {pydantic_message(exc)}")
        return None


def validate_bundle(where, bundle, report):
    report.bundles += 1
    check_codes(where, bundle, report)
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        report.error(where, "Bundle.entry is not an array")
        return
    transactional = bundle.get("type") in ("transaction", "batch")
    full_urls = set()
    built = []
    all_refs = []
    for i, entry in enumerate(entries):
        ew = f"{where} entry[{i}]"
        if not isinstance(entry, dict):
            report.error(ew, "entry is not a JSON object")
            continue
        full_url = entry.get("fullUrl")
        if full_url is not None:
            if full_url in full_urls:
                report.error(ew, f"duplicate fullUrl {full_url}")
            full_urls.add(full_url)
        resource = entry.get("resource")
        if resource is not None:
            refs = []
            references(resource, refs)
            all_refs.extend((ew, r) for r in refs)
        request = entry.get("request")
        if transactional:
            if not isinstance(request, dict):
                report.error(ew, "transaction/batch entry without request")
            else:
                method = request.get("method")
                if method not in METHODS:
                    report.error(ew, f"request.method '{method}' is not an HTTP verb")
                if method == "PUT" and isinstance(resource, dict):
                    expected = f"{resource.get('resourceType')}/{resource.get('id')}"
                    if request.get("url") != expected:
                        report.error(ew, f"PUT url '{request.get('url')}' is not '{expected}'")
        model = validate_resource(ew, resource, report) if resource is not None else None
        shell = dict(entry)
        if resource is not None:
            if model is None:
                shell.pop("resource")  # already reported; validate the rest of the entry
            else:
                shell["resource"] = model
        built.append(shell)
    for ew, ref in all_refs:
        if ref.startswith("urn:uuid:") and ref not in full_urls:
            report.error(ew, f"reference {ref} does not resolve to a fullUrl in this Bundle")
    shell = dict(bundle)
    shell["entry"] = built
    if not built:
        shell.pop("entry")
    try:
        Bundle.model_validate(shell)
    except Exception as exc:  # noqa: BLE001
        report.error(where, f"Bundle/{bundle.get('id', '?')}: {pydantic_message(exc)}")


def validate_document(where, doc, report, explicit):
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        validate_bundle(where, doc, report)
        return
    if not explicit and not (isinstance(doc, dict) and "resourceType" in doc):
        report.skipped.append(where)
        return
    validate_resource(where, doc, report)


def validate_file(path, report, explicit):
    report.files += 1
    try:
        if path.endswith(".ndjson"):
            with open(path, encoding="utf-8-sig") as f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    where = f"{path}:{n}"
                    try:
                        doc = json.loads(line)
                    except json.JSONDecodeError as exc:
                        report.error(where, f"invalid JSON: {exc}")
                        continue
                    validate_document(where, doc, report, True)
        else:
            with open(path, encoding="utf-8-sig") as f:
                text = f.read()
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                report.error(f"{path}:{exc.lineno}", f"invalid JSON: {exc.msg}")
                return
            validate_document(f"{path}:1", doc, report, explicit)
    except (OSError, UnicodeDecodeError) as exc:
        report.error(path, f"cannot read: {exc}")


def walk(paths, report):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith((".json", ".ndjson")):
                        validate_file(os.path.join(root, name), report, False)
        elif os.path.exists(p):
            validate_file(p, report, True)
        else:
            report.error(p, "no such file or directory")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="files or directories of .json/.ndjson")
    parser.add_argument("--max-errors", type=int, default=50,
                        help="errors listed in the summary (all are counted)")
    args = parser.parse_args(argv)
    report = Report(args.max_errors)
    started = time.perf_counter()
    walk(args.paths, report)
    seconds = time.perf_counter() - started
    summary = {
        "resources": report.resources,
        "bundles": report.bundles,
        "files": report.files,
        "errors": report.errors,
        "error_count": report.error_count,
        "skipped": report.skipped,
        "seconds": round(seconds, 3),
        "resources_per_second": round(report.resources / seconds, 1) if seconds > 0 else None,
    }
    print(json.dumps(summary, ensure_ascii=False))
    for e in report.errors[:5]:
        print(e, file=sys.stderr)
    return 1 if report.error_count else 0


if __name__ == "__main__":
    sys.exit(main())
