"Data drift: PSI (identities, bands, the synthetic drifted batch), the evidently report and `drift_report`."
import json, shutil, types
import numpy as np, pandas as pd, pytest
from ocr6_scoring.drift import (psi, psi_bins, psi_band, psi_table, drift_summary, drift_report, network_references,
                                evidently_snapshot, SCORE, PSI_WATCH, PSI_ACT)
from ocr6_scoring.data import load_tables, SCHEMA, APPLICATION_TABLES, DataError
from ocr6_scoring.synth import synthesize, DRIFTED_COLUMNS

APP_COLUMNS = [c for c in SCHEMA['application_test'] if c != 'SK_ID_CURR']

@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    "Synthetic folders whose application_test is drifted (strength 2: clear on 3,000 rows) or not."
    root = tmp_path_factory.mktemp('drift')
    for d in (0, 2): synthesize(root/f'drift{d}', n_clients=3000, n_test=3000, seed=5, drift=d, progress=False)
    return root

def test_psi_of_identical_samples_is_zero():
    rng = np.random.default_rng(1)
    x = rng.lognormal(10, 1, 5000); x[::9] = np.nan
    assert psi(x, x) == 0.0
    assert psi(pd.Series(x), pd.Series(x.copy())) == 0.0
    c = pd.Series(rng.choice(['a', 'b', 'c', None], 5000), dtype='category')
    assert psi(c, c.copy()) == 0.0
    flag = rng.integers(0, 2, 3000).astype(float)
    assert psi(flag, flag) == 0.0 and len(psi_bins(flag, flag)) == 3  # two values + missing
    assert psi(np.full(100, 7.0), np.full(50, 7.0)) == 0.0  # a constant

def test_psi_bins_and_bands():
    rng = np.random.default_rng(2)
    x = rng.normal(size=20_000)
    b = psi_bins(x, x)
    assert len(b) == 11 and b.bin.iat[-1] == 'missing'  # 10 quantile bins + missing
    np.testing.assert_allclose(b.reference.iloc[:-1], 0.1, atol=1e-3)
    assert psi_band(0.05) == 'stable' and psi_band(PSI_WATCH) == 'watch' and psi_band(0.2) == 'watch'
    assert psi_band(PSI_ACT) == 'watch' and psi_band(0.26) == 'act' and psi_band(float('nan')) == 'stable'
    assert psi_band(psi(x, rng.normal(1, 1, 20_000))) == 'act'
    y = x.copy(); y[:5000] = np.nan
    assert psi(x, y) > PSI_ACT  # missingness is a bin
    new = pd.Series(['a'] * 90 + ['z'] * 10)
    assert psi(pd.Series(['a'] * 100), new) > PSI_WATCH  # a level unseen in the reference is a bin (epsilon share there)

def test_psi_flags_exactly_the_drifted_columns(folders):
    for d, expect in ((2, sorted(DRIFTED_COLUMNS)), (0, [])):
        t = load_tables(folders/f'drift{d}', tables=APPLICATION_TABLES)
        tab = psi_table(t['application_train'], t['application_test'], APP_COLUMNS, 'application')
        assert len(tab) == len(APP_COLUMNS) and tab.psi.is_monotonic_decreasing
        assert sorted(tab.column[tab.band != 'stable']) == expect, tab.head(10)
        assert set(tab.kind[tab.column.isin(['CODE_GENDER', 'NAME_CONTRACT_TYPE'])]) == {'categorical'}
    s = drift_summary(tab.assign(psi=0.0, band='stable'))
    assert s['line'] == f'0 features drifted, 0 to watch (of {len(APP_COLUMNS)} checked); no score (no model given)'

def test_summary_line():
    t = pd.DataFrame({'column': ['A', 'B', 'C', SCORE], 'psi': [0.4, 0.3, 0.15, 0.04]})
    t['band'] = t.psi.map(psi_band)
    s = drift_summary(t)
    assert s['line'] == '2 features drifted, 1 to watch (of 3 checked); score PSI 0.04, stable'
    assert s['drifted'] == ['A', 'B'] and s['watch'] == ['C'] and s['score_band'] == 'stable'

