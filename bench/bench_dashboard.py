"""Benchmark of the advisers' dashboard in a real browser: first load and client switch.

The same browser session as tests/test_browser.py (ocr6_scoring.testing.browser_session): the real API
(`ocr6 serve`, or uvicorn on api.app) on a model trained quickly on the real sample (or, without it,
on a small synthetic folder), Voilà with a preheated kernel, Debian's chromium driven by Playwright,
everything on 127.0.0.1. Goals (issue 10): first load <= 5 s, a client switch to all panels drawn
<= 1.5 s. Rows are skipped with a note when the API, chromium or Playwright is missing.
"""
import sys, tempfile
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling bench_service: the same data and model
NAME = 'dashboard (browser)'
GOALS = {'first load': '<= 5 s', 'client switch (median)': '<= 1.5 s', 'client switch (max)': '<= 1.5 s'}


def _skipped(reason: str) -> list[dict]:
    return [{'benchmark': NAME, 'metric': m, 'value': '', 'unit': 's', 'goal': g, 'note': f'skipped: {reason}'} for m, g in GOALS.items()]


def bench(quick: bool = False) -> list[dict]:
    import ocr6_scoring.testing as h
    from bench_service import SAMPLE, _bundle
    if (reason := h.browser_missing()): return _skipped(reason)
    n = 4 if quick else 11
    with tempfile.TemporaryDirectory(prefix='bench_dashboard_') as tmp:
        tmp = Path(tmp)
        if (SAMPLE/'application_train.csv').exists():
            train, data, what = SAMPLE, h.clients_folder(SAMPLE, tmp/'clients'), 'real sample (1,000 applicants)'
        else:
            from ocr6_scoring.synth import synthesize
            synthesize(tmp/'synth', n_clients=2_000, n_test=200, progress=False)
            train, data, what = tmp/'synth', tmp/'synth', 'synthetic folder (2,000 applicants; real sample absent)'
        bundle = _bundle(train, tmp/'model')
        ids = h.client_ids(data, n)
        with h.api_server(bundle, data, tmp/'audit.db', tmp/'api.log', token='bench-token', workers=1) as (_, port), \
             h.dashboard_server(f'http://127.0.0.1:{port}', tmp, token='bench-token') as url:
            r = h.browser_session(url, ids, artifacts=None)
    sw, k = r['switch_s'], r['kernel_s']
    note = f'{what}; API and Voilà on loopback, headless chromium'
    return [
        {'benchmark': NAME, 'metric': 'first load', 'value': round(r['first_load_s'], 2), 'unit': 's', 'goal': GOALS['first load'],
         'note': f'navigation to the dashboard usable (model summary and importance chart drawn), preheated kernel; {note}'},
        {'benchmark': NAME, 'metric': 'client switch (median)', 'value': round(median(sw), 2), 'unit': 's',
         'goal': GOALS['client switch (median)'],
         'note': f'{len(sw)} switches, click to all panels drawn; of which the kernel (API calls + charts) {median(k):.2f} s'},
        {'benchmark': NAME, 'metric': 'client switch (max)', 'value': round(max(sw), 2), 'unit': 's',
         'goal': GOALS['client switch (max)'], 'note': 'slowest switch (includes the first one of the kernel)'},
        {'benchmark': NAME, 'metric': 'what-if re-score', 'value': round(r['what_if_s'], 2), 'unit': 's', 'goal': '',
         'note': 'click to the before/after table drawn'},
    ]


if __name__ == '__main__':
    for row in bench(quick='--quick' in sys.argv[1:]): print(row)
