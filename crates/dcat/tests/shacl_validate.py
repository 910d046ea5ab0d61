"""Validates a HealthDCAT-AP catalogue against the vendored shapes with pyshacl.

    shacl_validate.py DATA_FILE FORMAT [OTHER_FILE OTHER_FORMAT]
    (FORMAT: turtle | json-ld)

With a second file, also checks that both files hold the same graph
(rdflib.compare.isomorphic) and exits 1 when they differ.

The shapes graph is the union of every *.ttl under crates/dcat/shapes (see its
README.md: HealthDCAT-AP Release 8, NON_PUBLIC profile, over DCAT-AP 3.0.0).
Prints the number of triples, violations and warnings, then every violation;
exits 1 when there is any violation (sh:Violation), 0 otherwise. Run by
crates/dcat/tests/shacl.rs and crates/hub/tests/catalogue.rs.
"""
import pathlib
import sys

import pyshacl
from rdflib import Graph, Namespace
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

SH = Namespace("http://www.w3.org/ns/shacl#")


def repair_pathless_property_shapes(shapes: Graph) -> None:
    """Re-attaches each `sh:property` value without `sh:path` as an `sh:node`.

    HealthDCAT-AP R8's `non-public-shapes.ttl` puts its "hasStructuredData true
    needs hasVariables" rule (an `sh:or` over the focus node) under `sh:property`
    without a path. SHACL 1.0 (section 2.3) requires a path there and pyshacl
    refuses the shapes graph; the rule's meaning is a constraint on the focus node
    itself, which is what `sh:node` with the same blank node says. The vendored
    file stays unchanged; the repair is applied in memory and printed.
    """
    for shape, prop in list(shapes.subject_objects(SH.property)):
        if shapes.value(prop, SH.path) is None:
            shapes.remove((shape, SH.property, prop))
            shapes.add((shape, SH.node, prop))
            print(f"repaired: a path-less sh:property of {shape} is checked as sh:node")


def main() -> int:
    data_file, fmt = sys.argv[1], sys.argv[2]
    shapes_dir = pathlib.Path(__file__).resolve().parent.parent / "shapes"
    shapes = Graph()
    files = sorted(shapes_dir.glob("*/*.ttl"))
    if len(files) != 6:
        print(f"expected the 6 vendored shape files, found {len(files)}")
        return 2
    for f in files:
        shapes.parse(f, format="turtle")
    repair_pathless_property_shapes(shapes)
    data = Graph()
    data.parse(data_file, format=fmt)
    if len(sys.argv) > 4:
        other = Graph()
        other.parse(sys.argv[3], format=sys.argv[4])
        if not isomorphic(data, other):
            print(f"the two files differ: {len(data)} and {len(other)} triples")
            return 1
        print(f"same graph in {fmt} and {sys.argv[4]}")
    conforms, report, _ = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True
    )
    # Top-level results only: pyshacl also lists the nested results of a failed
    # sh:node under sh:detail, each with the default severity, whereas the
    # outer result carries the severity the shape declares.
    results = list(report.objects(None, SH.result))
    violations = [r for r in results if (r, SH.resultSeverity, SH.Violation) in report]
    warnings = [r for r in results if (r, SH.resultSeverity, SH.Warning) in report]
    print(f"triples={len(data)} violations={len(violations)} warnings={len(warnings)}")
    for r in violations:
        focus = report.value(r, SH.focusNode)
        path = report.value(r, SH.resultPath)
        msg = report.value(r, SH.resultMessage)
        print(f"VIOLATION focus={focus} path={path} message={msg}")
    for r in warnings:
        print(f"warning path={report.value(r, SH.resultPath)} message={report.value(r, SH.resultMessage)}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
