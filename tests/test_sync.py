"`make test`'s first step must fail when a notebook is edited without export (or left unclean)."
import shutil, subprocess, sys
from pathlib import Path
import nbformat, pytest
from conftest import ROOT

IGNORE = shutil.ignore_patterns('.venv', '.git', 'data', '_docs', '_proc', '__pycache__', '*.egg-info', 'mlruns*', 'tests')

@pytest.fixture
def copy(tmp_path):
    dst = tmp_path/'repo'
    shutil.copytree(ROOT, dst, ignore=IGNORE)
    return dst

def check(repo):
    return subprocess.run([sys.executable, 'scripts/check_nbs.py'], cwd=repo, capture_output=True, text=True, timeout=300)

def test_in_sync_passes(copy):
    r = check(copy)
    assert r.returncode == 0, r.stdout + r.stderr

def test_edit_without_export_fails(copy):
    p = copy/'nbs'/'00_data.ipynb'
    nb = nbformat.read(p, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == 'code' and 'def summarise' in c.source)
    cell.source = cell.source.replace('"One row per loaded table', '"Edited: one row per loaded table')
    nbformat.write(nb, p)
    r = check(copy)
    assert r.returncode == 1 and 'library out of sync' in r.stdout and 'ocr6_scoring/data.py' in r.stdout, r.stdout + r.stderr

def test_unclean_notebook_fails(copy):
    p = copy/'nbs'/'00_data.ipynb'
    nb = nbformat.read(p, as_version=4)
    nb.cells[0].execution_count = 42
    nb.metadata['widgets'] = {'state': {}}
    nbformat.write(nb, p)
    r = check(copy)
    assert r.returncode == 1 and 'notebooks not clean' in r.stdout and 'nbs/00_data.ipynb' in r.stdout, r.stdout
