import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = (ROOT/'..'/'shared'/'data'/'home-credit-sample').resolve()
BIN = Path(sys.executable).parent

@pytest.fixture(scope='session')
def sample_dir() -> Path:
    "The real 1,000-applicant sample beside the repo; tests that need it skip when it is absent."
    if not (SAMPLE/'application_train.csv').exists():
        pytest.skip(f'real sample not found at {SAMPLE} (it lives in ../shared, outside the repo)')
    return SAMPLE

def ocr6(*args, timeout=600, check=False, **kw) -> subprocess.CompletedProcess:
    "Run the installed `ocr6` console script; returns the completed process (text output)."
    exe = shutil.which('ocr6', path=str(BIN)) or shutil.which('ocr6')
    assert exe, 'the ocr6 console script is not installed (pip install -e .)'
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode: raise AssertionError(f'ocr6 {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}')
    return r
