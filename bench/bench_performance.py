"""Estimated performance without labels (issue 23, part 1): how often the realised AUC and cost fall inside the bands.

`performance.estimate_for_bundle` estimates a model's AUC and business cost per client on new applicants from its
calibrated probabilities alone (95 % bands from 1,000 label draws). Here the truth is known: the synthetic generator
draws the new applicants' labels from its planted risk (`synth.generate(new_labels=True)`, what
`ocr6 synth --write-new-labels` writes). Models are trained with the smoke profile on 5,000 synthetic applicants
(real bundles: cross-fitted XGBoost, sigmoid calibration, cost threshold, holdout), 6 training seeds for each of two
variants: the default served model (`refit=True`: after the holdout judged the tuned model, the best parameters are
cross-fitted again on every row) and the judged model itself (`refit=False`, the one the holdout measured). Each model
scores batches of 3,000 new applicants (5 independent batches per scenario and model, from generator seeds of their
own) under covariate drift of strength 0, 1 and 2 (values shifted, relation kept) and concept drift of strength 1 and 2
(relation moved, `synth.concept_logit`). The same batches are also estimated from the generator's planted probabilities
(a perfectly calibrated model, taken as exact: label draws only, without the calibration uncertainty a bundle
records): that measures the method alone. Goal: under covariate drift the realised AUC and cost
fall inside their bands for at least 90 % of the batches; under concept drift the estimate is expected to miss. The
calibration slope of each model on the new applicants (1: calibrated) says how far its probabilities are off there; each
estimate starts from the recalibration the model's holdout showed (`performance.holdout_recalibration`, in the bundle's
metrics), each draw within how well those 1,000 held-out applicants pin it down. A last row
times one estimate at Kaggle's size (48,744 new applicants). `quick=True`: 1 model per variant, 2 batches, smaller sizes.
"""
import os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COVARIATE = (0.0, 1.0, 2.0)  # drift strengths, relation kept
CONCEPT = (1.0, 2.0)  # concept drift strengths, at drift 0
SIZES = {False: (6, 5000, 3000, 5), True: (1, 3000, 2000, 2)}  # models per variant, training applicants, batch size, batches per scenario and model
VARIANTS = {'served model (refit, the default)': True, 'judged model (no refit)': False}  # TrainConfig.refit


def _load() -> str:
    try: return '/'.join(f'{x:.1f}' for x in os.getloadavg())
    except OSError: return 'n/a'


def _model(seed: int, n_train: int, tmp: Path, refit: bool):
    "A smoke-profile bundle trained on `n_train` synthetic applicants of `seed`."
    from ocr6_scoring.synth import generate
    from ocr6_scoring.tracking import train_bundle, TrainConfig, PROFILES, Bundle
    out = tmp/f'model-{seed}-{refit}'
    train_bundle(None, out, TrainConfig(**PROFILES['smoke'], seed=seed, refit=refit), progress=False, tables=generate(n_train, seed=seed, n_test=0))
    return Bundle.load(out)


def _slope(y, p) -> float:
    "Calibration slope: the coefficient of logit(p) in a logistic regression of the labels on it (1: calibrated, > 1: under-confident)."
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(LogisticRegression(C=1e6).fit(np.log(p / (1 - p)).reshape(-1, 1), y).coef_[0, 0])


def _scenario(bundle, seed: int, drift: float, concept: float, size: int, parts: int) -> tuple[list[dict], list[dict], float]:
    "Estimate-against-truth rows of `parts` batches of `size` new applicants, from the model's and from the planted probabilities; the model's calibration slope."
    from ocr6_scoring.synth import generate
    g = generate(1, seed=seed, n_test=size * parts, drift=drift, concept_drift=concept, new_labels=True)
    sc = bundle.score_tables({k: v for k, v in g.items() if k not in ('application_train', 'new_labels')})
    lab = g['new_labels'].set_index('SK_ID_CURR').loc[sc.index]
    planted = lab.PROBABILITY if not concept else (  # the same applicants under the training relation
        generate(1, seed=seed, n_test=size * parts, drift=drift, new_labels=True)['new_labels'].set_index('SK_ID_CURR').loc[sc.index, 'PROBABILITY'])
    y, p = lab.TARGET.to_numpy(), sc.probability.to_numpy()
    return (_batches(bundle, p, y, drift, concept, parts), _batches(bundle, planted.to_numpy(), y, drift, concept, parts, exact=True), _slope(y, p))


def _batches(bundle, p, y, drift: float, concept: float, parts: int, exact: bool=False) -> list[dict]:
    "Estimate (from probabilities `p`; `exact`: taken as exact, without the bundle's calibration uncertainty) against truth (labels `y`) for `parts` interleaved batches."
    from ocr6_scoring.performance import estimate_for_bundle, realised, covers
    rows = []
    for i in range(parts):
        est = estimate_for_bundle(bundle, p[i::parts], seed=i, **({'calibration_cov': None, 'recalibration': None} if exact else {}))
        truth, m = realised(y[i::parts], p[i::parts], bundle.threshold), est['metrics']
        rows.append({'drift': drift, 'concept': concept, **{f'in_{k}': v for k, v in covers(est, truth).items()},
                     'cost_above': truth['business_cost'] > m['business_cost']['high'], 'auc_below': truth['auc'] < m['auc']['low'],
                     'cost_error': truth['business_cost'] - m['business_cost']['estimate'], 'auc_error': truth['auc'] - m['auc']['estimate'],
                     'cost_width': m['business_cost']['high'] - m['business_cost']['low'], 'auc_width': m['auc']['high'] - m['auc']['low'],
                     'alert': est['alert'], 'rose': est['cost_limit'] is not None and truth['business_cost'] > est['cost_limit']})
    return rows


