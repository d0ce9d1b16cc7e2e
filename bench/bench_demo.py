"""First run in minutes: how long `ocr6 demo` (what `make demo` runs once the package is installed) takes until the
API, the dashboard and the MLflow UI all answer, cold and warm, and whether it still starts on a loaded machine.

- cold (3 runs, median): a new empty folder, so the demo generates its synthetic data, trains and registers its
  champion, writes the drift report, then starts the three services; the clock stops when all three answer (the
  demo prints their addresses then, and this benchmark checks each address itself). Goal: at most 5 minutes on an
  idle 2-core machine. The champion's holdout AUC is recorded beside it (the demo data's champion, 0.777, is the
  reference: within 0.01).
- background: after the services are up the demo tracks the five configurations of the note and builds the docs in
  the background; the time until it prints that the site is ready is recorded (no goal: nobody waits for it).
- Ctrl-C: SIGINT once the services answer; the time until the demo has exited with every service stopped (goal <= 5 s).
- warm (the same folder again, everything reused): goal at most 45 s.
- loaded: `ocr6 demo --check` on the warm folder while 6 busy processes keep the load average of 2 cores above 6.

Each run is a child process group started from a fresh folder under /tmp; `quick=True` uses 3,000 synthetic
applicants and the smoke profile (a smoke test of the benchmark, not a figure).
"""
import os, re, signal, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = 'first run (ocr6 demo)'
READY = re.compile(r"^\s+MLflow UI\s+(http://\S+)")  # the last address line: printed once the three services answer
ADDRESS = re.compile(r"^\s+(API \(OpenAPI docs\)|Advisers' dashboard|MLflow UI)\s+(http://\S+)")
AUC = re.compile(r'holdout AUC ([\d.]+)')
DOCS = re.compile(r'^docs: (site ready|failed)')

def _ports() -> list[int]:
    out = []
    for _ in range(3):
        with socket.socket() as s: s.bind(('127.0.0.1', 0)); out.append(s.getsockname()[1])
    return out

def _answers(url: str, name: str) -> bool:
    "The service behind `url` answers; the dashboard is asked for a static file (its page would start a kernel)."
    import httpx
    from ocr6_scoring.dashboard import READY_PATH
    if 'dashboard' in name: url = url.rstrip('/') + READY_PATH
    try: return httpx.get(url, timeout=5).status_code < 500
    except httpx.HTTPError: return False

def _as_in_a_terminal():
    "SIGINT as a terminal's Ctrl-C delivers it (a benchmark started in the background inherits it ignored)."
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def demo(cwd: Path, *extra, docs_wait: float=0, interrupt: bool=True, timeout: float=1800) -> dict:
    "Run `ocr6 demo` in `cwd`; seconds to ready (all three answering), AUC, docs time, seconds from SIGINT to exit."
    exe = Path(sys.executable).with_name('ocr6')
    p = subprocess.Popen([str(exe), 'demo', '--quiet', *map(str, extra), *sum(zip(('--api-port', '--dashboard-port', '--mlflow-port'),
                          map(str, _ports())), ())], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True, preexec_fn=_as_in_a_terminal)
    t0, res, lines, urls = time.perf_counter(), {}, [], {}
    def read():
        for line in p.stdout:
            lines.append(line)
            if m := ADDRESS.match(line): urls[m.group(1)] = m.group(2)
            if m := AUC.search(line): res['auc'] = float(m.group(1))
            if READY.match(line): res['ready'] = time.perf_counter() - t0
            if m := DOCS.match(line): res['docs'] = (m.group(1), time.perf_counter() - t0)
    reader = threading.Thread(target=read, daemon=True); reader.start()
    try:
        while 'ready' not in res and p.poll() is None and time.perf_counter() - t0 < timeout: time.sleep(0.2)
        if 'ready' not in res: raise RuntimeError(f"demo not ready (exit {p.poll()}):\n{''.join(lines[-40:])}")
        res['answering'] = all(_answers(u, n) for n, u in urls.items()) and len(urls) == 3
        while docs_wait and 'docs' not in res and p.poll() is None and time.perf_counter() - t0 < docs_wait: time.sleep(1)
        if interrupt and p.poll() is None:
            t1 = time.perf_counter(); os.killpg(p.pid, signal.SIGINT)
            p.wait(60); res['stop'] = time.perf_counter() - t1
            res['stopped'] = not any(_answers(u, n) for n, u in urls.items())
        else: p.wait(timeout)
    finally:
        if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait()
        reader.join(5)
    res['exit'], res['log'] = p.returncode, ''.join(lines)
    return res

