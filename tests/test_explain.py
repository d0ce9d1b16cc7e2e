"Explanations: exact contributions, probability allocation, grouping, reason codes, global views, fairness, speed."
import json, time
import numpy as np, pandas as pd, pytest
from scipy.special import expit
from ocr6_scoring.values import format_value
from ocr6_scoring.explain import (Explainer, allocate, column_info, explain_frame, global_importance,
                                  plot_importance, describe_importance, plot_beeswarm, describe_beeswarm, plot_dependence,
                                  describe_dependence, protected_groups, fairness_table, bundle_fairness, plot_fairness,
                                  describe_fairness)
from ocr6_scoring.model import Scorer, ModelError, IsotonicCalibrator, Calibrator
from ocr6_scoring.cost import OKABE_ITO

SMALL = dict(n_estimators=20, max_depth=3, learning_rate=0.3, early_stopping_rounds=0, cv=2, n_jobs=1)

@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    "A small synthetic folder's training features, target, raw application rows and feature builder."
    from ocr6_scoring.synth import synthesize
    from ocr6_scoring.data import load_tables
    from ocr6_scoring.features import FeatureBuilder
    d = tmp_path_factory.mktemp('explain')/'data'
    synthesize(d, n_clients=1500, seed=2, progress=False)
    tabs = load_tables(d); tabs.pop('application_test')
    fb = FeatureBuilder(); X = fb.fit_transform(tabs)
    app = tabs['application_train'].set_index('SK_ID_CURR').loc[X.index]
    return X, app['TARGET'].to_numpy(), app, fb

@pytest.fixture(scope='module')
def sigmoid(synth):
    X, y, _, fb = synth
    return Scorer('XGBClassifier', calibration='sigmoid', **SMALL).fit(X, y)

@pytest.fixture(scope='module')
def bundle(sample_bundle):
    from ocr6_scoring.tracking import Bundle
    return Bundle.load(sample_bundle)

def check_identities(ex, scorer, X, leaf_lr=False):
    c = ex.contributions(X)
    if leaf_lr: np.testing.assert_allclose(expit(c.margin), c.probability, atol=1e-5)
    else: np.testing.assert_allclose(c.margin, scorer.raw(X), atol=1e-5)  # base + contributions = the model's margin
    np.testing.assert_allclose(c.probability, scorer.probability(X), atol=1e-12)  # the scorer's own probability
    np.testing.assert_allclose(c.base_probability + c.probability_values.sum(1), c.probability, atol=1e-10)
    assert (c.probability_values * c.values >= 0).all()  # a feature never changes direction in probability points
    return c

def test_bundle_contributions_reproduce_margin_and_probability(bundle):
    ex = Explainer.from_bundle(bundle)
    X = bundle.population()[bundle.features.columns]
    c = check_identities(ex, bundle.scorer, X)
    cu = ex.contributions(X, grouped=False)
    np.testing.assert_allclose(c.values.sum(1), cu.values.sum(1), atol=1e-9)  # grouping conserves the total
    full = cu.to_frame()
    for g, cols in bundle.features.groups.items():  # ... and each group is exactly the sum of its columns
        np.testing.assert_allclose(c.to_frame()[g], full[cols].sum(1), atol=1e-9)
    assert c.base == pytest.approx(cu.base) and c.base_probability == pytest.approx(bundle.scorer.calibrator.predict([c.base])[0])

@pytest.mark.parametrize('estimator', ['XGBClassifier', 'XGBRegressor', 'XGBRFClassifier'])
@pytest.mark.parametrize('calibration', ['sigmoid', 'isotonic', 'none', 'leaf-lr'])
def test_every_calibration_and_estimator(synth, estimator, calibration):
    X, y, _, fb = synth
    params = {**SMALL, 'n_estimators': 8} if 'RF' in estimator else SMALL
    sc = Scorer(estimator, calibration=calibration, **params).fit(X, y)
    ex = Explainer(sc, fb)
    check_identities(ex, sc, X.iloc[:400], leaf_lr=calibration == 'leaf-lr')
    assert ex.space == ('leaf-lr logit' if calibration == 'leaf-lr' else 'booster margin')

def test_allocation_is_exact_and_stable():
    phi = np.array([[1.0, -0.5, 0.0], [0.4, -0.4, 0.0], [0.0, 0.0, 0.0]]); b = -1.5
    p = expit(b + phi.sum(1))
    pts, p0 = allocate(phi, b, p, expit)
    np.testing.assert_allclose(p0 + pts.sum(1), p, atol=1e-15)
    np.testing.assert_allclose(pts[1], phi[1] * expit(b) * (1 - expit(b)), atol=1e-8)  # cancelling row: local slope
    assert (pts[2] == 0).all()
    flat = lambda m: np.clip(np.interp(m, [-3, 0, 3], [0.1, 0.1, 0.9]), 0, 1)  # a step of an isotonic calibrator
    pts, p0 = allocate(np.array([[-0.5, -0.5]]), -1.0, flat(np.array([-2.0])), flat)
    np.testing.assert_allclose(pts, 0, atol=1e-15)  # on a flat step nothing moves the probability

