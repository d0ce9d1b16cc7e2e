"""Tuning at full scale (issue 6): the `full` profile's search timed for real, next to the same search written
naively; and model quality on the real sample next to a logistic regression on the same folds.

Speed: `tune` with `TrainConfig(**PROFILES['full'])` (30 trials x 5 folds, 64 histogram bins, fold models on
every default and a quarter of the others, median pruning; the search space of `train_bundle`) on the
full-scale synthetic folder's training applicants minus the shared 20 % holdout: what `ocr6 train --profile
full` tunes on. The whole call is timed: fold matrices, every trial, calibrations, the final refit on every
row. The tuned scorer is then scored on the holdout, which the search never saw.
Naive: the same search as a plain loop, `XGBClassifier(n_estimators=3000).fit(...)` on each fold's whole
training part: the matrix rebuilt at every fit, 256 bins, every row, no early stopping, every tree. One naive
trial takes hours here, so its fits are timed on one fold at two tree counts for two of our trials'
parameters; the intercept (matrix) and the per-tree slope extrapolate to 3,000 trees x 5 folds x 30 trials.
Quality: on the real sample, nested cross-validation of `ocr6 train`'s default tuning next to a logistic
regression (median-imputed, standardised features) on the same outer folds, thresholds chosen on inner
predictions, with paired bootstrap intervals of the differences (1,000 applicants decide little).
"""
import statistics, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent/'shared'/'data'/'home-credit-sample'

def _features(data_dir):
    from ocr6_scoring.data import load_tables
    from ocr6_scoring.features import FeatureBuilder
    tabs = load_tables(data_dir, require=['application_train']); tabs.pop('application_test', None)
    X = FeatureBuilder().fit_transform(tabs)
    y = tabs['application_train'].set_index('SK_ID_CURR').loc[X.index, 'TARGET'].to_numpy('int8')
    return X, y

def _naive_fit_seconds(params, X, y, w, n_trees):
    "Seconds of one naive fit (sklearn API: the matrix is built inside fit) with `n_trees` trees."
    import xgboost as xgb
    t = time.perf_counter()
    xgb.XGBClassifier(n_estimators=n_trees, tree_method='hist', n_jobs=2, **params).fit(X, y, sample_weight=w)
    return time.perf_counter() - t

