"""Slower and CLI-level tests of the synthetic data generator (`ocr6_scoring.synth`, nbs/01_synth.ipynb).

The notebook holds the fast tests; these write and read whole folders, train quick models on the demo
size and run the `ocr6 synth` command (skipped until the command is wired into the CLI).
"""
import hashlib, os, warnings
from pathlib import Path

import numpy as np, pandas as pd, pytest

from ocr6_scoring.data import SCHEMA, TABLES, DTYPES, DataError, load_tables
from ocr6_scoring import synth
from ocr6_scoring.synth import DEMO_N_CLIENTS, DRIFTED_COLUMNS, MISSING, NEW_LABELS_FILE, generate, synthesize, default_n_test
from ocr6_scoring.drift import psi

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent/'shared'/'data'/'home-credit-sample'
needs_sample = pytest.mark.skipif(not (SAMPLE/'application_train.csv').exists(),
                                  reason=f'the real sample is not there ({SAMPLE})')


def digest(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())}


def load_strict(folder) -> dict:
    "load_tables with every warning turned into an error."
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        return load_tables(folder)


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    "The same 3,000 training applicants written once as CSV and once as Parquet."
    base = tmp_path_factory.mktemp('synth')
    return {fmt: Path(synthesize(base/fmt, n_clients=3000, seed=11, fmt=fmt, progress=False)['out'])
            for fmt in synth.FORMATS}


@pytest.fixture(scope='module')
def loaded(folders):
    return {fmt: load_strict(folder) for fmt, folder in folders.items()}


@pytest.fixture(scope='module')
def demo():
    "The demo population, in memory, with its planted probabilities."
    return generate(DEMO_N_CLIENTS, seed=0, planted=True)


# --- files, dtypes, levels, keys -------------------------------------------------------------

@pytest.mark.parametrize('fmt', synth.FORMATS)
def test_loader_reads_every_table_without_warning(loaded, folders, fmt):
    tabs = loaded[fmt]
    assert sorted(tabs) == sorted(TABLES)
    for t, df in tabs.items():
        assert list(df.columns) == list(SCHEMA[t]), t
        assert df.dtypes.astype(str).tolist() == [DTYPES[k] for k in SCHEMA[t].values()], t
    assert len(tabs['application_train']) == 3000 and len(tabs['application_test']) == default_n_test(3000)
    assert (folders[fmt]/'HomeCredit_columns_description.csv').exists()


def test_csv_and_parquet_hold_the_same_data(loaded):
    for t in TABLES:
        a, b = loaded['csv'][t], loaded['parquet'][t]
        for col in a.columns:
            x, y = a[col], b[col]
            if isinstance(x.dtype, pd.CategoricalDtype): x, y = x.astype(object), y.astype(object)
            pd.testing.assert_series_equal(x, y, check_dtype=False, obj=f'{t}.{col}')


def test_csv_is_written_like_kaggle(folders):
    head = (folders['csv']/'application_train.csv').read_text().splitlines()[:2]
    assert head[0].startswith('SK_ID_CURR,TARGET,NAME_CONTRACT_TYPE,')  # plain header
    sk_id, target = head[1].split(',')[:2]
    assert sk_id == '100002' and target in ('0', '1')  # integers without '.0'


@needs_sample
def test_columns_dtypes_and_level_sets_equal_the_real_samples(loaded):
    real = load_strict(SAMPLE)
    for t, df in real.items():
        syn = loaded['csv'][t]
        assert set(df.columns) <= set(syn.columns), t
        for col in df.columns:
            assert syn[col].dtype.name == df[col].dtype.name, (t, col)
            if SCHEMA[t][col] == 'cat':
                assert set(syn[col].dropna()) == set(df[col].dropna()), (t, col)


