"""Run every benchmark in bench/bench_*.py and print one table.

Each module exposes `bench(quick: bool = False) -> list[dict]`; a row has the keys
benchmark, metric, value, unit, goal and note (baseline and ratio where there is one).
Timings are medians of repeated runs where the module says so; the machines are shared and noisy,
so ratios against a baseline run in the same process are the figures to trust.
"""
import argparse, importlib.util, sys, time, traceback
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

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--quick', action='store_true', help='small sizes, to check the benchmarks run')
    ap.add_argument('--out', default=None, help='also write the table, with the date and the machine, to this Markdown file')
    ap.add_argument('names', nargs='*', help='only these bench modules (e.g. synth features)')
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    files = sorted((ROOT/'bench').glob('bench_*.py'))
    if a.names: files = [f for f in files if f.stem.removeprefix('bench_') in a.names]
    rows, failed = [], []
    for f in files:
        t0 = time.perf_counter(); print(f'running {f.name} ...', file=sys.stderr, flush=True)
        try: rows += load(f).bench(quick=a.quick)
        except Exception: failed.append(f.name); traceback.print_exc()
        print(f'  {f.name}: {time.perf_counter() - t0:.1f} s', file=sys.stderr)
    if not files: print('(no benchmarks yet)')
    table = [[fmt(r.get(c, '')) for c in COLS] for r in rows]
    w = [max([len(c)] + [len(t[i]) for t in table]) for i, c in enumerate(COLS)]
    lines = ['| ' + ' | '.join(c.ljust(w[i]) for i, c in enumerate(COLS)) + ' |', '|' + '|'.join('-' * (x + 2) for x in w) + '|']
    lines += ['| ' + ' | '.join(v.ljust(w[i]) for i, v in enumerate(t)) + ' |' for t in table]
    print('\n'.join(lines))
    if a.out and rows:
        Path(a.out).write_text(f'Measured by `make bench{" QUICK=1" if a.quick else ""}` on {time.strftime("%Y-%m-%d")}, '
                               f'{machine()}{" (failed: " + ", ".join(failed) + ")" if failed else ""}.\n\n' + '\n'.join(lines) + '\n')
    if failed: sys.exit(f'benchmarks failed: {", ".join(failed)}')

if __name__ == '__main__': main()
