"MLflow on PostgreSQL: tracked runs and the registry in a real PostgreSQL database, `ocr6 train --tracking-uri postgresql+psycopg://...`, and promotions that finish at the same time (PostgreSQL and SQLite)."
import math, os, queue, time
import multiprocessing as mp
from pathlib import Path
import numpy as np, pytest
from conftest import ocr6

mlflow = pytest.importorskip('mlflow')
sa = pytest.importorskip('sqlalchemy')
from ocr6_scoring.tracking import (TrainConfig, track, promote, bundle_path, comparison_table, holdout_cost, Bundle,
                                   REGISTERED_MODEL, EXPERIMENT)
from ocr6_scoring.data import load_tables
from ocr6_scoring.tuning import tune

SPACE = {'max_depth': (2, 4, 'int'), 'learning_rate': (0.1, 0.3, 'log')}
TINY = dict(n_iter=0, n_init=2, n_folds=3, n_estimators=60, search_space=SPACE)

@pytest.fixture(scope='module')
def synth_dir(tmp_path_factory):
    from ocr6_scoring.synth import synthesize
    d = tmp_path_factory.mktemp('synth')/'data'
    synthesize(d, n_clients=3000, seed=5, progress=False)
    return d

def sql(url, query):
    "Rows of `query` run directly on the database at `url` (to see what MLflow stored, without MLflow)."
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.connect() as con: rows = con.execute(sa.text(query)).all()
    eng.dispose(); return rows

def aliases(client) -> dict[str, str]:
    "The registered model's aliases, alias -> version (a string)."
    return {k: str(v) for k, v in client.get_registered_model(REGISTERED_MODEL).aliases.items()}

def shuffled_tune(*args, **kw):
    "The real tuner on a shuffled target: a model that learned nothing."
    args = list(args); args[2] = np.random.default_rng(0).permutation(np.asarray(args[2]))
    return tune(*args, **kw)

def test_track_on_postgres(pg_url, synth_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path); monkeypatch.delenv('OCR6_ARTIFACT_ROOT', raising=False)
    tr = track(data_dir=synth_dir, config=TrainConfig(**TINY), tracking_uri=pg_url, progress=False,
               run_name='1 baseline', tags={'ocr6.configuration': '1 baseline'})
    c = mlflow.MlflowClient(pg_url); run = c.get_run(tr.run_id)
    assert run.info.status == 'FINISHED' and run.data.params['n_folds'] == '3'
    assert all(math.isfinite(run.data.metrics[k]) for k in ('holdout.auc', 'holdout.business_cost', 'threshold.value', 'cv_best'))
    assert tr.version == '1' and tr.promotion == {'promoted': True, 'reason': 'first model', 'version': '1'}
    assert aliases(c) == {'champion': '1', 'challenger': '1'}
    # it is all in PostgreSQL: the run, its metrics and the champion alias
    assert sql(pg_url, "SELECT status FROM runs") == [('FINISHED',)]
    assert sql(pg_url, "SELECT version FROM registered_model_aliases WHERE alias = 'champion'") == [(1,)]
    # artefacts: mlartifacts/ of the current folder (no OCR6_ARTIFACT_ROOT)
    assert c.get_experiment_by_name(EXPERIMENT).artifact_location == (tmp_path/'mlartifacts').as_uri()
    b = Bundle.load(bundle_path(tracking_uri=pg_url))
    assert b.metrics['holdout']['auc'] == pytest.approx(run.data.metrics['holdout.auc'])
    t = comparison_table(tracking_uri=pg_url)
    assert list(t.configuration) == ['1 baseline'] and t.run_id[0] == tr.run_id
    assert t.AUC[0] == pytest.approx(run.data.metrics['holdout.auc'])