def test_keys_link_across_tables(loaded):
    g = loaded['parquet']
    tr, te = g['application_train'], g['application_test']
    assert tr.SK_ID_CURR.min() == 100002 and te.SK_ID_CURR.min() == 100001
    assert not set(tr.SK_ID_CURR) & set(te.SK_ID_CURR)
    ids = set(tr.SK_ID_CURR) | set(te.SK_ID_CURR)
    assert set(tr.SK_ID_CURR) | set(te.SK_ID_CURR) == set(range(100001, 100001 + len(ids)))
    for t in ('bureau', 'previous_application', 'POS_CASH_balance', 'installments_payments', 'credit_card_balance'):
        assert g[t].SK_ID_CURR.isin(ids).all(), t
    assert g['bureau'].SK_ID_BUREAU.is_unique and g['previous_application'].SK_ID_PREV.is_unique
    assert g['bureau_balance'].SK_ID_BUREAU.isin(g['bureau'].SK_ID_BUREAU).all()
    owner = g['previous_application'].set_index('SK_ID_PREV').SK_ID_CURR
    for t in ('POS_CASH_balance', 'installments_payments', 'credit_card_balance'):
        assert (owner.reindex(g[t].SK_ID_PREV).to_numpy() == g[t].SK_ID_CURR.to_numpy()).all(), t
    without = {t: 1 - tr.SK_ID_CURR.isin(g[t].SK_ID_CURR).mean() for t in ('bureau', 'previous_application', 'credit_card_balance')}
    assert 0.08 < without['bureau'] < 0.22 and 0.02 < without['previous_application'] < 0.10
    assert without['credit_card_balance'] > 0.5


def test_missingness_follows_kaggle(demo):
    for t in TABLES:
        share = demo[t].isna().mean()
        for col, rate in share.items():
            assert abs(rate - MISSING[t].get(col, 0.0)) < 0.03, (t, col, rate)


# --- determinism, bad input --------------------------------------------------------------------

@pytest.mark.parametrize('fmt', synth.FORMATS)
def test_same_seed_gives_identical_files(tmp_path, folders, fmt):
    synthesize(tmp_path/'again', n_clients=3000, seed=11, fmt=fmt, progress=False)
    assert digest(tmp_path/'again') == digest(folders[fmt])


@pytest.mark.parametrize('kw, message', [
    ({'n_clients': 0}, 'n_clients must be a whole number >= 1, got 0'),
    ({'n_clients': -5}, 'n_clients must be a whole number >= 1, got -5'),
    ({'n_clients': 10.5}, 'n_clients must be a whole number >= 1, got 10.5'),
    ({'n_clients': '100'}, "n_clients must be a whole number >= 1, got '100'"),
    ({'fmt': 'xlsx'}, "unknown format 'xlsx'; expected one of csv, parquet, parts"),
    ({'drift': -0.5}, 'drift must be a number >= 0, got -0.5'),
    ({'drift': float('nan')}, 'drift must be a number >= 0, got nan'),
    ({'seed': -1}, 'seed must be a whole number >= 0, got -1'),
    ({'n_test': -1}, 'n_test must be a whole number >= 0, got -1'),
])
def test_bad_arguments_raise_before_writing(tmp_path, kw, message):
    with pytest.raises(DataError) as e:
        synthesize(tmp_path/'a'/'b', **{'n_clients': 100, 'progress': False, **kw})
    assert str(e.value) == message
    assert list(tmp_path.iterdir()) == []


def test_non_empty_folder_is_refused_and_left_alone(tmp_path, folders):
    before = digest(folders['csv'])
    with pytest.raises(DataError, match='folder is not empty.*force=True'):
        synthesize(folders['csv'], n_clients=100, progress=False)
    assert digest(folders['csv']) == before
    (tmp_path/'a_file').write_text('x')
    with pytest.raises(DataError, match='is not a folder'):
        synthesize(tmp_path/'a_file', n_clients=100, progress=False)


def test_a_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    real_chunks = synth._chunks
    def failing(*a, **k):
        for i, chunk in enumerate(real_chunks(*a, **k)):
            if i == 1: raise KeyboardInterrupt
            yield chunk
    monkeypatch.setattr(synth, '_chunks', failing)
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path/'new'/'data', n_clients=500, progress=False)
    assert list(tmp_path.iterdir()) == []  # no data, no temporary folder, no parent created for nothing
    (tmp_path/'existing').mkdir(); (tmp_path/'existing'/'keep.txt').write_text('x')
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path/'existing', n_clients=500, force=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['existing']
    assert [p.name for p in (tmp_path/'existing').iterdir()] == ['keep.txt']


