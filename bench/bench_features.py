"""Benchmark of the feature pipeline (`ocr6_scoring.features`): batch time and memory, one-applicant latency.

Full scale is Kaggle's size, written by `ocr6_scoring.synth.synthesize` as Parquet: 307,511 training
applicants (+ 48,744 test) and about 58 million child rows. Goals (issue 4): `fit_transform` on the loaded
tables <= 60 s and <= 6 GB peak on 2 cores; `transform_records` of one applicant with all its child rows
<= 20 ms (median of 200 calls). Loading is timed separately. Each run is a fresh child process that
reports its own peak resident set size (`ru_maxrss`) and, sampled every 20 ms, its RSS during the feature
step alone. `quick=True` runs 5,000 applicants instead.
"""
import json, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _worker import run_worker
N_CALLS, N_APPLICANTS = 200, 20


def _worker(data_dir: str) -> dict:
    "Runs in the child process: load, fit_transform, transform, one-applicant latency; returns measurements."
    import resource, statistics, threading
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from ocr6_scoring.data import load_tables
    from ocr6_scoring.features import FeatureBuilder, applicant_records, records_to_tables
    def rss(): return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()
    out = {}
    t = time.perf_counter(); tables = load_tables(data_dir)
    out.update(load_s=time.perf_counter() - t, load_maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
               table_bytes=sum(int(df.memory_usage(deep=True).sum()) for df in tables.values()),
               rows={k: len(v) for k, v in tables.items()})
    peak, stop = [0], threading.Event()
    def watch():
        while not stop.is_set(): peak[0] = max(peak[0], rss()); stop.wait(0.02)
    out['rss_before'] = rss()
    th = threading.Thread(target=watch, daemon=True); th.start()
    fb = FeatureBuilder()
    t = time.perf_counter(); X = fb.fit_transform(tables, application='application_train'); out['fit_transform_s'] = time.perf_counter() - t
    stop.set(); th.join()
    out.update(feature_peak=peak[0], shape=list(X.shape))
    if 'application_test' in tables:
        t = time.perf_counter(); fb.transform(tables, application='application_test'); out['transform_test_s'] = time.perf_counter() - t
        out['n_test'] = len(tables['application_test'])
    # one applicant: all its rows as plain records, through transform_records (the API's path)
    ids = X.index.to_numpy()[np.linspace(0, len(X) - 1, N_APPLICANTS).astype(int)]
    small = {'application_train': tables['application_train'][tables['application_train'].SK_ID_CURR.isin(ids)]}
    for t_, df in tables.items():
        if t_ in ('application_train', 'application_test', 'bureau_balance'): continue
        small[t_] = df[df.SK_ID_CURR.isin(ids)]
    if 'bureau_balance' in tables and 'bureau' in small:
        small['bureau_balance'] = tables['bureau_balance'][tables['bureau_balance'].SK_ID_BUREAU.isin(small['bureau'].SK_ID_BUREAU)]
    recs = [applicant_records(small, int(i)) for i in ids]
    out['bitwise_equal'] = all(np.array_equal(fb.transform_records(a, c).to_numpy().view(np.uint32),
                                              X.loc[[i]].to_numpy().view(np.uint32)) for i, (a, c) in zip(ids, recs))
    out['child_rows'] = statistics.median(sum(map(len, c.values())) for _, c in recs)
    total, typing, compute = [], [], []
    for k in range(N_CALLS):
        a, c = recs[k % len(recs)]
        t0 = time.perf_counter(); fb.transform_records(a, c); total.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); name, tabs = records_to_tables(a, c, frames=False); typing.append(time.perf_counter() - t0)  # as transform_records types them
        t0 = time.perf_counter(); fb.transform(tabs, application=name); compute.append(time.perf_counter() - t0)
    out.update(one_ms=1000 * statistics.median(total), typing_ms=1000 * statistics.median(typing),
               compute_ms=1000 * statistics.median(compute), maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return out


def _run(data_dir: Path) -> dict:
    return run_worker(__file__, data_dir, what='feature benchmark')


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from ocr6_scoring.synth import synthesize, FULL_N_TRAIN
    n = 5_000 if quick else FULL_N_TRAIN
    size = 'quick (5,000 applicants)' if quick else 'full scale'
    with tempfile.TemporaryDirectory(prefix='bench_features_') as tmp:
        synthesize(Path(tmp)/'data', n_clients=n, seed=0, fmt='parquet', progress=False)
        r = _run(Path(tmp)/'data')
    gb = lambda b: round(b / 1e9, 2)
    child = sum(v for k, v in r['rows'].items() if not k.startswith('application'))
    return [
        {'benchmark': f'features fit+transform {size}', 'metric': 'wall time', 'value': round(r['fit_transform_s'], 1),
         'unit': 's', 'goal': '' if quick else '<= 60 s',
         'note': f"fit_transform on loaded tables: {r['shape'][0]:,} applicants x {r['shape'][1]} columns from "
                 f"{child:,} child rows (pandas + numpy group reductions, 1 core used)"},
        {'benchmark': f'features fit+transform {size}', 'metric': 'peak memory', 'value': gb(r['maxrss']), 'unit': 'GB',
         'goal': '' if quick else '<= 6 GB',
         'note': f"whole process incl. loading; load_tables alone peaks at {gb(r['load_maxrss'])} GB; "
                 f"RSS {gb(r['rss_before'])} GB before the feature step and at most {gb(r['feature_peak'])} GB during it "
                 f"(tables: {gb(r['table_bytes'])} GB, output: {gb(4 * r['shape'][0] * r['shape'][1])} GB)"},
        {'benchmark': f'features transform {size}', 'metric': 'wall time', 'value': round(r.get('transform_test_s', float('nan')), 1),
         'unit': 's', 'goal': '', 'note': f"transform of application_test ({r.get('n_test', 0):,} applicants) with all child tables"},
        {'benchmark': f'load_tables {size}', 'metric': 'wall time', 'value': round(r['load_s'], 1), 'unit': 's', 'goal': '',
         'note': 'Parquet folder -> typed frames (ocr6_scoring.data), reported apart from the feature step'},
        {'benchmark': f'features one applicant ({size} spec)', 'metric': 'median latency', 'value': round(r['one_ms'], 1),
         'unit': 'ms', 'goal': '<= 20 ms',
         'note': f"transform_records, median of {N_CALLS} calls over {N_APPLICANTS} applicants (median {r['child_rows']:.0f} "
                 f"child rows): typing the records (columns_from_records) {r['typing_ms']:.1f} ms + transform "
                 f"{r['compute_ms']:.1f} ms; bitwise equal to the batch rows: {r['bitwise_equal']}"},
    ]


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--worker': print(json.dumps(_worker(sys.argv[2])))
    else:
        for row in bench(quick='--quick' in sys.argv): print(row)