def test_explain_one_applicant(bundle):
    ex = Explainer.from_bundle(bundle)
    pop = bundle.population(); X = pop.set_index('SK_ID_CURR')[bundle.features.columns]
    row = X.iloc[[3]]
    e = ex.explain(row, top=5)
    json.dumps(e)  # JSON-ready
    assert e['id'] == int(X.index[3])
    s = bundle.score_features(row)
    assert e['probability'] == pytest.approx(float(s.probability.iloc[0]), abs=1e-12)
    assert e['decision'] == s.decision.iloc[0] and e['threshold'] == bundle.threshold
    assert e['model_version'] == bundle.version
    total = e['base_probability'] + sum(i['probability'] for i in e['contributions']) + e['others']['probability']
    assert total == pytest.approx(e['probability'], abs=1e-12)
    assert len(e['contributions']) <= 5
    m = [abs(i['margin']) for i in e['contributions']]; assert m == sorted(m, reverse=True)
    for i in e['contributions']:
        assert i['direction'] == ('raises' if i['margin'] > 0 else 'lowers')
        assert i['probability_points'] == pytest.approx(100 * i['probability'])
        assert i['text'].startswith(f"{i['label']}: {i['value']} (typical: {i['typical']}) — {i['direction']} risk")
    for r in e['reasons']['raising']: assert r.endswith('— raises risk')
    for r in e['reasons']['lowering']: assert r.endswith('— lowers risk')
    with pytest.raises(ModelError, match='one applicant'): ex.explain(X.iloc[:2])
    with pytest.raises(ModelError, match='lacks'): ex.explain(X.iloc[[0], :-3])

def test_reason_codes_hand_built():
    rng = np.random.default_rng(0)
    H = pd.DataFrame({'LATE': rng.exponential(3, 4000).round(), 'SEX=F': rng.integers(0, 2, 4000).astype(float),
                      'INCOME': rng.lognormal(11, .5, 4000)}).astype('float32')
    H['SEX=M'] = 1 - H['SEX=F']
    y = (rng.random(4000) < expit(-3 + 0.4 * H.LATE - 0.8 * H['SEX=F'])).astype(int)
    sc = Scorer('XGBClassifier', calibration='sigmoid', n_estimators=40, max_depth=2, early_stopping_rounds=0, cv=2).fit(H, y)
    meta = {'LATE': {'meaning': 'Days late on instalments', 'unit': 'days'}, 'INCOME': {'label': 'Income', 'unit': 'currency'},
            'SEX=F': {'meaning': 'Sex: F', 'unit': 'flag', 'group': 'Sex'}, 'SEX=M': {'meaning': 'Sex: M', 'unit': 'flag', 'group': 'Sex'}}
    ex = Explainer(sc, metadata=meta, population=H)
    assert ex.groups == ['Days late on instalments', 'Sex', 'Income']
    row = lambda late, f: pd.DataFrame({'LATE': [late], 'SEX=F': [f], 'INCOME': [60000.], 'SEX=M': [1 - f]}, dtype='float32')[list(H.columns)]
    bad = ex.explain(row(12., 0.))
    assert bad['reasons']['raising'][0] == 'Days late on instalments: 12 days (typical: 2 days) — raises risk'
    assert any(r.startswith('Sex: M (typical: ') and r.endswith('raises risk') for r in bad['reasons']['raising'])
    good = ex.explain(row(0., 1.))
    assert good['reasons']['lowering'][0].startswith('Days late on instalments: 0 days (typical: 2 days) — lowers risk')
    sex = {i['group']: i for i in good['contributions']}['Sex']
    assert sex['value'] == 'F' and sex['direction'] == 'lowers' and sex['column'] is None
    assert ex.explain(row(np.nan, np.nan))['contributions']  # missing values are explained too
    assert {i['group']: i['value'] for i in ex.explain(row(3., np.nan), top=None)['contributions']}.get('Sex', 'not available') == 'not available'