def test_force_replaces_the_home_credit_files_only(tmp_path):
    out = tmp_path/'data'
    synthesize(out, n_clients=300, fmt='parquet', progress=False)
    (out/'notes.txt').write_text('mine')
    summary = synthesize(out, n_clients=200, fmt='csv', force=True, progress=False)
    assert sorted(os.listdir(out)) == sorted([f'{t}.csv' for t in TABLES] + ['HomeCredit_columns_description.csv', 'notes.txt'])
    assert len(load_strict(out)['application_train']) == 200 == summary['rows']['application_train']


def test_empty_test_file_when_asked(tmp_path):
    synthesize(tmp_path/'d', n_clients=50, n_test=0, progress=False)
    tabs = load_strict(tmp_path/'d')
    assert len(tabs['application_test']) == 0 and len(tabs['application_train']) == 50
    assert tabs['application_train'].SK_ID_CURR.min() == 100002


# --- the planted risk ------------------------------------------------------------------------

def test_default_rate_and_oracle_auc(demo):
    y = demo['application_train'].TARGET.to_numpy(dtype=int)
    assert 0.07 < y.mean() < 0.09
    assert 0.78 < synth._auc(y, demo['planted'].PROBABILITY) < 0.88


def child_aggregates(g: dict) -> pd.DataFrame:
    "A few simple aggregates per child table, per applicant."
    b, p, ins, cc = g['bureau'], g['previous_application'], g['installments_payments'], g['credit_card_balance']
    bb = g['bureau_balance'].assign(late=g['bureau_balance'].STATUS.isin(['1', '2', '3', '4']).astype(float))
    b = b.assign(over=(b.AMT_CREDIT_MAX_OVERDUE > 0).astype(float),
                 bb_late=b.SK_ID_BUREAU.map(bb.groupby('SK_ID_BUREAU').late.max()))
    ins = ins.assign(late=(ins.DAYS_ENTRY_PAYMENT > ins.DAYS_INSTALMENT) | ins.DAYS_ENTRY_PAYMENT.isna(),
                     short=(ins.AMT_PAYMENT < ins.AMT_INSTALMENT) | ins.AMT_PAYMENT.isna())
    return pd.concat([
        b.groupby('SK_ID_CURR').agg(b_n=('over', 'size'), b_over=('over', 'sum'), b_late=('bb_late', 'sum'),
                                    b_now=('CREDIT_DAY_OVERDUE', 'max'), b_debt=('AMT_CREDIT_SUM_DEBT', 'sum')),
        p.assign(ref=p.NAME_CONTRACT_STATUS == 'Refused').groupby('SK_ID_CURR').agg(p_n=('ref', 'size'), p_ref=('ref', 'sum')),
        g['POS_CASH_balance'].assign(d=lambda x: x.SK_DPD > 0).groupby('SK_ID_CURR').agg(pos_dpd=('d', 'mean')),
        ins.groupby('SK_ID_CURR').agg(i_late=('late', 'mean'), i_short=('short', 'mean')),
        cc.assign(u=cc.AMT_BALANCE / cc.AMT_CREDIT_LIMIT_ACTUAL).groupby('SK_ID_CURR').agg(c_util=('u', 'mean'))], axis=1)


def test_quick_model_learns_and_child_tables_help(demo):
    xgb = pytest.importorskip('xgboost')
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    app = demo['application_train']; y = app.TARGET.to_numpy(dtype=int)
    x_app = app.drop(columns=['SK_ID_CURR', 'TARGET'])
    x_all = x_app.join(child_aggregates(demo).reindex(app.SK_ID_CURR).reset_index(drop=True).astype(float))
    fit, hold = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y)
    def auc(x):
        m = xgb.XGBClassifier(n_estimators=200, tree_method='hist', learning_rate=0.05, max_depth=4, subsample=0.8,
                              colsample_bytree=0.8, enable_categorical=True, n_jobs=2, random_state=0)
        return roc_auc_score(y[hold], m.fit(x.iloc[fit], y[fit]).predict_proba(x.iloc[hold])[:, 1])
    auc_app, auc_all = auc(x_app), auc(x_all)
    oracle = roc_auc_score(y[hold], demo['planted'].PROBABILITY.to_numpy()[hold])
    print(f'AUC on holdout: application only {auc_app:.3f}, all tables {auc_all:.3f}, planted {oracle:.3f}')
    assert auc_app > 0.68
    assert auc_all > 0.75 and auc_all > auc_app + 0.03
    assert auc_all < oracle + 0.01


