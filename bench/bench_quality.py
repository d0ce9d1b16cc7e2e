"""Model quality on real applicants: `ocr6 train`'s default against two baselines, by repeated nested cross-validation.

Data: ../shared/data/home-credit-applications-7k (6,769 raw real applicants, 520 defaults, application table only).
Outer loop: stratified 5-fold cross-validation repeated with 3 seeds (15 fits per model). Inside each outer training
part, each model does everything it would do in production, its decision threshold included, and never sees the
outer test part:

- `ocr6 train` (default): `train_bundle` with `TrainConfig()` on the outer training part's application table (the
  feature spec, the search, the cross-fitted calibration, the threshold chosen out of fold, the holdout of
  `ocr6 train`), then the bundle scores the outer test part with `Bundle.score_tables`, as `ocr6 score` does;
- logistic regression on a few domain features (the three external scores, age, employment length, the goods /
  credit, annuity / income and annuity / credit ratios, gender), median-imputed with missing-value indicators,
  standardised;
- a hand-regularised XGBoost with fixed parameters (400 trees, learning rate 0.02, max_depth 3, min_child_weight 10,
  subsample 0.8, colsample_bytree 0.3, reg_lambda 5) on the raw columns plus 5 ratios and the mean, min and std of
  the external scores.

The two baselines choose their threshold with the product's rule (`cost.best_threshold`: lowest business cost, bagged) on
out-of-fold predictions of an inner 5-fold cross-validation of their outer training part.

Reported per model: AUC, business cost per client (fn_cost 10, fp_cost 1, each outer test row decided at its own
fold's threshold), ECE and approval rate, each the mean over repeats of the value on all 6,769 applicants, and the
median seconds per fit (the whole `train_bundle` for ours). Paired differences (ocr6 train - baseline) come with two
95 % intervals: a paired bootstrap over applicants (1,000 resamples of the 6,769, the difference averaged over the
repeats: how much the applicants drawn move it), and the Nadeau-Bengio corrected t interval over the 15 outer folds
(it also counts the variation of the training sets; conservative).
"""
import json, os, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent/'shared'/'data'/'home-credit-applications-7k'
BENCH = 'quality on real applicants (7k)'
HAND = dict(n_estimators=400, learning_rate=0.02, max_depth=3, min_child_weight=10, subsample=0.8, colsample_bytree=0.3, reg_lambda=5)

def _ratios(a: pd.DataFrame) -> pd.DataFrame:
    "The baselines' domain columns, computed from the raw application table."
    emp = a.DAYS_EMPLOYED.astype('float64').where(a.DAYS_EMPLOYED != 365243)
    ext = a[['EXT_SOURCE_1', 'EXT_SOURCE_2', 'EXT_SOURCE_3']].astype('float64')
    return pd.DataFrame({'CREDIT_INCOME': a.AMT_CREDIT / a.AMT_INCOME_TOTAL, 'ANNUITY_INCOME': a.AMT_ANNUITY / a.AMT_INCOME_TOTAL,
                         'ANNUITY_CREDIT': a.AMT_ANNUITY / a.AMT_CREDIT, 'GOODS_CREDIT': a.AMT_GOODS_PRICE / a.AMT_CREDIT,
                         'EMPLOYED_AGE': emp / a.DAYS_BIRTH, 'EXT_MEAN': ext.mean(1), 'EXT_MIN': ext.min(1), 'EXT_STD': ext.std(1)},
                        index=a.index).astype('float64')

def lr_columns(a: pd.DataFrame) -> pd.DataFrame:
    "The logistic regression's few domain features."
    r = _ratios(a)
    return pd.DataFrame({'EXT_SOURCE_1': a.EXT_SOURCE_1, 'EXT_SOURCE_2': a.EXT_SOURCE_2, 'EXT_SOURCE_3': a.EXT_SOURCE_3,
                         'AGE': a.DAYS_BIRTH, 'EMPLOYED': a.DAYS_EMPLOYED.where(a.DAYS_EMPLOYED != 365243),
                         'GOODS_CREDIT': r.GOODS_CREDIT, 'ANNUITY_INCOME': r.ANNUITY_INCOME, 'ANNUITY_CREDIT': r.ANNUITY_CREDIT,
                         'MALE': (a.CODE_GENDER.astype(str) == 'M')}, index=a.index).astype('float64')

def hand_columns(a: pd.DataFrame) -> pd.DataFrame:
    "The hand-regularised XGBoost's columns: every raw column (categories as XGBoost categoricals) + ratios + external-score summaries."
    raw = a.drop(columns=['SK_ID_CURR', 'TARGET'], errors='ignore')
    raw = raw.apply(lambda s: s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype('float64'))
    return pd.concat([raw, _ratios(a)], axis=1)

def _inner_threshold(make, X, y, seed):
    "The product's threshold rule on out-of-fold probabilities of an inner 5-fold cross-validation."
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from ocr6_scoring.cost import best_threshold
    p = cross_val_predict(make(), X, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed), method='predict_proba')[:, 1]
    return best_threshold(y, p, 10, 1).threshold

