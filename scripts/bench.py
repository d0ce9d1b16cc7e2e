"""Run every benchmark in bench/bench_*.py and print one table.

Each module exposes `bench(quick: bool = False) -> list[dict]`; a row has the keys
benchmark, metric, value, unit, goal and note (baseline and ratio where there is one).
Timings are medians of repeated runs where the module says so; the machines are shared and noisy,
so ratios against a baseline run in the same process are the figures to trust.

With `--out bench/RESULTS.md`, the rows of the modules just run replace their earlier rows in
bench/results.json (one entry per module: date, machine, rows); the modules not run keep theirs,
and RESULTS.md is rendered from all of them with the date each was measured. A module that fails
keeps its earlier rows and is named in the header.
"""
import argparse, importlib.util, json, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLS = ['benchmark', 'metric', 'value', 'unit', 'goal', 'note']

def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def fmt(v):
    return f'{v:,.3g}' if isinstance(v, float) and abs(v) < 1e4 else (f'{v:,.0f}' if isinstance(v, float) else str(v))

def machine() -> str:
    "Cores, memory and Python of this machine, for the record."
    import os, platform
    try: mem = int(open('/proc/meminfo').read().split()[1]) / 1024**2
    except (OSError, ValueError, IndexError): mem = float('nan')
    return f'{os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}'

def table(rows: list[dict], cols=COLS) -> str:
    "Rows as a Markdown table with padded columns."
    cells = [[fmt(r.get(c, '')) for c in cols] for r in rows]
    w = [max([len(c)] + [len(t[i]) for t in cells]) for i, c in enumerate(cols)]
    lines = ['| ' + ' | '.join(c.ljust(w[i]) for i, c in enumerate(cols)) + ' |', '|' + '|'.join('-' * (x + 2) for x in w) + '|']
    return '\n'.join(lines + ['| ' + ' | '.join(v.ljust(w[i]) for i, v in enumerate(t)) + ' |' for t in cells])

def record(results: Path, ran: dict[str, list[dict]], failed: list[str], quick: bool) -> str:
    "Merge the modules just run into `results` (JSON) and return the Markdown of every module's rows."
    store = json.loads(results.read_text()) if results.exists() else {}
    for name, rows in ran.items():
        store[name] = {'date': time.strftime('%Y-%m-%d'), 'machine': machine(), 'quick': quick, 'rows': rows}
    results.write_text(json.dumps(store, indent=1, default=float) + '\n')
    rows = [{**r, 'measured': e['date'] + (' (quick)' if e.get('quick') else '')} for _, e in sorted(store.items()) for r in e['rows']]
    machines = sorted({e['machine'] for e in store.values()})
    head = (f"Measured by `make bench` (`scripts/bench.py`), each module on the date in the last column, on {'; '.join(machines)}"
            + (f"; failed in the last run, earlier rows kept: {', '.join(failed)}" if failed else '') + '.')
    return head + '\n\n' + table(rows, COLS + ['measured']) + '\n'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--quick', action='store_true', help='small sizes, to check the benchmarks run')
    ap.add_argument('--out', default=None, help='also record the rows (bench/results.json beside it) and render every module into this Markdown file')
    ap.add_argument('names', nargs='*', help='only these bench modules (e.g. synth features)')
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    files = sorted((ROOT/'bench').glob('bench_*.py'))
    if a.names:
        unknown = sorted(set(a.names) - {f.stem.removeprefix('bench_') for f in files})
        if unknown: sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; expected some of {', '.join(f.stem.removeprefix('bench_') for f in files)}")
        files = [f for f in files if f.stem.removeprefix('bench_') in a.names]
    ran, failed = {}, []
    for f in files:
        t0 = time.perf_counter(); print(f'running {f.name} ...', file=sys.stderr, flush=True)
        try: ran[f.stem.removeprefix('bench_')] = load(f).bench(quick=a.quick)
        except Exception: failed.append(f.name); traceback.print_exc()
        print(f'  {f.name}: {time.perf_counter() - t0:.1f} s', file=sys.stderr)
    if not files: print('(no benchmarks yet)')
    print(table([r for rows in ran.values() for r in rows]))
    if a.out and (ran or failed):
        out = Path(a.out)
        out.write_text(record(out.with_name('results.json'), ran, failed, a.quick))
    if failed: sys.exit(f'benchmarks failed: {", ".join(failed)}')

if __name__ == '__main__': main()