# --- drift ---------------------------------------------------------------------------------------

def psi_scores(g: dict) -> pd.Series:
    tr, te = g['application_train'], g['application_test']
    return pd.Series({c: psi(tr[c], te[c]) for c in te.columns if c != 'SK_ID_CURR'})


def test_drift_shifts_exactly_the_drifted_columns():
    scores = psi_scores(generate(DEMO_N_CLIENTS, seed=0, drift=1.0))
    assert set(scores.index[scores > 0.1]) == set(DRIFTED_COLUMNS), scores.sort_values().tail(10)
    assert scores.drop(list(DRIFTED_COLUMNS)).max() < 0.05


def test_no_drift_means_no_shift(demo):
    scores = psi_scores(demo)
    assert scores.max() < 0.1, scores.sort_values().tail(5)


def test_drift_changes_only_the_test_applicants():
    a, b = generate(1000, seed=5, drift=0.0), generate(1000, seed=5, drift=1.0)
    for t in TABLES:
        if t != 'application_test': pd.testing.assert_frame_equal(a[t], b[t], obj=t)
    same = [c for c in SCHEMA['application_test'] if c not in DRIFTED_COLUMNS]
    pd.testing.assert_frame_equal(a['application_test'][same], b['application_test'][same])


# --- the new applicants' true labels, concept drift -----------------------------------------------

def test_new_labels_are_read_by_nothing(tmp_path):
    "The labels file sits beside the data; the loader, the data fingerprint and scoring never pick it up; nothing else changes."
    from ocr6_scoring.data import find_table
    from ocr6_scoring.tracking import data_fingerprint
    for fmt in synth.FORMATS:
        plain = synthesize(tmp_path/f'plain-{fmt}', n_clients=600, seed=4, fmt=fmt, drift=1.0, progress=False)
        s = synthesize(tmp_path/f'labels-{fmt}', n_clients=600, seed=4, fmt=fmt, drift=1.0, new_labels=True, progress=False)
        with_labels = digest(s['out'])
        assert set(with_labels) - set(digest(plain['out'])) == {NEW_LABELS_FILE}
        assert {k: v for k, v in with_labels.items() if k != NEW_LABELS_FILE} == digest(plain['out'])  # byte-identical otherwise
        tabs = load_strict(s['out'])
        assert set(tabs) == set(TABLES) and 'TARGET' not in tabs['application_test']
        assert all(find_table(s['out'], t).name != NEW_LABELS_FILE for t in TABLES)
        assert NEW_LABELS_FILE not in data_fingerprint(s['out'])['files']
        assert data_fingerprint(s['out'])['digest'] == data_fingerprint(plain['out'])['digest']
        lab = pd.read_csv(Path(s['out'])/NEW_LABELS_FILE)
        assert list(lab.columns) == ['SK_ID_CURR', 'TARGET', 'PROBABILITY'] and set(lab.TARGET) <= {0, 1}
        assert lab.SK_ID_CURR.tolist() == tabs['application_test'].SK_ID_CURR.tolist()
        assert s['new_labels'] == str(Path(s['out'])/NEW_LABELS_FILE) and s['new_default_rate'] == pytest.approx(lab.TARGET.mean())
    with pytest.raises(DataError, match='unknown table'): load_tables(s['out'], tables=[Path(NEW_LABELS_FILE).stem])


def test_force_removes_stale_labels(tmp_path):
    "Labels describe one batch: replacing the folder without asking for them again removes the old ones."
    out = tmp_path/'data'
    synthesize(out, n_clients=200, new_labels=True, progress=False)
    assert (out/NEW_LABELS_FILE).exists()
    synthesize(out, n_clients=200, seed=1, force=True, progress=False)
    assert not (out/NEW_LABELS_FILE).exists()


