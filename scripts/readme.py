"""Render README.md from nbs/index.ipynb (the marker `<!-- bench/RESULTS.md -->` becomes the last `make bench` table).

The nbconvert path keeps markdown cells as they are and code cells with their outputs, which is all
index.ipynb holds; it is deterministic, so `scripts/check_nbs.py` can compare its output.
"""
import shutil, subprocess, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]

def render() -> str:
    nb = nbformat.read(ROOT/'nbs'/'index.ipynb', as_version=4)
    parts = []
    bench = ROOT/'bench'/'RESULTS.md'
    results = bench.read_text(encoding='utf-8').strip() if bench.exists() else '(no results yet: run `make bench`)'
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(c.source.strip().replace('<!-- bench/RESULTS.md -->', results))
        elif c.cell_type == 'code' and not c.source.lstrip().startswith('#| hide'):
            parts.append(f"```python\n{c.source.strip()}\n```")
    header = '<!-- generated from nbs/index.ipynb by scripts/readme.py; edit the notebook, not this file -->'
    return header + '\n\n' + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    (ROOT/'README.md').write_text(render(), encoding='utf-8')
