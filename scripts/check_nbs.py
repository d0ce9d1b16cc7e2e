"""Fail when the notebooks are not clean or the library/README is out of sync with them.

Runs nbdev_clean, nbdev_export and the README render, and reports every file they changed.
Works on the files themselves (not on git), so it catches the same drift in a clean clone (CI) and
in a working tree with uncommitted edits.
"""
import hashlib, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WATCH = ['nbs/**/*.ipynb', 'dashboards/**/*.ipynb', 'ocr6_scoring/**/*.py', 'README.md']

def snapshot():
    return {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for pat in WATCH for p in ROOT.glob(pat) if '.ipynb_checkpoints' not in p.parts}

def run(*cmd):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode: sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stdout}{r.stderr}")

def changed(before, after):
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))

def main():
    problems = []
    s0 = snapshot()
    run(BIN/'nbdev_clean')
    if (ROOT/'dashboards').exists(): run(BIN/'nbdev_clean', '--fname', 'dashboards')
    s1 = snapshot()
    if d := changed(s0, s1): problems.append(f"notebooks not clean (nbdev_clean changed {', '.join(d)}); run `make export` and commit")
    run(BIN/'nbdev_export')
    run(sys.executable, 'scripts/readme.py')
    s2 = snapshot()
    if d := changed(s1, s2): problems.append(f"library out of sync with the notebooks (nbdev_export changed {', '.join(d)}); "
                                            "edit the notebook, not the .py, then `make export` and commit")
    if problems:
        print('\n'.join(f'FAIL: {p}' for p in problems)); sys.exit(1)
    print(f'OK: {len(s2)} notebooks and modules clean and in sync')

if __name__ == '__main__': main()
