"`ocr6 train` then `ocr6 score`, end to end, as a user runs them."
import json
import pandas as pd, pytest
from conftest import ocr6

def test_train_then_score_real_sample(sample_dir, tmp_path):
    r = ocr6('train', '--data-dir', sample_dir, '--out', tmp_path/'model', '--profile', 'quick', '--n-iter', 1, '--n-init', 2,
             '--quiet', timeout=900)
    assert r.returncode == 0, r.stderr
    assert 'Holdout (' in r.stdout and 'Threshold' in r.stdout
    new = tmp_path/'new'; new.mkdir()
    pd.read_csv(sample_dir/'application_train.csv').drop(columns='TARGET').to_csv(new/'application_test.csv', index=False)
    for t in ('bureau', 'bureau_balance', 'previous_application', 'installments_payments'):
        (new/f'{t}.csv').write_bytes((sample_dir/f'{t}.csv').read_bytes())
    r = ocr6('score', '--model', tmp_path/'model', '--data-dir', new, '--out', tmp_path/'pred.csv')
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(tmp_path/'pred.csv')
    assert list(pred.columns) == ['SK_ID_CURR', 'probability', 'decision'] and len(pred) == 1000
    assert pred.probability.between(0, 1).all() and set(pred.decision) <= {'granted', 'refused'}
    assert pred.SK_ID_CURR.is_unique

def test_train_refuses_existing_bundle_and_tampered_model(sample_dir, tmp_path):
    (tmp_path/'model').mkdir(); (tmp_path/'model'/'keep.txt').write_text('mine')
    r = ocr6('train', '--data-dir', sample_dir, '--out', tmp_path/'model', '--quiet')
    assert r.returncode == 2 and 'exists and is not empty' in r.stderr
    assert (tmp_path/'model'/'keep.txt').read_text() == 'mine'

def test_score_refuses_tampered_bundle(sample_dir, tmp_path):
    r = ocr6('train', '--data-dir', sample_dir, '--out', tmp_path/'m', '--profile', 'quick', '--n-iter', 0, '--n-init', 1,
             '--n-estimators', 50, '--quiet')
    assert r.returncode == 0, r.stderr
    with open(tmp_path/'m'/'decision.json', 'a') as f: f.write(' ')
    r = ocr6('score', '--model', tmp_path/'m', '--data-dir', sample_dir, '--out', tmp_path/'p.csv')
    assert r.returncode == 2 and 'decision.json does not match its sha256' in r.stderr
    assert not (tmp_path/'p.csv').exists()

def test_train_bad_input(tmp_path):
    (tmp_path/'application_train.csv').write_text('SK_ID_CURR,TARGET\n1,0\n2,0\n')
    r = ocr6('train', '--data-dir', tmp_path, '--out', tmp_path/'m', '--quiet')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr

def test_train_custom_score_is_recorded(sample_dir, tmp_path):
    "A score given by import path is the one tuned and recorded (metrics.json), not the default AUC."
    r = ocr6('train', '--data-dir', sample_dir, '--out', tmp_path/'m', '--profile', 'smoke', '--quiet',
             '--score', 'sklearn.metrics:average_precision_score', '--score-direction', 'max')
    assert r.returncode == 0, r.stderr
    cv = json.loads((tmp_path/'m'/'metrics.json').read_text())['cv']
    assert (cv['score'], cv['greater_is_better']) == ('average_precision_score', True), cv
