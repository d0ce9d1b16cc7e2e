"""Benchmark of the synthetic data generator: wall time, peak memory and size of `synthesize`.

Full scale is Kaggle's size (307,511 training + 48,744 test applicants, about 58 million rows in
all): goal <= 3 minutes and <= 8 GB peak for Parquet on 2 cores. CSV has no time goal; it streams
chunk by chunk, so its memory should stay as low as Parquet's. Each run is a fresh child process
that reports its own peak resident set size (`ru_maxrss`), so one run cannot inflate another's.
`quick=True` runs the demo size instead.
"""
import json, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = '''
import json, resource, sys, time
sys.path.insert(0, {root!r})
from ocr6_scoring.synth import synthesize
t = time.perf_counter()
s = synthesize({out!r}, n_clients={n}, n_test={n_test}, fmt={fmt!r}, seed=0, progress=False)
print(json.dumps({{'seconds': time.perf_counter() - t, 'rows': sum(s['rows'].values()),
                  'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  'default_rate': s['default_rate'], 'oracle_auc': s['oracle_auc']}}))
'''


def _run(n: int, n_test: int, fmt: str) -> dict:
    "Generate one folder in a child process; its timings, peak memory and size on disk."
    with tempfile.TemporaryDirectory(prefix='bench_synth_') as tmp:
        out = Path(tmp)/'data'
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, '-c', _CHILD.format(root=str(ROOT), out=str(out), n=n, n_test=n_test, fmt=fmt)],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode: raise RuntimeError(f'synthesize failed ({fmt}, n={n}):\n{r.stderr[-3000:]}')
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res.update(wall=wall, bytes=sum(f.stat().st_size for f in out.iterdir()))
    return res


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from ocr6_scoring.synth import DEMO_N_CLIENTS, FULL_N_TRAIN, FULL_N_TEST, default_n_test
    n, n_test = (DEMO_N_CLIENTS, default_n_test(DEMO_N_CLIENTS)) if quick else (FULL_N_TRAIN, FULL_N_TEST)
    size = 'demo' if quick else 'full-scale'
    rows = []
    for fmt in ('parquet', 'csv'):
        r = _run(n, n_test, fmt)
        name = f'synth {size} {fmt}'
        what = (f'{n:,} + {n_test:,} applicants, {r["rows"]:,} rows; default rate {100 * r["default_rate"]:.1f} %, '
                f'oracle AUC {r["oracle_auc"]:.3f}')
        rows += [
            {'benchmark': name, 'metric': 'wall time', 'value': round(r['wall'], 1), 'unit': 's',
             'goal': '<= 180 s' if fmt == 'parquet' and not quick else '',
             'note': f'child process incl. imports ({r["seconds"]:.1f} s in synthesize); {what}'},
            {'benchmark': name, 'metric': 'peak memory', 'value': round(r['maxrss_kb'] / 1024 ** 2, 2), 'unit': 'GB',
             'goal': '' if quick else '<= 8 GB', 'note': 'peak RSS of the generating process (chunks of 25,000 applicants)'},
            {'benchmark': name, 'metric': 'size on disk', 'value': round(r['bytes'] / 1e6), 'unit': 'MB', 'goal': '',
             'note': '8 tables + data dictionary'},
        ]
    return rows


if __name__ == '__main__':
    quick = '--quick' in sys.argv[1:]
    for row in bench(quick=quick): print(row)
