"Tracked MLflow runs, the champion/challenger registry, failures, the five configurations, papermill."
import json, math, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest
from conftest import ROOT, ocr6

mlflow = pytest.importorskip('mlflow')
from ocr6_scoring.tracking import (TrainConfig, track, promote, comparison_table, run_configurations, bundle_path,
                                   CONFIGURATIONS, Bundle, in_holdout)
from ocr6_scoring.tuning import tune

TINY = dict(n_iter=1, n_init=2, n_folds=3, n_estimators=100, search_space={'max_depth': (2, 4, 'int'), 'learning_rate': (0.1, 0.3, 'log')})

@pytest.fixture(scope='module')
def synth_dir(tmp_path_factory):
    from ocr6_scoring.synth import synthesize
    d = tmp_path_factory.mktemp('synth')/'data'
    synthesize(d, n_clients=4000, seed=3, progress=False)
    return d

def uri_for(tmp_path): return f"sqlite:///{tmp_path/'mlruns.db'}"

def shuffled_tune(*args, **kw):
    "The real tuner on a shuffled target: a model that learned nothing."
    args = list(args); args[2] = np.random.default_rng(0).permutation(np.asarray(args[2]))
    return tune(*args, **kw)

def test_tracked_run_on_real_sample(sample_dir, tmp_path):
    uri = uri_for(tmp_path)
    tr = track(data_dir=sample_dir, config=TrainConfig(**TINY), tracking_uri=uri, progress=False)
    c = mlflow.MlflowClient(uri); run = c.get_run(tr.run_id)
    assert run.info.status == 'FINISHED'
    assert run.data.params['n_folds'] == '3' and run.data.params['calibration'] == 'sigmoid'
    for k in ('holdout.auc', 'holdout.business_cost', 'holdout.brier', 'holdout.ece', 'oof.auc', 'threshold.value',
              'threshold_low', 'threshold_high', 'cv_best'):
        assert math.isfinite(run.data.metrics[k]), k
    assert len(c.get_metric_history(tr.run_id, 'cv_fold')) == 3
    arts = {a.path for a in c.list_artifacts(tr.run_id)} | {a.path for a in c.list_artifacts(tr.run_id, 'bundle')}
    assert {'trials.csv', 'oof_predictions.csv', 'holdout_predictions.csv', 'calibration.png', 'cost_curve.png',
            'features.json', 'data_fingerprint.json', 'bundle/manifest.json', 'bundle/model.ubj'} <= arts
    assert run.data.tags['ocr6.data_digest'] == json.loads((Path(bundle_path('ocr6-scorer', 'challenger', uri))/'manifest.json').read_text())['data_fingerprint']['digest']
    assert tr.version == '1' and tr.promotion['promoted'] and tr.promotion['reason'] == 'first model'
    assert str(c.get_model_version_by_alias('ocr6-scorer', 'champion').version) == '1'
    Bundle.load(bundle_path('ocr6-scorer', 'champion', uri))  # the registered bundle verifies

def test_promote_rules(synth_dir, tmp_path):
    uri, cfg = uri_for(tmp_path), TrainConfig(**TINY)
    bad = track(data_dir=synth_dir, config=cfg, tracking_uri=uri, tune_fn=shuffled_tune, progress=False)
    assert bad.promotion['promoted']  # first model
    good = track(data_dir=synth_dir, config=cfg, tracking_uri=uri, progress=False)
    assert good.promotion['promoted'], good.promotion  # better -> champion moves
    assert good.promotion['challenger_cost'] < good.promotion['champion_cost']
    worse = track(data_dir=synth_dir, config=cfg, tracking_uri=uri, tune_fn=shuffled_tune, progress=False)
    assert not worse.promotion['promoted'], worse.promotion  # worse -> champion stays
    c = mlflow.MlflowClient(uri)
    assert str(c.get_model_version_by_alias('ocr6-scorer', 'champion').version) == good.version
    assert str(c.get_model_version_by_alias('ocr6-scorer', 'challenger').version) == worse.version

def test_failure_mid_run_leaves_champion(synth_dir, tmp_path):
    uri = uri_for(tmp_path)
    first = track(data_dir=synth_dir, config=TrainConfig(**TINY), tracking_uri=uri, progress=False)
    def broken_tune(*a, **k): raise RuntimeError('simulated crash during tuning')
    with pytest.raises(RuntimeError, match='simulated crash'):
        track(data_dir=synth_dir, config=TrainConfig(**TINY), tracking_uri=uri, tune_fn=broken_tune, progress=False)
    c = mlflow.MlflowClient(uri)
    runs = mlflow.search_runs(experiment_names=['ocr6-scoring'], order_by=['attributes.start_time DESC'])
    assert runs.iloc[0].status == 'FAILED'
    assert str(c.get_model_version_by_alias('ocr6-scorer', 'champion').version) == first.version
    assert len(c.search_model_versions("name='ocr6-scorer'")) == 1  # nothing registered for the failed run

def test_papermill_training_run(synth_dir, tmp_path):
    uri = uri_for(tmp_path)
    r = ocr6('train', '--papermill', '--data-dir', synth_dir, '--out', tmp_path/'bundle', '--tracking-uri', uri,
             '--runs-dir', tmp_path/'runs', '--profile', 'quick', '--n-iter', 1, '--n-init', 2, '--quiet',
             cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    executed = list((tmp_path/'runs').glob('train-*.ipynb'))
    assert len(executed) == 1 and not list((ROOT/'nbs').glob('train-*'))  # executed copies stay outside nbs/
    c = mlflow.MlflowClient(uri)
    run_id = c.get_model_version_by_alias('ocr6-scorer', 'champion').run_id
    assert executed[0].name in {a.path for a in c.list_artifacts(run_id)}
    assert (tmp_path/'bundle'/'manifest.json').exists()
