"""Run every benchmark in bench/bench_*.py and print one table.

Each module exposes `bench(quick: bool = False) -> list[dict]`; a row has the keys
benchmark, metric, value, unit, goal and note (baseline and ratio where there is one).
Timings are medians of repeated runs where the module says so; the machines are shared and noisy,
so ratios against a baseline run in the same process are the figures to trust. Each module runs in a
fresh Python process, so no benchmark inherits another's imports, heap or threads (a load generator
sharing a process with the 6 GB feature benchmark's leftovers measured its own pauses).

With `--out bench/RESULTS.md`, the rows of the modules just run replace their earlier rows in
bench/results.json (one entry per module: date, machine, rows); the modules not run keep theirs,
and RESULTS.md is rendered from all of them with the date each was measured. A module that fails
keeps its earlier rows and is named in the header.
"""
import argparse, importlib.util, json, subprocess, sys, time
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

def cpu_times() -> list[int]:
    "The machine's CPU time counters (/proc/stat: user ... steal), or [] off Linux."
    try: return [int(x) for x in open('/proc/stat').readline().split()[1:9]]
    except (OSError, ValueError): return []

def steal_share(before: list[int], after: list[int]) -> float|None:
    "Share of the machine's CPU time taken by the hypervisor for other guests (steal) between two `cpu_times`."
    if len(before) < 8 or len(after) < 8: return None
    d = [b - a for a, b in zip(before, after)]
    return d[7] / sum(d) if sum(d) else None

def table(rows: list[dict], cols=COLS) -> str:
    "Rows as a Markdown table with padded columns."
    cells = [[fmt(r.get(c, '')) for c in cols] for r in rows]
    w = [max([len(c)] + [len(t[i]) for t in cells]) for i, c in enumerate(cols)]
    lines = ['| ' + ' | '.join(c.ljust(w[i]) for i, c in enumerate(cols)) + ' |', '|' + '|'.join('-' * (x + 2) for x in w) + '|']
    return '\n'.join(lines + ['| ' + ' | '.join(v.ljust(w[i]) for i, v in enumerate(t)) + ' |' for t in cells])

def record(results: Path, ran: dict[str, list[dict]], failed: list[str], quick: bool, steal: dict|None=None) -> str:
    "Merge the modules just run into `results` (JSON) and return the Markdown of every module's rows."
    store = json.loads(results.read_text()) if results.exists() else {}
    for name, rows in ran.items():
        store[name] = {'date': time.strftime('%Y-%m-%d'), 'machine': machine(), 'quick': quick, 'rows': rows,
                       'cpu_steal': (steal or {}).get(name)}
    results.write_text(json.dumps(store, indent=1, default=float) + '\n')
    when = lambda e: (e['date'] + (' (quick)' if e.get('quick') else '')
                      + (f", steal {100 * e['cpu_steal']:.0f} %" if e.get('cpu_steal') is not None else ''))
    rows = [{**r, 'measured': when(e)} for _, e in sorted(store.items()) for r in e['rows']]
    machines = sorted({e['machine'] for e in store.values()})
    head = (f"Measured by `make bench` (`scripts/bench.py`), each module on the date in the last column, on {'; '.join(machines)}"
            + (f"; failed in the last run, earlier rows kept: {', '.join(failed)}" if failed else '') + '. '
            + "\"steal\" is the share of the machine's CPU time the hypervisor gave other guests while the module ran "
            "(/proc/stat): figures measured under a high steal are slower than the code.")
    return head + '\n\n' + table(rows, COLS + ['measured']) + '\n'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--quick', action='store_true', help='small sizes, to check the benchmarks run')
    ap.add_argument('--out', default=None, help='also record the rows (bench/results.json beside it) and render every module into this Markdown file')
    ap.add_argument('names', nargs='*', help='only these bench modules (e.g. synth features)')
    ap.add_argument('--one', default=None, help=argparse.SUPPRESS)  # child process: run this module, print its rows as JSON
    a = ap.parse_args(argv)
    if a.one:
        sys.path.insert(0, str(ROOT))
        print('\n' + json.dumps(load(Path(a.one)).bench(quick=a.quick), default=float)); return
    sys.path.insert(0, str(ROOT))
    files = sorted((ROOT/'bench').glob('bench_*.py'))
    if a.names:
        unknown = sorted(set(a.names) - {f.stem.removeprefix('bench_') for f in files})
        if unknown: sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; expected some of {', '.join(f.stem.removeprefix('bench_') for f in files)}")
        files = [f for f in files if f.stem.removeprefix('bench_') in a.names]
    ran, failed, steal = {}, [], {}
    for f in files:
        t0, c0 = time.perf_counter(), cpu_times(); print(f'running {f.name} ...', file=sys.stderr, flush=True)
        r = subprocess.run([sys.executable, __file__, '--one', str(f)] + (['--quick'] if a.quick else []), stdout=subprocess.PIPE, text=True)
        try:
            if r.returncode: raise ValueError(f'exit status {r.returncode}')
            ran[f.stem.removeprefix('bench_')] = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as e:
            failed.append(f.name); print(f'{f.name} failed ({e}); its output ends with:\n{r.stdout[-2000:]}', file=sys.stderr)
        steal[f.stem.removeprefix('bench_')] = st = steal_share(c0, cpu_times())
        print(f'  {f.name}: {time.perf_counter() - t0:.1f} s' + (f', CPU steal {100 * st:.0f} %' if st is not None else ''), file=sys.stderr)
    if not files: print('(no benchmarks yet)')
    print(table([r for rows in ran.values() for r in rows]))
    if a.out and (ran or failed):
        out = Path(a.out)
        out.write_text(record(out.with_name('results.json'), ran, failed, a.quick, steal))
    if failed: sys.exit(f'benchmarks failed: {", ".join(failed)}')

if __name__ == '__main__': main()