def test_new_labels_follow_the_planted_risk():
    "The new applicants' labels are drawn from their planted probabilities: default rate and AUC as for the training applicants."
    lab = generate(1, seed=3, n_test=20_000, new_labels=True)['new_labels']
    assert lab.TARGET.mean() == pytest.approx(lab.PROBABILITY.mean(), abs=0.006)
    assert 0.78 < synth._auc(lab.TARGET, lab.PROBABILITY) < 0.88


def test_concept_drift_changes_only_the_labels():
    "Concept drift moves the new applicants' risk, not their values: every table is the same, the labels are not."
    a = generate(1000, seed=6, drift=1.0, new_labels=True, planted=True)
    b = generate(1000, seed=6, drift=1.0, new_labels=True, planted=True, concept_drift=1.0)
    for t in (*TABLES, 'planted'): pd.testing.assert_frame_equal(a[t], b[t], obj=t)
    la, lb = a['new_labels'], b['new_labels']
    assert (la.SK_ID_CURR == lb.SK_ID_CURR).all() and lb.PROBABILITY.mean() > 1.15 * la.PROBABILITY.mean()
    with pytest.raises(DataError, match='concept_drift must be a number >= 0'): generate(10, concept_drift=-0.5)


# --- the `ocr6 synth` command ----------------------------------------------------------------------

def _cli_has_synth() -> bool:
    try:
        from ocr6_scoring.cli import build_parser
        return 'synth' in build_parser()._subparsers._group_actions[0].choices
    except Exception:
        return False

needs_cli = pytest.mark.skipif(not _cli_has_synth(), reason='`ocr6 synth` is not wired into ocr6_scoring.cli yet')


@needs_cli
def test_cli_synth_writes_the_same_folder_as_the_function(tmp_path):
    from ocr6_scoring.cli import main
    args = ['synth', '--out', str(tmp_path/'cli'), '--n-clients', '400', '--seed', '3', '--format', 'parquet', '--drift', '0.5']
    assert main(args) == 0
    synthesize(tmp_path/'fn', n_clients=400, seed=3, fmt='parquet', drift=0.5, progress=False)
    assert digest(tmp_path/'cli') == digest(tmp_path/'fn')
    assert len(load_strict(tmp_path/'cli')['application_train']) == 400


@needs_cli
def test_cli_synth_writes_new_labels_with_concept_drift(tmp_path):
    from ocr6_scoring.cli import main
    args = ['synth', '--out', str(tmp_path/'cli'), '--n-clients', '300', '--seed', '2', '--concept-drift', '1', '--write-new-labels', '--quiet']
    assert main(args) == 0
    synthesize(tmp_path/'fn', n_clients=300, seed=2, concept_drift=1.0, new_labels=True, progress=False)
    assert digest(tmp_path/'cli') == digest(tmp_path/'fn') and NEW_LABELS_FILE in digest(tmp_path/'cli')


@needs_cli
def test_cli_synth_refuses_bad_input(tmp_path, capsys):
    from ocr6_scoring.cli import main
    def run(*extra):
        try: return main(['synth', '--out', str(tmp_path/'x'), *extra])
        except SystemExit as e: return e.code  # argparse's own refusals
    assert run('--n-clients', '0') == 2
    assert 'n_clients' in capsys.readouterr().err
    assert run('--format', 'xlsx') == 2
    assert run('--drift', '-1') == 2
    assert not (tmp_path/'x').exists()


def test_console_script_round_trip(tmp_path):
    "The installed `ocr6` command writes a folder that `ocr6 summary` reads (skipped where not installed)."
    import shutil, subprocess, sys
    exe = shutil.which('ocr6', path=str(Path(sys.executable).parent)) or shutil.which('ocr6')
    if not exe or not _cli_has_synth(): pytest.skip('the ocr6 console script (with `synth`) is not installed here')
    r = subprocess.run([exe, 'synth', '--out', str(tmp_path/'d'), '--n-clients', '300', '--format', 'csv', '--quiet'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([exe, 'summary', '--data-dir', str(tmp_path/'d')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and '300 training applicants' in r.stdout, r.stdout + r.stderr
    r = subprocess.run([exe, 'synth', '--out', str(tmp_path/'d'), '--n-clients', '300'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'folder is not empty' in r.stderr