def speed(quick=False):
    from ocr6_scoring.synth import synthesize, FULL_N_TRAIN
    from ocr6_scoring.tracking import TrainConfig, PROFILES, in_holdout
    from ocr6_scoring.tuning import tune
    from ocr6_scoring.model import class_weights, ece
    from ocr6_scoring.cost import roc_auc
    from sklearn.model_selection import StratifiedKFold
    n = 20_000 if quick else FULL_N_TRAIN
    with tempfile.TemporaryDirectory() as d:
        synthesize(Path(d)/'data', n_clients=n, seed=0, fmt='parquet', progress=False)
        X, y = _features(Path(d)/'data')
    hold = in_holdout(X.index.to_numpy())
    Xt, yt, Xh, yh = X[~hold], y[~hold], X[hold], y[hold]
    cfg = TrainConfig(**{**PROFILES['full'], **({'n_init': 3, 'n_iter': 3} if quick else {})})
    kw = cfg.tune_kwargs()
    t = time.perf_counter()
    res = tune(cfg.estimator, Xt, yt, progress=False, **kw)
    ours = time.perf_counter() - t
    tr = res.trials; n_trials = len(tr)
    ph = res.scorer.probability(Xh)
    # naive: fold 0's whole training part, every tree, at two tree counts -> intercept + slope per tree
    train_part = next(StratifiedKFold(cfg.n_folds, shuffle=True, random_state=cfg.seed).split(np.zeros(len(yt)), yt))[0]
    Xf, yf = Xt.iloc[train_part], yt[train_part]
    wf = class_weights(yf, cfg.class_weight)
    lo, hi = (20, 40) if quick else (100, 200)
    space = list(kw['search_space'])
    picks = [0] if quick else sorted({0, res.best_trial})
    if len(picks) == 1 and not quick: picks.append(1)
    fit_full = []
    for i in picks:
        p = {k: (int(v) if k == 'max_depth' else float(v)) for k, v in tr.loc[i, space].items()}
        a, b = _naive_fit_seconds(p, Xf, yf, wf, lo), _naive_fit_seconds(p, Xf, yf, wf, hi)
        slope = (b - a) / (hi - lo)
        fit_full.append(a - lo * slope + cfg.n_estimators * slope)
    naive = n_trials * cfg.n_folds * statistics.mean(fit_full)
    complete = tr[~tr.pruned]
    note = (f'{len(yt):,} applicants x {X.shape[1]} features (holdout {len(yh):,} kept out), {n_trials} trials x {cfg.n_folds} folds, '
            f'{int(tr.pruned.sum())} pruned; trials {tr.seconds.sum() / 60:.1f} min, matrices + final refit '
            f'{(ours - tr.seconds.sum()) / 60:.1f} min; best CV AUC {res.best_score:.4f}, holdout AUC {roc_auc(yh, ph):.4f}, '
            f'ECE {ece(yh, ph):.4f}')
    bench = f'tuning `full` profile ({n_trials} trials x {cfg.n_folds} folds)'
    return [
        {'benchmark': bench, 'metric': 'wall time, ours', 'value': ours / 60, 'unit': 'min', 'goal': '<= 20 min', 'note': note},
        {'benchmark': bench, 'metric': 'wall time, naive (extrapolated)', 'value': naive / 60, 'unit': 'min', 'goal': '',
         'note': f'sklearn fit per trial and fold on all {len(yf):,} rows of the training part, 256 bins, {cfg.n_estimators:,} trees, '
                 f'no early stopping; one fit {statistics.mean(fit_full) / 60:.1f} min extrapolated from {lo} and {hi} trees '
                 f'(mean of {len(fit_full)} parameter sets of our trials)'},
        {'benchmark': bench, 'metric': 'speed-up', 'value': naive / ours, 'unit': 'x', 'goal': '>= 3x', 'note': 'naive / ours, same data and trials'},
        {'benchmark': bench, 'metric': 'complete trial (median)', 'value': float(complete.seconds.median()), 'unit': 's', 'goal': '',
         'note': f'{len(complete)} complete trials, median {complete.n_trees.median():.0f} trees per fold; pruned trials median '
                 f'{tr[tr.pruned].seconds.median() if tr.pruned.any() else float("nan"):.0f} s'},
    ]

def _cost(y, refused, fn_cost, fp_cost) -> float:
    "Business cost per client of 0/1 refusals (`cost.business_cost`: a refusal is a 'probability' of 1 against a threshold of 0.5)."
    from ocr6_scoring.cost import business_cost
    return business_cost(y, refused.astype('float64'), 0.5, fn_cost, fp_cost).cost

def _paired_bootstrap(y, pa, pb, ra, rb, fn_cost, fp_cost, n_boot=2000, seed=0):
    "95 % percentile intervals of AUC(a) - AUC(b) and cost(a) - cost(b) (refusals `ra`, `rb`) over bootstrap resamples of the applicants."
    from ocr6_scoring.cost import roc_auc
    rng = np.random.default_rng(seed); d_auc, d_cost = [], []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max(): continue
        d_auc.append(roc_auc(y[i], pa[i]) - roc_auc(y[i], pb[i]))
        d_cost.append(_cost(y[i], ra[i], fn_cost, fp_cost) - _cost(y[i], rb[i], fn_cost, fp_cost))
    q = lambda v: tuple(float(x) for x in np.percentile(v, [2.5, 97.5]))
    return q(d_auc), q(d_cost)

