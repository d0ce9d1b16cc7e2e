"""Benchmark of the counter-offers (issue 23, part 2): latency of `Service.counter_offers` per refused client.

On a model trained quickly on the real sample (the settings of tests/conftest.py, as bench_service) whose 1,000 applicants
are the clients; without the sample, on a small synthetic folder. Every refused client is asked for k=3 offers, in-process
(the audit row committed to a SQLite file included, as the route does), `repeats` passes over them; the latency of a client
is the median of its passes. Goal (issue 23): p50 <= 200 ms per client.

The baseline, in the same process on a few of those clients: the same grid scored one candidate at a time through the
what-if path (`Service.what_if_probabilities` with one override per call: a featurisation and a prediction per candidate),
which is what the counter-offers would cost without scoring the grid in one batch. The machines are shared: the ratio is the
figure to trust; the note gives the load average at the start and the end (RESULTS.md adds the CPU steal of the run).
"""
import os, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
NAME = 'counter-offers'


def _load_average() -> str:
    try: return '/'.join(f'{v:.1f}' for v in os.getloadavg())
    except OSError: return 'unknown'


def _one_by_one(svc, cid: int) -> float:
    "Seconds to score the client's grid one candidate per call of the what-if path (the baseline)."
    from ocr6_scoring.offers import Bounds, candidates, overrides, plausible
    app = svc.client(cid)['application']
    t = time.perf_counter()
    g = plausible(candidates(app, Bounds()), svc.ranges)
    for r in g.to_dict('records'): svc.what_if_probabilities(cid, [overrides(app, r)])
    return time.perf_counter() - t


def bench(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from bench_service import _bundle, _data
    from ocr6_scoring.service import Service
    repeats, n_naive = (1, 2) if quick else (3, 3)
    load0 = _load_average()
    with tempfile.TemporaryDirectory(prefix='bench_offers_') as tmp:
        tmp = Path(tmp)
        train, clients, what = _data(tmp)
        svc = Service(_bundle(train, tmp/'model'), clients, f"sqlite:///{tmp/'audit.db'}")
        svc._filler.join()  # the start-up thread (TreeSHAP of every client) done: it would share the core with the timings
        refused = [int(i) for i in svc.ids if svc._known_score(i)['decision'] == 'refused']
        if quick: refused = refused[:30]
        svc.counter_offers(refused[0])  # warm-up (first featurisation, first prediction)
        runs = {cid: [] for cid in refused}
        for _ in range(repeats):
            for cid in refused:
                t = time.perf_counter(); a = svc.counter_offers(cid, k=3); runs[cid].append(time.perf_counter() - t)
        answers = {cid: svc.counter_offers(cid, k=3) for cid in refused}
        lat = sorted(1e3 * statistics.median(v) for v in runs.values())
        naive_ids = refused[:n_naive]
        naive = [1e3 * _one_by_one(svc, cid) for cid in naive_ids]
        ours = [1e3 * statistics.median(runs[cid]) for cid in naive_ids]
        svc.audit.close()
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
    found = sum(bool(a['offers']) for a in answers.values())
    grid = statistics.median(a['candidates'] for a in answers.values())
    env = (f'{what}; {len(refused)} refused clients x {repeats} passes, k=3, in-process with the SQLite audit commit; '
           f'load average {load0} at the start, {_load_average()} at the end')
    return [
        {'benchmark': NAME, 'metric': 'p50 per refused client', 'value': round(q(0.5), 1), 'unit': 'ms', 'goal': '<= 200 ms',
         'note': f'{env}; median grid {grid:.0f} candidates scored in one batch'},
        {'benchmark': NAME, 'metric': 'p99 per refused client', 'value': round(q(0.99), 1), 'unit': 'ms', 'goal': '',
         'note': f'slowest {lat[-1]:.0f} ms'},
        {'benchmark': NAME, 'metric': 'speed-up of the batched grid', 'value': round(statistics.median(n / o for n, o in zip(naive, ours)), 1),
         'unit': 'x', 'goal': '',
         'note': f'the same grid one candidate per what-if call: median {statistics.median(naive):,.0f} ms vs {statistics.median(ours):.0f} ms '
                 f'batched, on {len(naive_ids)} clients'},
        {'benchmark': NAME, 'metric': 'refused clients with an offer', 'value': round(100 * found / len(answers), 1), 'unit': '%', 'goal': '',
         'note': f'{found} of {len(answers)}; the others get an empty list and the reason (bounds: offers.Bounds defaults)'},
    ]


if __name__ == '__main__':
    for row in bench(quick='--quick' in sys.argv[1:]): print(row)
