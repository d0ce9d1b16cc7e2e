"""Benchmark of the Dask engine (`ocr6_scoring.scale`) against the pandas one, at 1x and 3x Kaggle's size.

The same synthetic data set (`synthesize`, seed 0) is written twice per size: as flat Parquet files (the
pandas engine) and as a partitioned folder (`fmt='parts'`, a part per 25,000 applicants: the Dask
engine). Each engine runs in a fresh child process:

- pandas: `load_tables` + `FeatureBuilder.fit_transform` of the training applicants, then the new
  applicants' tables scored with a bundle (`Bundle.score_tables`);
- dask: a LocalCluster of 2 worker processes with a memory limit of 8 GB each: `build_features`
  (spec fitted from the parts' summaries, features written part by part, exact medians) and
  `score_parts` with the same bundle.

Wall time per step, and the peak memory of the child with all its descendants (the Dask scheduler,
nannies and workers), sampled every 0.2 s by the parent from /proc. A child whose memory passes
`CAP_GB` is stopped (the machine has 24 GB; the row then says so). The bundle is a smoke model trained
on 20,000 synthetic applicants: scoring time does not depend on how well it was tuned. Training on Dask
(`xgboost.dask`) is not measured here yet. `quick=True` runs 0.05x instead of 1x and 3x.
"""
import json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAP_GB, WORKER_MEMORY, N_WORKERS = 20, '8GB', 2


def _tree_rss(pid: int) -> int:
    "Resident memory of process `pid` and all its descendants, in bytes (0 once it is gone)."
    import psutil
    try:
        p = psutil.Process(pid); procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess: return 0
    total = 0
    for q in procs:
        try: total += q.memory_info().rss
        except psutil.NoSuchProcess: pass
    return total