def test_cli_train_on_postgres(pg_url, synth_dir, tmp_path):
    art = tmp_path/'artefacts'
    r = ocr6('train', '--data-dir', synth_dir, '--out', tmp_path/'bundle', '--tracking-uri', pg_url, '--profile', 'smoke',
             '--quiet', cwd=tmp_path, env={**os.environ, 'OCR6_ARTIFACT_ROOT': str(art)}, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'registered version 1' in r.stdout and 'promoted to champion' in r.stdout, r.stdout
    c = mlflow.MlflowClient(pg_url)
    mv = c.get_model_version_by_alias(REGISTERED_MODEL, 'champion')
    assert str(mv.version) == '1' and mv.source.startswith(art.as_uri())  # artefacts where OCR6_ARTIFACT_ROOT says
    assert (Path(bundle_path(tracking_uri=pg_url))/'manifest.json').read_bytes() == (tmp_path/'bundle'/'manifest.json').read_bytes()
    assert not (tmp_path/'mlruns').exists() and not (tmp_path/'mlartifacts').exists()

# --- two processes at once ---------------------------------------------------------------------------------

def _worker(tasks, results, barrier):
    "Worker process: for each (key, function, args, delay) task, wait for the other worker and `delay` more, then call it."
    for key, fn, args, delay in iter(tasks.get, None):
        barrier.wait(timeout=120); time.sleep(delay)
        try: results.put((key, fn(*args)))
        except Exception as e: results.put((key, repr(e)))

@pytest.fixture(scope='module')
def at_once():
    "`at_once((key, fn, args, delay), (key, fn, args, delay))`: both calls started together in two processes -> {key: result}."
    ctx = mp.get_context('spawn')  # fresh interpreters: MLflow's client state is per process
    tasks, results, barrier = [ctx.Queue(), ctx.Queue()], ctx.Queue(), ctx.Barrier(2)
    workers = [ctx.Process(target=_worker, args=(q, results, barrier), daemon=True) for q in tasks]
    for w in workers: w.start()
    def run(*calls):
        for q, call in zip(tasks, calls): q.put(call)
        return dict(results.get(timeout=180) for _ in calls)
    yield run
    for q in tasks: q.put(None)
    for w in workers:
        w.join(30)
        if w.is_alive(): w.terminate()

def _first_use(uri) -> str:
    "A process's first use of a tracking store: connect (MLflow creates its tables in a new database), get or create the experiment."
    from ocr6_scoring.tracking import _mlflow, _experiment_id
    mlflow, client, uri = _mlflow(uri)
    return _experiment_id(mlflow, client, uri, EXPERIMENT)

@pytest.mark.parametrize('backend', ['postgresql', 'sqlite'])
def test_first_uses_at_once(backend, request, tmp_path, at_once):
    uri = request.getfixturevalue('pg_url') if backend == 'postgresql' else f"sqlite:///{tmp_path/'mlruns.db'}"
    got = at_once(('a', _first_use, (uri,), 0), ('b', _first_use, (uri,), 0))
    assert got['a'] == got['b'] and got['a'].isdigit(), got  # both found the one experiment, neither failed
    assert [e.name for e in mlflow.MlflowClient(uri).search_experiments()].count(EXPERIMENT) == 1

@pytest.fixture(scope='module')
def three_versions(postgres, synth_dir, tmp_path_factory):
    "A PostgreSQL registry with three real versions (a model that learned nothing, and two that did), and their holdout costs."
    url = postgres.create_database('promotion_race')
    weak = TrainConfig(**{**TINY, 'n_estimators': 4, 'calibration': 'none', 'search_space': {'max_depth': (1, 2, 'int')}})
    with pytest.MonkeyPatch.context() as mp_:
        mp_.setenv('OCR6_ARTIFACT_ROOT', str(tmp_path_factory.mktemp('artefacts')))
        runs = [track(data_dir=synth_dir, config=cfg, tracking_uri=url, tune_fn=fn, promote_if_better=False, progress=False)
                for cfg, fn in ((TrainConfig(**TINY), shuffled_tune), (TrainConfig(**TINY), tune), (weak, tune))]
    tables = load_tables(synth_dir, require=['application_train']); tables.pop('application_test', None)
    c = mlflow.MlflowClient(url)
    sources = {r.version: c.get_model_version(REGISTERED_MODEL, r.version).source for r in runs}
    cost = {v: holdout_cost(Bundle.load(mlflow.artifacts.download_artifacts(artifact_uri=s)), tables, 0.2)['business_cost']
            for v, s in sources.items()}
    worst, a, b = (r.version for r in runs)
    assert cost[worst] > max(cost[a], cost[b]) and cost[a] != cost[b], cost  # what the rounds below rely on
    return url, sources, cost

def _sqlite_registry(path, sources) -> str:
    "The same three bundles registered, in the same order, in a SQLite registry (no training again)."
    uri = f'sqlite:///{path}'; c = mlflow.MlflowClient(uri)
    c.create_registered_model(REGISTERED_MODEL)
    for v, s in sources.items(): assert str(c.create_model_version(REGISTERED_MODEL, source=s).version) == v
    return uri

@pytest.mark.parametrize('backend', ['postgresql', 'sqlite'])
def test_concurrent_promotions_keep_the_better_model(backend, three_versions, synth_dir, tmp_path, at_once):
    url, sources, cost = three_versions
    uri = url if backend == 'postgresql' else _sqlite_registry(tmp_path/'mlruns.db', sources)
    worst, a, b = sources
    best = min((a, b), key=cost.get)
    c = mlflow.MlflowClient(uri)
    # (champion before, delay of a's promotion, delay of b's): both at once on an empty registry, twice; then
    # against a worse champion, each of them reaching the lock second (and comparing with the other's result)
    for champion, da, db in ((None, 0, 0), (None, 0, 0), (worst, 0, 0.3), (worst, 0.3, 0)):
        if champion is not None: c.set_registered_model_alias(REGISTERED_MODEL, 'champion', champion)
        elif 'champion' in aliases(c): c.delete_registered_model_alias(REGISTERED_MODEL, 'champion')
        got = at_once((a, promote, (REGISTERED_MODEL, str(synth_dir), uri, a), da), (b, promote, (REGISTERED_MODEL, str(synth_dir), uri, b), db))
        assert all(isinstance(r, dict) for r in got.values()), got
        assert aliases(c)['champion'] == best, (champion, got, cost)
        if champion is None: assert [r['reason'] for r in got.values()].count('first model') == 1, got  # one saw the empty registry
        else: assert sorted(r['champion_version'] for r in got.values()) != [worst, worst], got  # one saw the other's result
    if backend == 'postgresql': assert sql(uri, "SELECT count(*) FROM registered_model_aliases WHERE alias = 'champion'") == [(1,)]
