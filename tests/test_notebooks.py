"""Every notebook runs top to bottom against a fresh test database."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "9 areas stored" in text
    if path.name.startswith("02_"):
        assert "coverage " in text and "gaps on the map" in text
    if path.name.startswith("03_"):  # the trial's report, after tasks walked and checked
        assert "planned minutes delivered" in text and "patrols happened: " in text
        arm = {m[1]: float(m[2]) for m in re.finditer(
            r"  (patrolled|control): \d+ spots, (\d+) minutes per spot and week", text)}
        assert arm["patrolled"] > arm["control"], text[-2000:]
        assert "verdict " in text and "95% interval" in text


def test_there_are_notebooks():
    assert NOTEBOOKS
