#!/usr/bin/env python3
"""Times pydicom `deid` (PyPI `deid`, its default recipe) over a folder of
DICOM files, for the side-by-side in crates/dicom/examples/deid_bench.rs.

Each file: get_identifiers (read, expand sequences) then replace_identifiers
with the default DeidRecipe, saved to the output folder (read -> de-identify
-> write, as OncoFed's path is timed). Files deid fails on are counted, not
timed twice. Prints one JSON object:
{"tool": "deid", "version", "files", "failed", "bytes", "seconds"}.

Usage: deid_bench.py INPUT_DIR OUTPUT_DIR
"""
import json
import logging
import os
import sys
import time
import warnings
from importlib.metadata import version


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    from deid.config import DeidRecipe
    from deid.dicom import get_identifiers, replace_identifiers
    from deid.logger import bot

    bot.level = 0  # deid's own logger: silence its per-file warnings
    recipe = DeidRecipe()  # the default recipe shipped with deid
    files = sorted(
        os.path.join(src, f) for f in os.listdir(src) if f.endswith(".dcm")
    )
    done, failed, size = 0, 0, 0
    start = time.perf_counter()
    for i, path in enumerate(files):
        out = os.path.join(dst, str(i))
        os.makedirs(out, exist_ok=True)
        try:
            ids = get_identifiers([path])
            replace_identifiers(
                [path], deid=recipe, ids=ids, save=True, output_folder=out, overwrite=True
            )
            done += 1
            size += os.path.getsize(path)
        except Exception:  # noqa: BLE001 - counted, the run goes on
            failed += 1
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "tool": "deid",
                "version": version("deid"),
                "pydicom": version("pydicom"),
                "files": done,
                "failed": failed,
                "bytes": size,
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
