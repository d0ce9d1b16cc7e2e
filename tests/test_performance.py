"""Estimated performance without labels (`ocr6_scoring.performance`, nbs/15_performance.ipynb), checked where the truth is known.

The synthetic generator draws the new applicants' labels from its planted risk (`synth.generate(new_labels=True)`,
`ocr6 synth --write-new-labels`). Under covariate drift (`drift`) the relation between values and risk is kept,
so calibrated probabilities stay right and the realised AUC and cost should fall inside the estimated 95 % bands;
under concept drift (`concept_drift`) the relation moves and the estimate should miss.

Counts here are small (a test has minutes, not hours); each bound is set so that a method holding its 95 % bands
at least 90 % of the time passes with a probability above 97 % (binomial). The method itself is checked on the
generator's planted probabilities (right by construction); a trained model's bands hold as far as the recalibration
its holdout showed carries to the new applicants, which bench/bench_performance.py measures over more seeds.
"""
import math
import numpy as np, pandas as pd, pytest
from scipy.stats import binom

from ocr6_scoring.synth import generate
from ocr6_scoring.performance import estimate_performance, estimate_for_bundle, realised, covers, METRICS

CHECKED = ('auc', 'business_cost')
THRESHOLD = 1 / 11  # the cost-optimal threshold for calibrated probabilities at fn_cost 10, fp_cost 1


def new_batch(seed: int, n: int, drift: float=0.0, concept: float=0.0) -> tuple[dict, pd.DataFrame]:
    "The tables of `n` new applicants (no training applicant to speak of) and their true labels and planted probabilities."
    g = generate(1, seed=seed, n_test=n, drift=drift, concept_drift=concept, new_labels=True)
    return {k: v for k, v in g.items() if k not in ('application_train', 'new_labels')}, g['new_labels']


def min_hits(n: int, coverage: float=0.9, risk: float=0.03) -> int:
    "The fewest hits out of `n` that a method covering `coverage` of the time reaches with probability >= 1 - `risk`."
    return int(binom.ppf(risk, n, coverage))


def test_min_hits():
    assert min_hits(16) == 12 and min_hits(12) == 9
    assert binom.cdf(min_hits(12) - 1, 12, 0.9) < 0.03


def test_planted_probabilities_hold_under_covariate_drift():
    "The generator's own probabilities are right by construction, drifted or not: the bands hold (the method itself)."
    hits = []
    for seed in range(8):
        for drift in (0.0, 1.0):
            _, lab = new_batch(seed, 2000, drift)
            p, y = lab.PROBABILITY.to_numpy(), lab.TARGET.to_numpy()
            est = estimate_performance(p, THRESHOLD, n_draws=400, seed=seed)
            hits.append(covers(est, realised(y, p, THRESHOLD)))
    hits = pd.DataFrame(hits)
    assert hits.approval_rate.all()
    for k in ('default_rate', *CHECKED): assert hits[k].sum() >= min_hits(len(hits)), hits.mean()


def test_planted_probabilities_miss_under_concept_drift():
    "The training relation's probabilities, on new applicants whose relation moved: cost and default rate are under-estimated."
    under = []
    for seed in range(6):
        _, same = new_batch(seed, 3000)
        _, moved = new_batch(seed, 3000, concept=1.0)
        assert (same.SK_ID_CURR == moved.SK_ID_CURR).all()
        p = same.PROBABILITY.to_numpy()  # what a perfect model of the training relation says
        est, truth = estimate_performance(p, THRESHOLD, n_draws=400, seed=seed), realised(moved.TARGET.to_numpy(), p, THRESHOLD)
        m = est['metrics']
        under.append({k: truth[k] > m[k]['high'] for k in ('default_rate', 'business_cost')})
    under = pd.DataFrame(under)
    assert under.default_rate.sum() >= 5 and under.business_cost.sum() >= 5, under


@pytest.fixture(scope='module')
def smoke_bundle(tmp_path_factory):
    "A model trained with the smoke profile on 4,000 synthetic applicants (a real bundle: calibrated, thresholded, with a holdout)."
    from ocr6_scoring.tracking import train_bundle, TrainConfig, PROFILES, Bundle
    out = tmp_path_factory.mktemp('perf')/'model'
    train_bundle(None, out, TrainConfig(**PROFILES['smoke']), progress=False, tables=generate(4000, seed=0, n_test=0))
    return Bundle.load(out)


def scored_batches(bundle, seed: int, drift: float=0.0, concept: float=0.0, n: int=12_000, parts: int=6) -> list[tuple]:
    "The bundle's probabilities and the true labels of `parts` independent batches of new applicants (one generated batch, split)."
    tables, lab = new_batch(seed, n, drift, concept)
    sc = bundle.score_tables(tables)
    truth = lab.set_index('SK_ID_CURR').loc[sc.index]
    return [(sc.probability.to_numpy()[i::parts], truth.TARGET.to_numpy()[i::parts]) for i in range(parts)]


def test_trained_model_bands_hold_under_covariate_drift(smoke_bundle):
    """A trained (smoke) model under covariate drift, its estimate starting from the recalibration its holdout showed: the
    realised AUC and cost fall inside their bands as often as a method holding 90 % would, the realised cost lies above
    the band (the estimate hid a cost) no more often than the band's 2.5 % upper tail allows, and the estimate is the
    bundle's, against its holdout.

    The twelve batches share one model and one holdout, so they are not independent draws of its calibration error:
    bench/bench_performance.py measures the coverage over 12 models and 180 batches."""
    b, rows = smoke_bundle, []
    for drift in (0.0, 1.0):
        for i, (p, y) in enumerate(scored_batches(b, seed=101, drift=drift)):
            est = estimate_for_bundle(b, p, n_draws=400, seed=i)
            truth, m = realised(y, p, b.threshold), est['metrics']
            rows.append({'drift': drift, 'cost_above': truth['business_cost'] > m['business_cost']['high'], **covers(est, truth)})
            assert m['business_cost']['reference'] == pytest.approx(b.metrics['holdout']['business_cost'])
            cal = b.metrics['calibration']  # the holdout's recalibration (about 60 defaults) and how well it is known
            assert (cal['source'], est['calibration_source'], est['calibration_cov']) == ('holdout', 'holdout', cal['cov'])
            assert est['recalibration'] == {'intercept': cal['intercept'], 'slope': cal['slope']}
            assert m['approval_rate']['estimate'] == pytest.approx(truth['approval_rate'])  # exact: no label needed
    rows = pd.DataFrame(rows)
    print(rows.groupby('drift').mean())
    assert rows.cost_above.sum() <= len(rows) - min_hits(len(rows), coverage=0.975), rows.groupby('drift').mean()
    for k in CHECKED: assert rows[k].sum() >= min_hits(len(rows)), rows.groupby('drift').mean()


def test_trained_model_estimate_misses_under_concept_drift(smoke_bundle):
    "The same model on new applicants whose relation between values and risk moved: the realised cost lies above the band."
    b, above = smoke_bundle, []
    for i, (p, y) in enumerate(scored_batches(b, seed=102, concept=1.5)):
        est, truth = estimate_for_bundle(b, p, n_draws=400, seed=i), realised(y, p, b.threshold)
        above.append(truth['business_cost'] > est['metrics']['business_cost']['high'])
    assert sum(above) >= 4, above