def _hog(n: int) -> list[subprocess.Popen]:
    "n busy processes (a CPU hog): the load average of 2 cores climbs above n after a minute."
    return [subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True) for _ in range(n)]

def _load() -> str:
    return '/'.join(f'{x:.1f}' for x in os.getloadavg())

def bench(quick: bool = False) -> list[dict]:
    small = ('--n-clients', '3000', '--profile', 'smoke') if quick else ()
    cold, rows = [], []
    with tempfile.TemporaryDirectory(prefix='bench_demo_') as tmp:
        for i in range(1 if quick else 3):
            d = Path(tmp)/f'cold{i}'; d.mkdir()
            load0 = _load()
            r = demo(d, *small, docs_wait=3600 if i == 0 else 0)
            r['load'] = f'{load0} -> {_load()}'
            cold.append(r)
        warm = [demo(Path(tmp)/'cold0', *small) for _ in range(1 if quick else 3)]
        hogs = _hog(6)
        try:
            time.sleep(5 if quick else 60)
            load_h = _load()
            t = time.perf_counter()
            h = subprocess.run([str(Path(sys.executable).with_name('ocr6')), 'demo', '--check', '--quiet', *small,
                                *sum(zip(('--api-port', '--dashboard-port', '--mlflow-port'), map(str, _ports())), ())],
                               cwd=Path(tmp)/'cold0', capture_output=True, text=True, timeout=1800)
            hog_s, load_h = time.perf_counter() - t, f'{load_h} -> {_load()}'
        finally:
            for q in hogs: q.kill(); q.wait()
    med = lambda k, rs: statistics.median(r[k] for r in rs)
    note = lambda rs: '; '.join(f"{r[k]:.0f} s" for r in rs for k in ('ready',))
    rows.append(dict(benchmark=BENCH, metric='cold: ready (median)', value=med('ready', cold), unit='s', goal='<= 300 s',
                     note=f"{len(cold)} runs from an empty folder (data, training, drift, services): {note(cold)}; load average "
                          f"{', '.join(r['load'] for r in cold)}; all three answering: {all(r['answering'] for r in cold)}"))
    aucs = [r.get('auc') for r in cold if r.get('auc') is not None]
    rows.append(dict(benchmark=BENCH, metric='cold: champion holdout AUC', value=statistics.median(aucs) if aucs else float('nan'),
                     unit='', goal='0.777 +/- 0.01', note=', '.join(f'{a:.3f}' for a in aucs)))
    d = cold[0].get('docs')
    rows.append(dict(benchmark=BENCH, metric='background: configurations + docs', value=d[1] if d else float('nan'), unit='s',
                     goal='', note=f"from the start of the first cold run to 'docs: {d[0] if d else 'not finished'}'; the services answer meanwhile"))
    rows.append(dict(benchmark=BENCH, metric='Ctrl-C to stopped (max)', value=max(r['stop'] for r in cold + warm), unit='s',
                     goal='<= 5 s', note=f"SIGINT once ready; per run (cold, then warm): {', '.join(format(r['stop'], '.1f') for r in cold + warm)} s; every service stopped: {all(r['stopped'] for r in cold + warm)}; "
                                         f"exit codes {sorted({r['exit'] for r in cold + warm})}"))
    rows.append(dict(benchmark=BENCH, metric='warm: ready (median)', value=med('ready', warm), unit='s', goal='<= 45 s',
                     note=f"{len(warm)} runs, everything reused: {note(warm)}"))
    rows.append(dict(benchmark=BENCH, metric='loaded: demo --check', value=hog_s, unit='s', goal='passes at load >= 6',
                     note=f"exit {h.returncode} beside 6 busy processes on {os.cpu_count()} cores; load average {load_h}"
                          + ('' if h.returncode == 0 else f"; {h.stdout[-300:]} {h.stderr[-300:]}")))
    return rows

if __name__ == '__main__':
    import json
    for r in bench(quick='--quick' in sys.argv): print(json.dumps(r))