def test_network_references():
    assert network_references('<html><body><script>var a = "https://cdn.plot.ly/";</script></body></html>') == []
    bad = ('<script src="https://cdn.example.com/plotly.js"></script><link rel="stylesheet" href="//fonts.example/f.css">'
           '<style>@import url("https://x.example/y.css"); .a{background:url(http://x.example/i.png)}</style>')
    refs = network_references(bad)
    for start in ('<script src=', '<link rel="stylesheet" href=', '@import', 'url(http://'):
        assert any(r.startswith(start) for r in refs), (start, refs)

def check_report(html_path, summary):
    page = html_path.read_text(encoding='utf-8')
    assert network_references(page) == [], network_references(page)  # self-contained: nothing fetched
    assert '<script src' not in page.lower()
    assert summary['line'] in page
    doc = json.loads(html_path.with_suffix('.json').read_text())
    assert doc['summary']['line'] == summary['line'] and doc['evidently']['metrics']
    return doc

def test_drift_report_without_model(folders, tmp_path):
    out = tmp_path/'reports'/'REPORT.html'
    s = drift_report(folders/'drift2', folders/'drift2', out, max_rows=2000, top=10)
    assert sorted(s['drifted'] + s['watch']) == sorted(DRIFTED_COLUMNS)
    assert s['html'] == str(out) and s['json'] == str(out.with_suffix('.json'))
    doc = check_report(out, s)
    assert len(doc['psi']) == len(APP_COLUMNS) and {r['source'] for r in doc['psi']} == {'application'}
    assert set(DRIFTED_COLUMNS) <= set(doc['settings']['evidently_columns']) and len(doc['settings']['evidently_columns']) == 10
    cols = {m['config'].get('column') for m in doc['evidently']['metrics']}
    assert set(doc['settings']['evidently_columns']) <= cols
    s0 = drift_report(folders/'drift0', folders/'drift0', tmp_path/'r0.html', max_rows=1000, top=5)
    assert s0['n_drifted'] == s0['n_watch'] == 0

def test_drift_report_separate_folders(folders, tmp_path):
    "Reference and current in two folders; a current folder with only application_train is used as is."
    ref, cur = tmp_path/'ref', tmp_path/'cur'
    ref.mkdir(); cur.mkdir()
    shutil.copy(folders/'drift2'/'application_train.csv', ref/'application_train.csv')
    pd.read_csv(folders/'drift2'/'application_test.csv').assign(TARGET=0).to_csv(cur/'application_train.csv', index=False)
    s = drift_report(ref, cur, tmp_path/'r.html', max_rows=1000, top=5)
    assert sorted(s['drifted'] + s['watch']) == sorted(DRIFTED_COLUMNS)
    with pytest.raises(DataError): drift_report(ref, tmp_path/'nowhere', tmp_path/'x.html')

def test_drift_report_with_model(folders, tmp_path):
    "With a model: PSI of the score and of engineered features, evidently on the model's top features + score."
    from ocr6_scoring.features import FeatureBuilder
    from ocr6_scoring.model import Scorer
    tabs = load_tables(folders/'drift2'); tabs.pop('application_test')
    fb = FeatureBuilder(); X = fb.fit_transform(tabs)
    y = tabs['application_train'].set_index('SK_ID_CURR').loc[X.index, 'TARGET'].to_numpy()
    sc = Scorer('XGBClassifier', calibration='sigmoid', n_estimators=30, max_depth=3, early_stopping_rounds=0, cv=2, n_jobs=1).fit(X, y)
    model = types.SimpleNamespace(scorer=sc, features=fb, version='v-test')
    out = tmp_path/'model.html'
    s = drift_report(folders/'drift2', folders/'drift2', out, bundle=model, top=8, max_rows=1500)
    doc = check_report(out, s)
    rows = pd.DataFrame(doc['psi'])
    assert set(rows.source) == {'application', 'feature', 'score'}
    assert rows[rows.source == 'score'].column.tolist() == [SCORE] and s['score_psi'] is not None and 'score PSI' in s['line']
    assert not rows.column.str.contains('=').any() or rows[rows.column.str.contains('=')].source.eq('feature').all()
    assert 'CREDIT_INCOME_RATIO' in s['drifted'] + s['watch']  # engineered from drifted columns
    assert not rows.column.duplicated().any()
    ev = doc['settings']['evidently_columns']
    assert ev[-1] == SCORE and 1 < len(ev) <= 9 and set(ev[:-1]) <= set(fb.columns)
    assert doc['settings']['model_version'] == 'v-test'