def fit_lr(app, tr, va, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler
    make = lambda: make_pipeline(SimpleImputer(strategy='median', add_indicator=True), StandardScaler(), LogisticRegression(max_iter=2000))
    X, y = lr_columns(app), app.TARGET.to_numpy('int8')
    thr = _inner_threshold(make, X.iloc[tr], y[tr], seed)
    return make().fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[va])[:, 1], thr

def fit_hand(app, tr, va, seed):
    import xgboost as xgb
    make = lambda: xgb.XGBClassifier(**HAND, tree_method='hist', enable_categorical=True, n_jobs=2, random_state=seed)
    X, y = hand_columns(app), app.TARGET.to_numpy('int8')
    thr = _inner_threshold(make, X.iloc[tr], y[tr], seed)
    return make().fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[va])[:, 1], thr

def fit_ocr6(app, tr, va, seed, config=None):
    "`ocr6 train` on the outer training part (its own holdout inside), then `ocr6 score`'s scoring of the outer test part."
    from ocr6_scoring.tracking import TrainConfig, train_bundle, Bundle
    with tempfile.TemporaryDirectory() as d:
        train_bundle(None, Path(d)/'bundle', TrainConfig(**(config or {})), progress=False, tables={'application_train': app.iloc[tr]})
        b = Bundle.load(Path(d)/'bundle')
        s = b.score_tables({'application_train': app.iloc[va].drop(columns='TARGET')})
        return s.loc[app.SK_ID_CURR.iloc[va], 'probability'].to_numpy(), b.threshold

MODELS = {'ocr6 train': fit_ocr6, 'logistic regression': fit_lr, 'hand-regularised XGBoost': fit_hand}

def cross_validate(app, n_folds=5, seeds=(0, 1, 2), config=None, models=MODELS, log=None) -> dict:
    "Per model and repeat: out-of-fold probabilities, each row's threshold, each row's fold, and seconds per fit."
    from sklearn.model_selection import StratifiedKFold
    y, out = app.TARGET.to_numpy('int8'), {m: [] for m in models}
    for seed in seeds:
        folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
        for m, fit in models.items():
            P, T, F, secs = np.full(len(y), np.nan), np.full(len(y), np.nan), np.full(len(y), -1), []
            for k, (tr, va) in enumerate(folds):
                t = time.perf_counter()
                P[va], T[va] = fit(app, tr, va, seed, config) if m == 'ocr6 train' else fit(app, tr, va, seed)
                F[va] = k; secs.append(time.perf_counter() - t)
                if log: print(f'{m} seed {seed} fold {k}: {secs[-1]:.1f} s', file=log, flush=True)
            out[m].append({'p': P, 't': T, 'fold': F, 'seconds': secs})
    return out

def _cost(y, p, t) -> float:
    "Business cost per client when each row is refused at its own threshold (fn_cost 10, fp_cost 1)."
    from ocr6_scoring.cost import business_cost
    return business_cost(y, (p >= t).astype('float64'), 0.5, 10., 1.).cost

def summarise(y, runs: dict, ref='ocr6 train', n_boot=1000, seed=0) -> tuple[pd.DataFrame, pd.DataFrame]:
    "Per-model metrics (mean over repeats), and the paired differences ref - baseline with both intervals."
    from ocr6_scoring.cost import roc_auc
    from ocr6_scoring.model import ece
    per = pd.DataFrame([{'model': m, 'auc': np.mean([roc_auc(y, r['p']) for r in rs]), 'cost': np.mean([_cost(y, r['p'], r['t']) for r in rs]),
                         'ece': np.mean([ece(y, r['p']) for r in rs]), 'approval': np.mean([np.mean(r['p'] < r['t']) for r in rs]),
                         'seconds': statistics.median(s for r in rs for s in r['seconds'])} for m, rs in runs.items()]).set_index('model')
    rng = np.random.default_rng(seed); boots = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)]
    diffs = []
    for m in runs:
        if m == ref: continue
        pairs = list(zip(runs[ref], runs[m]))
        d = lambda i, f: np.mean([f(y[i], a['p'][i], a['t'][i]) - f(y[i], b['p'][i], b['t'][i]) for a, b in pairs])
        auc_f, cost_f = (lambda yy, p, t: roc_auc(yy, p)), _cost
        folds = [(a, b, a['fold'] == k) for a, b in pairs for k in range(a['fold'].max() + 1)]
        fa = np.array([roc_auc(y[i], a['p'][i]) - roc_auc(y[i], b['p'][i]) for a, b, i in folds])
        fc = np.array([_cost(y[i], a['p'][i], a['t'][i]) - _cost(y[i], b['p'][i], b['t'][i]) for a, b, i in folds])
        k = pairs[0][0]['fold'].max() + 1; J = len(fa)
        nb = lambda x: 1.96 * np.sqrt((1 / J + 1 / (k - 1)) * np.var(x, ddof=1))
        ba, bc = [d(i, auc_f) for i in boots], [d(i, cost_f) for i in boots]
        diffs.append({'baseline': m, 'auc': d(np.arange(len(y)), auc_f), 'auc_boot': tuple(np.percentile(ba, [2.5, 97.5])),
                      'auc_nb': (fa.mean() - nb(fa), fa.mean() + nb(fa)), 'cost': d(np.arange(len(y)), cost_f),
                      'cost_boot': tuple(np.percentile(bc, [2.5, 97.5])), 'cost_nb': (fc.mean() - nb(fc), fc.mean() + nb(fc))})
    return per, pd.DataFrame(diffs).set_index('baseline')