def _run(*args) -> dict:
    "This file's `--worker *args` in a fresh process, its tree's memory watched: its JSON answer plus peak_bytes (or stopped)."
    p = subprocess.Popen([sys.executable, __file__, '--worker', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, stopped = [0], [False]
    def watch():
        while p.poll() is None:
            peak[0] = max(peak[0], rss := _tree_rss(p.pid))
            if rss > CAP_GB * 1e9:
                stopped[0] = True
                import psutil
                for q in [*psutil.Process(p.pid).children(recursive=True), psutil.Process(p.pid)]:
                    try: q.kill()
                    except psutil.NoSuchProcess: pass
            time.sleep(0.2)
    th = threading.Thread(target=watch, daemon=True); th.start()
    t0 = time.perf_counter(); out, err = p.communicate(); wall = time.perf_counter() - t0; th.join()
    if stopped[0]: return {'stopped': True, 'peak_bytes': peak[0], 'wall_s': wall}
    if p.returncode: raise RuntimeError(f'scale worker {args[0]} failed:\n{err[-3000:]}')
    return {**json.loads(out.strip().splitlines()[-1]), 'peak_bytes': peak[0], 'wall_s': wall}


def _pandas(data_dir: str, model_dir: str) -> dict:
    from ocr6_scoring.data import load_tables, APPLICATION_TABLES
    from ocr6_scoring.features import FeatureBuilder
    from ocr6_scoring.tracking import Bundle
    out, t = {}, time.perf_counter()
    tables = load_tables(data_dir); new = tables.pop('application_test')
    out['load_s'] = time.perf_counter() - t; t = time.perf_counter()
    X = FeatureBuilder().fit_transform(tables, 'application_train')
    out.update(features_s=time.perf_counter() - t, shape=list(X.shape)); del X
    tables['application_test'] = new; del tables['application_train']
    t = time.perf_counter(); s = Bundle.load(model_dir).score_tables(tables)
    out.update(score_s=time.perf_counter() - t, scored=len(s))
    return out


def _dask(parts_dir: str, model_dir: str, work: str) -> dict:
    from ocr6_scoring.scale import dask_client, build_features, score_parts, read_features
    out = {}
    t = time.perf_counter()
    with dask_client(n_workers=N_WORKERS, memory_limit=WORKER_MEMORY) as c:
        out['cluster_s'] = time.perf_counter() - t; t = time.perf_counter()
        fb = build_features(c, parts_dir, Path(work)/'X', progress=False)
        out.update(features_s=time.perf_counter() - t, columns=len(fb.columns)); t = time.perf_counter()
        n = score_parts(c, model_dir, parts_dir, Path(work)/'scores.csv', progress=False)
        out.update(score_s=time.perf_counter() - t, scored=n['applicants'])
    return out


def _model(tmp: Path) -> Path:
    "A smoke bundle trained on 20,000 synthetic applicants (what is scored does not change how long scoring takes)."
    from ocr6_scoring.synth import synthesize
    from ocr6_scoring.tracking import train_bundle, TrainConfig, PROFILES
    synthesize(tmp/'small', n_clients=20_000, seed=1, fmt='parquet', progress=False)
    train_bundle(tmp/'small', tmp/'model', TrainConfig(**PROFILES['smoke']), progress=False)
    return tmp/'model'


def _measure(k: float, tmp: Path, model: Path) -> dict:
    from ocr6_scoring.synth import synthesize, FULL_N_TRAIN, FULL_N_TEST
    import shutil
    n, n_test = round(k * FULL_N_TRAIN), round(k * FULL_N_TEST)
    flat = synthesize(tmp/'flat', n_clients=n, n_test=n_test, seed=0, fmt='parquet', progress=False, force=True)
    t = time.perf_counter(); synthesize(tmp/'parts', n_clients=n, n_test=n_test, seed=0, fmt='parts', progress=False, force=True)
    synth_s = time.perf_counter() - t
    child = sum(v for t, v in flat['rows'].items() if not t.startswith('application'))
    r = {'k': k, 'n': n, 'n_test': n_test, 'child_rows': child, 'synth_parts_s': synth_s}
    r['dask'] = _run('dask', tmp/'parts', model, tmp/'work')
    r['pandas'] = _run('pandas', tmp/'flat', model)
    shutil.rmtree(tmp/'flat'); shutil.rmtree(tmp/'parts'); shutil.rmtree(tmp/'work', ignore_errors=True)
    return r


def _rows(r: dict) -> list[dict]:
    size = f"{r['k']:g}x Kaggle"
    gb = lambda b: round(b / 1e9, 2)
    rows = []
    for eng in ('pandas', 'dask'):
        m = r[eng]
        what = (f'load_tables + fit_transform + score_tables, 1 process' if eng == 'pandas' else
                f'LocalCluster {N_WORKERS} workers x {WORKER_MEMORY}: build_features + score_parts')
        if m.get('stopped'):
            rows.append({'benchmark': f'scale {eng} {size}', 'metric': 'features + scoring', 'value': 'stopped', 'unit': '', 'goal': '',
                         'note': f"memory passed {CAP_GB} GB after {m['wall_s']:.0f} s ({r['n']:,} + {r['n_test']:,} applicants, {r['child_rows']:,} child rows)"})
            continue
        steps = ([f"load {m['load_s']:.0f} s", f"features {m['features_s']:.0f} s", f"scoring {m['score_s']:.0f} s"] if eng == 'pandas' else
                 [f"cluster start {m['cluster_s']:.0f} s", f"features (fit + write parts + medians) {m['features_s']:.0f} s", f"scoring {m['score_s']:.0f} s"])
        rows.append({'benchmark': f'scale {eng} {size}', 'metric': 'wall time, features + scoring', 'value': round(m['wall_s'], 1), 'unit': 's',
                     'goal': '', 'note': f"{what}; {', '.join(steps)}; {r['n']:,} training + {r['n_test']:,} new applicants, {r['child_rows']:,} child rows; "
                                        f"{r['child_rows'] / m['wall_s'] / (1 if eng == 'pandas' else N_WORKERS) / 1e3:,.0f} k child rows per second per core"})
        rows.append({'benchmark': f'scale {eng} {size}', 'metric': 'peak memory, all processes', 'value': gb(m['peak_bytes']), 'unit': 'GB',
                     'goal': f'<= {N_WORKERS} x 8 GB' if eng == 'dask' else '',
                     'note': ('the child process and its descendants (Dask scheduler, nannies, workers)' if eng == 'dask' else 'the one child process')
                             + ', RSS sampled every 0.2 s'})
    return rows


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench_scale_') as tmp:
        tmp = Path(tmp); model = _model(tmp)
        for k in ((0.05,) if quick else (1, 3)): rows += _rows(_measure(k, tmp, model))
    return rows


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == '--worker':
        sys.path.insert(0, str(ROOT))
        fn = {'pandas': _pandas, 'dask': _dask}[sys.argv[2]]
        print(json.dumps(fn(*sys.argv[3:])))
    else:
        for row in bench(quick='--quick' in sys.argv): print(row)