def _timing(n: int=48_744) -> tuple[float, float]:
    "Seconds of one estimate (1,000 draws) on `n` probabilities, and the peak memory it allocates (MB, tracemalloc, a second run)."
    import tracemalloc, numpy as np
    from ocr6_scoring.performance import estimate_performance
    p = np.random.default_rng(0).beta(1, 11, n)
    t = time.perf_counter(); estimate_performance(p, 1 / 11); seconds = time.perf_counter() - t
    tracemalloc.start(); estimate_performance(p, 1 / 11); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    return seconds, peak / 1e6


def _run(n_models: int, n_train: int, size: int, parts: int) -> tuple:
    "Every variant, model and scenario: (model rows, planted-probability rows, calibration slopes), each tagged with its variant."
    import pandas as pd
    rows, oracle, slopes = [], [], []
    with tempfile.TemporaryDirectory(prefix='bench_performance_') as tmp:
        for v, refit in VARIANTS.items():
            for s in range(n_models):
                b = _model(s, n_train, Path(tmp), refit)
                for k, (d, c) in enumerate([(d, 0.0) for d in COVARIATE] + [(0.0, c) for c in CONCEPT]):
                    model_rows, planted_rows, slope = _scenario(b, 1000 + 10 * s + k, d, c, size, parts)
                    rows += [{**r, 'variant': v} for r in model_rows]; oracle += planted_rows
                    if not c: slopes.append({'variant': v, 'slope': slope, 'holdout_slope': b.metrics['calibration'].get('slope', 1.0)})
    return pd.DataFrame(rows), pd.DataFrame(oracle), pd.DataFrame(slopes)


def _coverage_rows(name: str, v: str, g, slopes, setup: str) -> list[dict]:
    "AUC and cost inside their bands under covariate drift, for one variant."
    out, hs, slopes = [], slopes.holdout_slope, slopes.slope
    for k, short, label in (('auc', 'auc', 'AUC'), ('business_cost', 'cost', 'cost')):
        by = ', '.join(f"{d:g}: {100 * g[g.drift == d]['in_' + k].mean():.0f} %" for d in COVARIATE)
        extra = (f"; alert fired in {100 * g.alert.mean():.0f} % (realised cost within the margin in {100 * (g.alert & ~g.rose).mean():.0f} %, "
                 f"beyond it without an alert in {100 * (~g.alert & g.rose).mean():.0f} %)" if k == 'business_cost' else '') + f"; default rate inside {100 * g.in_default_rate.mean():.0f} %"
        out.append({'benchmark': name, 'metric': f'{v}: {label} inside its 95 % band, covariate drift', 'value': round(100 * g['in_' + k].mean(), 1),
                    'unit': '%', 'goal': '>= 90 %',
                    'note': (f"by drift strength {by}; mean realised - estimate {g[short + '_error'].mean():+.4f}, mean band width "
                             f"{g[short + '_width'].mean():.3f}{extra}; calibration slope of the served probabilities on the new applicants "
                             f"{slopes.mean():.2f} ({slopes.min():.2f}-{slopes.max():.2f}; 1 = calibrated); the estimates start from the holdout's "
                             f"recalibration, slope {hs.mean():.2f} ({hs.min():.2f}-{hs.max():.2f}); {setup}")})
    return out


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    n_models, n_train, size, parts = SIZES[quick]
    t0, load0 = time.perf_counter(), _load()
    df, planted, slopes = _run(n_models, n_train, size, parts)
    wall, load1 = time.perf_counter() - t0, _load()
    seconds, mb = _timing()
    setup = (f'{n_models} smoke models x {parts} batches of {size:,} new applicants per scenario; 1,000 label draws per estimate; '
             f'load average {load0} at the start, {load1} at the end; {wall / 60:.1f} min in all')
    name, out = 'performance estimate (no labels)', []
    for v in VARIANTS:
        g = df[(df.variant == v) & (df.concept == 0)]
        out += _coverage_rows(name, v, g, slopes[slopes.variant == v], setup)
    pc = planted[planted.concept == 0]
    for k, label in (('auc', 'AUC'), ('business_cost', 'cost')):
        out.append({'benchmark': name, 'metric': f'planted probabilities: {label} inside its 95 % band, covariate drift',
                    'value': round(100 * pc['in_' + k].mean(), 1), 'unit': '%', 'goal': '>= 90 %',
                    'note': (f"the method alone: the same {len(pc)} batches estimated from the generator's planted probabilities "
                             "(a perfectly calibrated model of the training relation, taken as exact: label draws only), at each model's threshold")})
    for c in CONCEPT:
        g, p = df[df.concept == c], planted[planted.concept == c]
        out.append({'benchmark': name, 'metric': f'cost above its band, concept drift {c:g}', 'value': round(100 * g.cost_above.mean(), 1),
                    'unit': '%', 'goal': 'expected to miss',
                    'note': (f"both variants; realised cost exceeds the estimate by {g.cost_error.mean():+.3f} on average; AUC below its band "
                             f"in {100 * g.auc_below.mean():.0f} % (realised - estimate {g.auc_error.mean():+.3f}); alert fired in "
                             f"{100 * g.alert.mean():.0f} %; from the planted probabilities of the training relation, cost above its band in "
                             f"{100 * p.cost_above.mean():.0f} %")})
    out.append({'benchmark': name, 'metric': 'one estimate, 48,744 applicants', 'value': round(seconds, 2), 'unit': 's', 'goal': '',
                'note': f'1,000 label draws in blocks of at most 2 million labels; peak memory allocated {mb:.0f} MB'})
    return out


if __name__ == '__main__':
    for row in bench(quick='--quick' in sys.argv[1:]): print(row)
