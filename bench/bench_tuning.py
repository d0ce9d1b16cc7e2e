"""Tuning at full scale: the `full` profile's search timed for real, next to the same search written naively.
(Model quality on real applicants, against baselines, is `bench_quality.py`.)

Speed: `tune` with `TrainConfig(**PROFILES['full'])` (30 trials x 5 folds, 64 histogram bins, fold models on
every default and a fifth of the others, median pruning; the profile's search space) on the
full-scale synthetic folder's training applicants minus the shared 20 % holdout: what `ocr6 train --profile
full` tunes on. The whole call is timed: fold matrices, every trial, calibrations, and the assembly of the best
trial's fold models into the served scorer. That scorer is then scored on the holdout, which the search never saw.
Naive: the same search as a plain loop, `XGBClassifier(n_estimators=3000).fit(...)` on each fold's whole
training part: the matrix rebuilt at every fit, 256 bins, every row, no early stopping, every tree. One naive
trial takes hours here, so its fits are timed on one fold at two tree counts for two of our trials'
parameters; the intercept (matrix) and the per-tree slope extrapolate to 3,000 trees x 5 folds x 30 trials.
"""
import statistics, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]

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
            f'{int(tr.pruned.sum())} pruned; trials {tr.seconds.sum() / 60:.1f} min, matrices + assembly '
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

def bench(quick: bool=False) -> list[dict]:
    return speed(quick)

if __name__ == '__main__':
    for r in bench('--quick' in sys.argv): print(r)