def _load(quick: bool):
    from ocr6_scoring.data import load_tables
    app = load_tables(DATA, require=['application_train'])['application_train']
    if quick: app = app.sample(2000, random_state=0).reset_index(drop=True)
    return app

def _load_average() -> str:
    try: return '/'.join(f'{v:.1f}' for v in os.getloadavg())
    except OSError: return 'n/a'

def bench(quick: bool=False) -> list[dict]:
    if not (DATA/'application_train.csv').exists():
        return [{'benchmark': BENCH, 'metric': 'skipped', 'value': '', 'unit': '', 'goal': '', 'note': f'{DATA} absent'}]
    from ocr6_scoring.tracking import PROFILES
    app = _load(quick); y = app.TARGET.to_numpy('int8')
    n_folds, seeds = (3, (0,)) if quick else (5, (0, 1, 2))
    t0, load0 = time.perf_counter(), _load_average()
    runs = cross_validate(app, n_folds, seeds, PROFILES['smoke'] if quick else None, log=sys.stderr)
    per, diffs = summarise(y, runs, n_boot=200 if quick else 1000)
    where = (f'{len(y):,} real applicants ({int(y.sum())} defaults), {n_folds}-fold CV x {len(seeds)} repeats; '
             f'load average {load0} at the start, {_load_average()} at the end; {(time.perf_counter() - t0) / 60:.0f} min in all')
    rows = []
    goal = {'auc': 'ocr6 train > both', 'cost': 'ocr6 train < both', 'seconds': '<= 120 s (ocr6 train)'}
    for m, r in per.iterrows():
        rows += [{'benchmark': BENCH, 'metric': f'{m}: AUC', 'value': r.auc, 'unit': '', 'goal': goal['auc'], 'note': where},
                 {'benchmark': BENCH, 'metric': f'{m}: cost per client', 'value': r.cost, 'unit': '', 'goal': goal['cost'],
                  'note': f'approval rate {100 * r.approval:.1f} %, ECE {r.ece:.4f}; fn_cost 10, fp_cost 1, thresholds chosen inside each outer training part'},
                 {'benchmark': BENCH, 'metric': f'{m}: seconds per fit', 'value': r.seconds, 'unit': 's',
                  'goal': goal['seconds'] if m == 'ocr6 train' else '', 'note': f'median of {n_folds * len(seeds)} fits on ~{int(len(y) * (n_folds - 1) / n_folds):,} rows, 2 threads'}]
    for b, d in diffs.iterrows():
        for what in ('auc', 'cost'):
            lo, hi = d[f'{what}_boot']; nlo, nhi = d[f'{what}_nb']
            rows.append({'benchmark': BENCH, 'metric': f'{what.upper() if what == "auc" else what} difference vs {b}', 'value': d[what], 'unit': '',
                         'goal': 'interval excludes 0' if b == 'logistic regression' else '',
                         'note': f'ocr6 train - {b}; 95 % paired bootstrap over applicants {lo:+.4f} to {hi:+.4f}; '
                                 f'Nadeau-Bengio over the {n_folds * len(seeds)} outer folds {nlo:+.4f} to {nhi:+.4f}'})
    return rows

if __name__ == '__main__':
    quick = '--quick' in sys.argv
    if '--config' in sys.argv:  # experiments: python bench/bench_quality.py --config '{"n_iter": 4}' [--seeds 0,1,2]
        sys.path.insert(0, str(ROOT))
        cfg = json.loads(sys.argv[sys.argv.index('--config') + 1])
        seeds = tuple(int(s) for s in sys.argv[sys.argv.index('--seeds') + 1].split(',')) if '--seeds' in sys.argv else (0, 1, 2)
        app = _load(quick); runs = cross_validate(app, 5, seeds, cfg, log=sys.stderr)
        per, diffs = summarise(app.TARGET.to_numpy('int8'), runs)
        print(per.round(4).to_string()); print(diffs.to_string())
        if '--save' in sys.argv:  # the out-of-fold predictions, to compare configurations later
            np.savez(sys.argv[sys.argv.index('--save') + 1], **{f'{m}|{i}|{k}': np.asarray(v) for m, rs in runs.items()
                                                                 for i, r in enumerate(rs) for k, v in r.items()})
    else:
        for r in bench(quick): print(r)
