"""Benchmark of the scoring API with several worker processes, the audit log on PostgreSQL.

`ocr6 serve --workers N` (N = 1, 2, 4) on 127.0.0.1 with the audit log on a throwaway PostgreSQL server
(ocr6_scoring.testing.ThrowawayPostgres, a new database per run), and the same server with one worker on
SQLite, the default, for comparison. The model and clients are those of bench_service (the real sample's
1,000 applicants; a small synthetic folder without it). Measured: GET /clients/{id}/score and
GET /clients/{id}/explanation at 16 and 64 concurrent keep-alive clients: p50, p99, requests/s, and the
server's CPU time per request (supervisor and workers, from /proc) and PostgreSQL's (postmaster and backends); the
resident memory of each worker. Runs start once every worker has loaded its clients (the server idle).

The load client (asyncio, ocr6_scoring.testing.Conn), PostgreSQL and the workers share the machine's 2 cores:
the figures say where more workers stop helping on such a machine, not what a larger one would do.
Every figure is the median of `repeats` runs (3; 1 with quick=True), interleaved over the series.
"""
import asyncio, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling bench_service: the same data, model and load runs
NAME = 'API workers'


def _idle(pid: int, timeout: float=300):
    "Until the server and its workers use under 5 % of a core over a second: /health answers as soon as one worker is up."
    from ocr6_scoring.testing import cpu_seconds
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c = cpu_seconds(pid); time.sleep(1)
        if cpu_seconds(pid) - c < 0.05: return
    raise RuntimeError(f'the server is still busy after {timeout} s')


def _series(port: int, ids: list[int], n: int, repeats: int, pid: int, db_pid: int|None) -> dict:
    "Medians over `repeats` of p50, p99, requests/s, server and database CPU ms per request, per (route, concurrency)."
    from bench_service import _run
    from ocr6_scoring.testing import cpu_seconds
    runs = {(route, conc): [] for route in ('score', 'explanation') for conc in (16, 64)}
    for r in range(repeats):
        for (route, conc), done in runs.items():
            req = [('GET', f'/clients/{ids[(r * 7919 + i * 613) % len(ids)]}/{route}', None) for i in range(n)]
            d0 = cpu_seconds(db_pid) if db_pid else 0.
            res = asyncio.run(_run(port, req, conc, warmup=2 * conc, pid=pid))
            done.append(res | {'db': 1e3 * ((cpu_seconds(db_pid) if db_pid else 0.) - d0) / (n + 2 * conc)})
    return {k: {s: statistics.median(x[s] for x in v) for s in ('p50', 'p99', 'rps', 'cpu', 'db')} for k, v in runs.items()}


def bench(quick: bool = False) -> list[dict]:
    import ocr6_scoring.testing as t
    from bench_service import _data, _bundle
    repeats, n = (1, 600) if quick else (3, 4000)
    configs = [('PostgreSQL', 1), ('PostgreSQL', 2), ('PostgreSQL', 4), ('SQLite', 1)]
    out, memory = {}, {}
    with tempfile.TemporaryDirectory(prefix='bench_workers_') as tmp, t.ThrowawayPostgres() as pg:
        tmp = Path(tmp)
        train, clients, what = _data(tmp)
        bundle = _bundle(train, tmp/'model')
        ids = t.client_ids(clients)
        for k, (db, workers) in enumerate(configs):
            url = pg.create_database(f'audit_{k}') if db == 'PostgreSQL' else tmp/f'audit_{k}.db'
            with t.api_server(bundle, clients, url, tmp/f'api_{k}.log', timeout=300, workers=workers) as (proc, port):
                _idle(proc.pid)  # every worker has loaded the clients
                print(f'{db}, {workers} worker(s): ready', file=sys.stderr, flush=True)
                out[db, workers] = _series(port, ids, n, repeats, proc.pid, pg.proc.pid if db == 'PostgreSQL' else None)
                rss = t.rss_mb(proc.pid)
                spawned = [p for p in rss if b'spawn_main' in Path(f'/proc/{p}/cmdline').read_bytes()]  # uvicorn's workers
                memory[db, workers] = [rss[p] for p in spawned] or [rss[proc.pid]]  # one worker: the server process itself
            assert len(t.audit_rows(url)) >= n * 4 * repeats, 'the audit log misses decisions'
    rows, base = [], out['PostgreSQL', 1]
    for (db, workers), res in out.items():
        for (route, conc), m in res.items():
            ratio = m['rps'] / base[route, conc]['rps']
            rows.append({'benchmark': f'{NAME} GET /clients/{{id}}/{route}', 'metric': f'{db}, {workers} worker{"s" * (workers > 1)}, {conc} clients',
                         'value': round(m['rps']), 'unit': 'req/s', 'goal': '',
                         'note': f"p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms, server CPU {m['cpu']:.2f} ms/request" + (f", PostgreSQL CPU {m['db']:.2f} ms/request" if db == 'PostgreSQL' else '') + "; "
                                 f"{ratio:.2f}x the throughput of 1 worker on PostgreSQL; median of {repeats} runs of {n:,} requests"})
        mem = memory[db, workers]
        rows.append({'benchmark': NAME, 'metric': f'{db}, {workers} worker{"s" * (workers > 1)}: memory per worker', 'value': round(statistics.median(mem)),
                     'unit': 'MB', 'goal': '', 'note': f"resident memory after the runs ({', '.join(f'{v:.0f}' for v in mem)} MB); {what}; "
                                                      'each worker loads the bundle and featurises the clients itself'})
    return rows


if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    for row in bench(quick='--quick' in sys.argv[1:]): print(row)
