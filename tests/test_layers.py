"""The layer rule (DESIGN.md, "Layout"): the import-linter contracts in pyproject.toml hold,
and no module of privacy/ or customers/ imports itself through others, so that `make test`
fails as soon as a layer is broken, not only `make check`."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_through_others():
    """import-linter's acyclic_siblings contract looks inside each package; this also covers
    a cycle that runs through both apps (privacy.x -> customers.y -> privacy.x)."""
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("privacy", "customers", "bookshop", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    ours = {m for m in graph.modules if m.split(".")[0] in ("privacy", "customers")}
    cycles = []
    for importer in sorted(ours):
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & ours):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(" -> ".join((importer, *back)))
    assert cycles == []