def quality():
    """Nested CV on the real sample: each outer fold is predicted by a model tuned (inner CV) without it.

    The tuned model is what `ocr6 train` does by default: `TrainConfig()` (the `standard` profile: 5 inner folds,
    4 random + 8 Bayesian trials, balanced class weights, sigmoid calibration, the default search space); its
    threshold is chosen on the inner out-of-fold probabilities, as `train_bundle` does. The logistic regression
    gets the same outer folds, its threshold from inner cross-validated predictions."""
    if not (SAMPLE/'application_train.csv').exists():
        return [{'benchmark': 'quality on real sample', 'metric': 'skipped', 'value': '', 'unit': '', 'goal': '', 'note': f'{SAMPLE} absent'}]
    from ocr6_scoring.tuning import tune
    from ocr6_scoring.tracking import TrainConfig
    from ocr6_scoring.cost import roc_auc, best_threshold
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler
    X, y = _features(SAMPLE)
    cfg = TrainConfig()
    lr = lambda: make_pipeline(SimpleImputer(strategy='median', keep_empty_features=True), StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
    p = {'xgb': np.empty(len(y)), 'lr': np.empty(len(y))}; t = {'xgb': np.empty(len(y)), 'lr': np.empty(len(y))}
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=1).split(np.zeros(len(y)), y):
        res = tune(cfg.estimator, X.iloc[tr], y[tr], progress=False, **cfg.tune_kwargs())
        p['xgb'][va] = res.scorer.probability(X.iloc[va]); t['xgb'][va] = best_threshold(y[tr], res.oof_proba, cfg.fn_cost, cfg.fp_cost, n_boot=0).threshold
        inner = cross_val_predict(lr(), X.iloc[tr].to_numpy(), y[tr], cv=5, method='predict_proba')[:, 1]
        p['lr'][va] = lr().fit(X.iloc[tr].to_numpy(), y[tr]).predict_proba(X.iloc[va].to_numpy())[:, 1]
        t['lr'][va] = best_threshold(y[tr], inner, cfg.fn_cost, cfg.fp_cost, n_boot=0).threshold
    refused = {k: p[k] >= t[k] for k in p}  # each outer fold's rows against the threshold chosen inside it
    (a_lo, a_hi), (c_lo, c_hi) = _paired_bootstrap(y, p['xgb'], p['lr'], refused['xgb'], refused['lr'], cfg.fn_cost, cfg.fp_cost)
    rows = []
    note = (f'{len(y)} real applicants ({int(y.sum())} defaults), nested CV: 5 outer folds, inside each `ocr6 train`\'s default tuning '
            f'(TrainConfig(): {cfg.n_folds} folds, {cfg.n_init + cfg.n_iter} trials); thresholds from inner out-of-fold predictions')
    for key, name in (('xgb', 'tuned XGBoost'), ('lr', 'logistic regression')):
        cost = _cost(y, refused[key], cfg.fn_cost, cfg.fp_cost)
        rows += [{'benchmark': 'quality on real sample', 'metric': f'{name} AUC', 'value': roc_auc(y, p[key]), 'unit': '', 'goal': 'XGBoost > LR', 'note': note},
                 {'benchmark': 'quality on real sample', 'metric': f'{name} cost/client', 'value': float(cost), 'unit': '', 'goal': 'XGBoost < LR', 'note': f'fn_cost {cfg.fn_cost:g}, fp_cost {cfg.fp_cost:g}, at the thresholds chosen inside'}]
    rows += [{'benchmark': 'quality on real sample', 'metric': 'AUC difference, 95 % interval', 'value': f'{a_lo:+.3f} to {a_hi:+.3f}', 'unit': '',
              'goal': '', 'note': 'XGBoost - LR, paired bootstrap over applicants (2,000 resamples): an interval across 0 means no difference shown'},
             {'benchmark': 'quality on real sample', 'metric': 'cost difference, 95 % interval', 'value': f'{c_lo:+.3f} to {c_hi:+.3f}', 'unit': '',
              'goal': '', 'note': 'XGBoost - LR per client, same resamples'}]
    return rows

def bench(quick: bool=False) -> list[dict]:
    return quality() + speed(quick)

if __name__ == '__main__':
    for r in bench('--quick' in sys.argv): print(r)