def test_drift_report_with_a_bundle_folder(sample_dir, clients_dir, sample_bundle, tmp_path):
    "A real bundle folder, the same applicants on both sides: nothing drifts, the score's PSI is 0."
    s = drift_report(sample_dir, clients_dir, tmp_path/'same.html', bundle=sample_bundle, top=5, max_rows=1000)
    assert s['n_drifted'] == s['n_watch'] == 0 and s['score_psi'] == pytest.approx(0, abs=1e-12)
    check_report(tmp_path/'same.html', s)

def test_evidently_snapshot_samples_rows():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({'x': rng.normal(size=20_000), 'c': rng.choice(['a', 'b'], 20_000)})
    cur = pd.DataFrame({'x': rng.normal(2, 1, 20_000), 'c': rng.choice(['a', 'b'], 20_000)})
    snap = evidently_snapshot(ref, cur, max_rows=500)
    d = json.loads(snap.json())
    assert {m['config']['column'] for m in d['metrics'] if m['config'].get('column')} == {'x', 'c'}
    count = [m['value'] for m in d['metrics'] if m['config']['type'].endswith('DriftedColumnsCount')][0]
    assert count['count'] == 1  # x drifted, c did not
    with pytest.raises(DataError): evidently_snapshot(ref, cur, ['nope'])

def test_ocr6_drift_command(folders, sample_bundle, tmp_path):
    "The console script writes the HTML (no network fetch) and its JSON, prints the summary line; bad folders are one-line errors."
    from conftest import ocr6
    out = tmp_path/'drift'/'REPORT.html'
    r = ocr6('drift', '--reference', folders/'drift2', '--current', folders/'drift2', '--out', out, '--max-rows', 1000, '--top', 5, check=True)
    doc = json.loads(out.with_suffix('.json').read_text())
    assert doc['summary']['line'] in r.stdout and network_references(out.read_text(encoding='utf-8')) == []
    r = ocr6('drift', '--reference', folders/'drift2', '--current', tmp_path/'nowhere', '--out', tmp_path/'x.html')
    assert r.returncode == 2 and 'nowhere' in r.stderr and 'Traceback' not in r.stderr

def test_drift_report_estimates_performance(sample_dir, clients_dir, sample_bundle, tmp_path):
    "With a real bundle: the estimated performance on the new applicants is in the JSON and at the top of the HTML; the CLI prints its sentence."
    import html
    from conftest import ocr6
    from ocr6_scoring.tracking import Bundle
    from ocr6_scoring.performance import METRICS
    b = Bundle.load(sample_bundle)
    out = tmp_path/'perf.html'
    s = drift_report(sample_dir, clients_dir, out, bundle=b, top=5, max_rows=1000, cost_margin=0.2)
    perf = s['performance']
    doc = json.loads(out.with_suffix('.json').read_text())
    assert doc['performance'] == json.loads(json.dumps(perf)) and 'performance' not in doc['summary']
    assert perf['n'] == 1000 and perf['margin'] == 0.2 and perf['threshold'] == b.threshold and perf['model_version'] == b.version
    m, h = perf['metrics'], b.metrics['holdout']
    assert list(m) == list(METRICS)
    assert m['auc']['reference'] == pytest.approx(h['auc']) and m['business_cost']['reference'] == pytest.approx(h['business_cost'])
    p = b.score_tables(load_tables(clients_dir)).probability
    assert m['approval_rate']['estimate'] == pytest.approx((p < b.threshold).mean())  # exact: no labels needed
    assert m['default_rate']['estimate'] == pytest.approx(p.mean())
    for k in ('default_rate', 'auc', 'business_cost'): assert m[k]['low'] < m[k]['estimate'] < m[k]['high'], (k, m[k])
    assert perf['alert'] == (m['business_cost']['estimate'] > 1.2 * h['business_cost'])
    check_report(out, s)  # still self-contained, summary line in it
    page = out.read_text(encoding='utf-8')
    assert html.escape(perf['sentence']) in page and page.index('id="ocr6-performance"') < page.index('id="ocr6-drift-summary"')
    r = ocr6('drift', '--reference', sample_dir, '--current', clients_dir, '--out', tmp_path/'cli.html', '--model', sample_bundle,
             '--top', 3, '--max-rows', 500, check=True)
    sentence = json.loads((tmp_path/'cli.json').read_text())['performance']['sentence']
    assert sentence.startswith('Estimated cost per client') and sentence in r.stdout
