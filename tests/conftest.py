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

@pytest.fixture(scope='session')
def clients_dir(sample_dir, tmp_path_factory) -> Path:
    "A data folder whose application_test holds the real sample's applicants (no TARGET) with their child tables."
    from ocr6_scoring.testing import clients_folder
    return clients_folder(sample_dir, tmp_path_factory.mktemp('clients'))

@pytest.fixture(scope='session')
def sample_bundle(sample_dir, tmp_path_factory) -> Path:
    "A model bundle trained quickly on the real sample (tiny search: for tests, not for quality)."
    from ocr6_scoring.tracking import train_bundle, TrainConfig
    out = tmp_path_factory.mktemp('bundle')/'model'
    train_bundle(sample_dir, out, TrainConfig(n_iter=1, n_init=2, n_folds=3, n_estimators=100, search_space={'max_depth': (2, 4, 'int'), 'learning_rate': (0.1, 0.3, 'log')}), progress=False)
    return out

@pytest.fixture(scope='module')
def service(sample_bundle, clients_dir, tmp_path_factory):
    "The service over the sample bundle and its clients, with its own SQLite audit log (one per test module)."
    from ocr6_scoring.service import Service
    return Service(sample_bundle, clients_dir, f"sqlite:///{tmp_path_factory.mktemp('audit')/'audit.db'}")

@pytest.fixture(scope='module')
def client(service):
    "FastAPI's TestClient on `service`, without a token."
    from fastapi.testclient import TestClient
    from api.app import create_app
    with TestClient(create_app(service, token='')) as c: yield c

@pytest.fixture(scope='session')
def postgres():
    "A throwaway PostgreSQL server for the session (ocr6_scoring.testing), stopped and removed even when tests fail."
    from ocr6_scoring.testing import ThrowawayPostgres, pg_bin
    if pg_bin() is None:
        msg = "PostgreSQL server binaries not found: `make postgres` installs Debian's postgresql package"
        if os.environ.get('OCR6_REQUIRE_POSTGRES') == '1': pytest.fail(msg)  # under `make test` a missing server is a failure
        pytest.skip(msg)
    with ThrowawayPostgres() as pg: yield pg

_DB_COUNT = iter(range(10**6))

@pytest.fixture
def pg_url(postgres) -> str:
    "SQLAlchemy URL of a new, empty database on the session's PostgreSQL server."
    return postgres.create_database(f'test_{next(_DB_COUNT)}')

@pytest.fixture(params=['sqlite', 'postgresql'])
def audit_url(request, tmp_path) -> str:
    "An audit-log URL on each backend the product supports: a SQLite file, and a new database on a real PostgreSQL server."
    if request.param == 'sqlite': return f"sqlite:///{tmp_path/'audit.db'}"
    return request.getfixturevalue('pg_url')