def test_format_value():
    assert format_value(-16500, 'days', 'Age') == '45.2 years'
    assert format_value(3, 'days', 'Days late on instalments') == '3 days'
    assert format_value(1, 'days', 'Days late on instalments') == '1 day'
    assert format_value(-200, 'days', 'Phone change') == '200 days ago'
    assert format_value(400, 'days', 'Bureau credit planned end date') == 'in 400 days'
    assert format_value(-36, 'months', 'Bureau credit history month') == '3.0 years ago'
    assert format_value(202500.0, 'currency') == '202,500'
    assert format_value(0.0, 'flag') == 'no' and format_value(0.256, 'share') == '26%'
    assert format_value(None) == format_value(np.nan, 'count') == 'missing'
    assert format_value('Higher education', 'category') == 'Higher education'
    assert format_value(0.5123, 'score 0-1') == '0.51'

def test_column_info_from_spec_and_metadata(synth):
    X, _, _, fb = synth
    info = column_info(X.columns, fb).set_index('column')
    assert info.loc['CODE_GENDER=F', 'onehot'] and info.loc['CODE_GENDER=F', 'level'] == 'F'
    assert info.loc['DAYS_BIRTH', 'group'] == 'Age' and not info.loc['DAYS_BIRTH', 'onehot']
    assert set(info.group) == set(fb.groups)

def test_global_views_and_text_alternatives(synth, sigmoid):
    X, _, _, fb = synth
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    ex = Explainer(sigmoid, fb, population=X)
    c = ex.contributions(X.iloc[:800])
    imp = global_importance(c)
    assert imp.mean_abs_margin.is_monotonic_decreasing and imp.share.sum() == pytest.approx(1)
    ax = plot_importance(imp, 10)
    assert matplotlib.colors.to_hex(ax.patches[0].get_facecolor()) == OKABE_ITO['blue'].lower()
    text = describe_importance(imp, 3)
    for f in imp.feature[:3]: assert f in text
    vals = ex.group_values(X.iloc[:800])
    plot_beeswarm(c, vals, ex.typical, top=8)
    text = describe_beeswarm(c, vals, ex.typical, top=8, explainer=ex)
    for f in imp.feature[:8]: assert f in text
    top = imp.feature.iat[0]
    plot_dependence(c, vals, top, explainer=ex); plot_dependence(c, vals, 'Gender')
    assert top in describe_dependence(c, vals, top, ex) and 'F (' in describe_dependence(c, vals, 'Gender')
    plt.close('all')

def test_explain_frame_sorted(synth, sigmoid):
    X, _, _, fb = synth
    lf = explain_frame((sigmoid, fb), X.iloc[:4])
    assert len(lf) == 4 * len(fb.groups)
    for _, g in lf.groupby('SK_ID_CURR'):
        assert g.margin.abs().is_monotonic_decreasing
        assert g.probability.sum() + g.base_probability.iat[0] == pytest.approx(g.total_probability.iat[0], abs=1e-12)

def test_shap_package_agrees(synth, sigmoid):
    shap = pytest.importorskip('shap')
    X, _, _, fb = synth
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sv = shap.TreeExplainer(sigmoid.booster).shap_values(X.iloc[:100])
    np.testing.assert_allclose(sv, Explainer(sigmoid, fb).contributions(X.iloc[:100], grouped=False).values, atol=1e-4)

def test_fairness_table_one_row_per_group(synth, sigmoid):
    X, y, app, fb = synth
    g = protected_groups(app)
    assert list(g.columns) == ['gender', 'age band']
    assert (g['gender'].astype(str).to_numpy() == protected_groups(X)['gender'].astype(str).to_numpy()).all()
    p = sigmoid.probability(X)
    t = fairness_table(y, p, g, threshold=0.1, min_n=50)
    groups = t[t.attribute != 'all']
    assert len(groups) == g['gender'].nunique() + g['age band'].nunique()  # one row per group ...
    assert not groups.duplicated(['attribute', 'group']).any()
    for a in ('gender', 'age band'): assert groups[groups.attribute == a].n.sum() == len(X)  # ... with the counts
    assert t.set_index('attribute').loc['all', 'n'] == len(X)
    small = t[(t.n < 50) & (t.attribute != 'all')]
    assert small[['auc', 'ece', 'cost', 'approval_ratio']].isna().all().all()
    assert t[t.n >= 50].auc.notna().all()
    assert t.set_index('group').loc['all', 'approval_rate'] == pytest.approx((p < 0.1).mean())
    fig = plot_fairness(t); text = describe_fairness(t)
    assert 'By gender' in text and 'By age band' in text
    import matplotlib.pyplot as plt; plt.close(fig)

def test_bundle_fairness(bundle):
    t = bundle_fairness(bundle)
    pop = bundle.population()
    assert t.set_index('attribute').loc['all', 'n'] == len(pop)
    assert t[t.attribute == 'gender'].n.sum() == len(pop) and t[t.attribute == 'age band'].n.sum() == len(pop)
