"""Drift report at full scale (issue 8): `drift_report` (what `ocr6 drift` runs) on the full-scale synthetic folder.

The folder is written by `ocr6_scoring.synth.synthesize` as Parquet with Kaggle's sizes (307,511 training
applicants, 48,744 new ones whose `DRIFTED_COLUMNS` are shifted, `drift=1`) and every child table. The
report compares application_train (reference) with application_test (current) in the same folder, as
`ocr6 demo` does, with its defaults: PSI of every application column, and with a model bundle of every
engineered feature and of the score on 20,000 sampled applicants of each side; the evidently report on the
model's 20 most important features plus the score, 5,000 sampled rows of each side. The bundle is a small
model trained on a separate 5,000-applicant synthetic folder (same generator, so the same feature spec
shape); only its feature spec, scorer and importances are used. Goal: under 2 minutes at full scale,
loading the tables included. Each run is a fresh child process (imports included in the wall time).
"""
import json, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _worker import run_worker


def _worker(data_dir: str, bundle: str|None, out: str) -> dict:
    "Runs in the child process: one drift report, timed from the imports on."
    t = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from ocr6_scoring.drift import drift_report
    from ocr6_scoring.synth import DRIFTED_COLUMNS
    s = drift_report(data_dir, data_dir, out, bundle=bundle)
    wall = time.perf_counter() - t
    doc = json.loads(Path(out).with_suffix('.json').read_text())
    app = _app_columns()
    app_flagged = sorted(r['column'] for r in doc['psi'] if r['band'] != 'stable' and r['source'] == 'application' and r['column'] in app)
    return {'wall': wall, 'seconds': s['seconds'], 'line': s['line'], 'html_mb': Path(out).stat().st_size / 1e6,
            'app_flagged': app_flagged, 'expected': sorted(DRIFTED_COLUMNS), 'evidently_columns': len(doc['settings']['evidently_columns'])}


def _app_columns() -> set:
    from ocr6_scoring.data import SCHEMA
    return {c for c in SCHEMA['application_test'] if c != 'SK_ID_CURR'}


def _run(data_dir: Path, bundle: Path|None, out: Path) -> dict:
    return run_worker(__file__, data_dir, bundle or '', out, what='drift benchmark')


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from ocr6_scoring.synth import synthesize, FULL_N_TRAIN
    from ocr6_scoring.tracking import train_bundle, TrainConfig, PROFILES
    n = 20_000 if quick else FULL_N_TRAIN
    size = 'quick (20,000 applicants)' if quick else 'full scale'
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench_drift_') as tmp:
        tmp = Path(tmp)
        synthesize(tmp/'data', n_clients=n, seed=0, fmt='parquet', drift=1.0, progress=False)
        synthesize(tmp/'small', n_clients=5_000, seed=1, fmt='parquet', progress=False)
        train_bundle(tmp/'small', tmp/'model', TrainConfig(**PROFILES['smoke']), progress=False)
        for label, bundle in (('with a model', tmp/'model'), ('without a model', None)):
            r = _run(tmp/'data', bundle, tmp/f'report-{bundle is None}.html')
            exact = r['app_flagged'] == r['expected']
            rows.append({'benchmark': f'drift report {size}', 'metric': f'wall time, {label}', 'value': round(r['wall'], 1), 'unit': 's',
                         'goal': '<= 120 s', 'note': f"child process incl. imports and loading the tables; drift_report {r['seconds']} s; "
                         f"evidently on {r['evidently_columns']} columns; \"{r['line']}\"; application columns flagged == the shifted "
                         f"ones: {exact}; HTML {r['html_mb']:.1f} MB"})
    return rows


if __name__ == '__main__':
    if sys.argv[1:2] == ['--worker']:
        print(json.dumps(_worker(sys.argv[2], sys.argv[3] or None, sys.argv[4])))
    else:
        for row in bench(quick='--quick' in sys.argv[1:]): print(row)
