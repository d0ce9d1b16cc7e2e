"""The advisers' dashboard in a real browser: shared by tests/test_browser.py and bench/bench_dashboard.py.

Starts the real API (`ocr6 serve`, or `python -m uvicorn api.app:app` until that sub-command exists) and
Voilà (`ocr6_scoring.dashboard.serve_dashboard`) on 127.0.0.1, then drives the page in Debian's
`chromium` with Playwright (`playwright install` cannot download browsers here). Every request the
page makes outside the loopback (Voilà's template links a CDN stylesheet) is aborted.
"""
from __future__ import annotations
import contextlib, importlib.util, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from statistics import median
from urllib.parse import urlparse
from ocr6_scoring.cli import free_port, stop_processes, wait_http, wait_until

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT/'tests'/'artifacts'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']
PANELS = ('header', 'gauge', 'info', 'similar', 'explanation', 'importance', 'comparison', 'bivariate')
CHARTS = ('gauge', 'explanation', 'importance', 'comparison', 'bivariate')


def missing() -> str|None:
    "Why the browser session cannot run here, or None when it can."
    if not (ROOT/'api'/'app.py').exists(): return 'api/app.py is absent: the API the dashboard calls is not written yet'
    if importlib.util.find_spec('ocr6_scoring.service') is None:
        return 'ocr6_scoring.service is absent (nbs/09_service.ipynb not exported yet): the API cannot start'
    if importlib.util.find_spec('playwright') is None: return 'the playwright package is not installed (pip install playwright)'
    if importlib.util.find_spec('voila') is None: return 'voila is not installed (pip install voila)'
    if not shutil.which('chromium'): return 'Debian chromium is not installed (apt-get install -y chromium)'
    return None


def _has_serve() -> list[str]|None:
    exe = shutil.which('ocr6', path=str(Path(sys.executable).parent))
    if exe and subprocess.run([exe, 'serve', '--help'], capture_output=True).returncode == 0: return [exe, 'serve']
    return None


@contextlib.contextmanager
def api_server(model_dir, data_dir, workdir, token: str|None=None, timeout: float=180):
    "The real API on a free loopback port; yields its base URL."
    port, workdir = free_port(), Path(workdir)
    env = {**os.environ, 'OCR6_MODEL_DIR': str(model_dir), 'OCR6_DATA_DIR': str(data_dir),
           'OCR6_DATABASE_URL': f"sqlite:///{workdir/'audit.db'}"}
    env.pop('OCR6_API_TOKEN', None)
    if token: env['OCR6_API_TOKEN'] = token
    serve = _has_serve()
    cmd = ([*serve, '--model', str(model_dir), '--data-dir', str(data_dir), '--host', '127.0.0.1', '--port', str(port)] if serve
           else [sys.executable, '-m', 'uvicorn', 'api.app:app', '--host', '127.0.0.1', '--port', str(port)])
    log = workdir/'api.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        wait_http(f'{url}/health', proc, log, 'the API', timeout)
        yield url
    finally: stop_processes(proc)


@contextlib.contextmanager
def dashboard_server(api_url: str, workdir, token: str|None=None, settle: float=8., timeout: float=120):
    "Voilà serving dashboards/advisor.ipynb on a free loopback port, its preheated kernel ready; yields the page URL."
    from ocr6_scoring.dashboard import serve_dashboard
    port, log = free_port(), Path(workdir)/'voila.log'
    proc = serve_dashboard(api_url, port, token, wait=False, log=log)
    try:
        wait_until(lambda: 'is filled with' in log.read_text(), proc, log, 'Voilà', timeout)
        time.sleep(settle)  # the preheated kernel runs the notebook (imports, App, first drawings) before an adviser arrives
        yield f'http://127.0.0.1:{port}/'
    finally: stop_processes(proc)


def _only_loopback(route):
    if urlparse(route.request.url).hostname in ('127.0.0.1', 'localhost'): route.continue_()
    else: route.abort()


def _rgb(css: str) -> str:
    r, g, b = (int(x) for x in re.findall(r'\d+', css)[:3])
    return f'#{r:02x}{g:02x}{b:02x}'


def _screenshot(page, path: Path, width: int):
    "The whole dashboard: Voilà scrolls inside its own container, so grow the viewport to the page's height first."
    h = page.evaluate("document.querySelector('.ocr6-app').scrollHeight")
    page.set_viewport_size({'width': width, 'height': int(h) + 200}); page.wait_for_timeout(200)
    page.locator('.ocr6-app').screenshot(path=str(path))
    page.set_viewport_size({'width': width, 'height': 900})


def browser_session(url: str, # the dashboard page
                    client_ids: list[int], # clients to show in turn (the first is checked in detail)
                    prefix: str|None=None, # typed to check the suggestions (default: the first id's first 4 digits)
                    what_if: dict|None=None, # field -> value typed in the what-if form (default: 10 x the income)
                    artifacts: Path|None=ARTIFACTS, # where screenshots go (None: none)
                    unknown_id: int=1) -> dict:
    "Drive the dashboard like an adviser; timings (seconds) and what the page showed."
    from playwright.sync_api import sync_playwright
    from ocr6_scoring.dashboard import contrast_ratio
    res: dict = {'switch_s': [], 'kernel_s': []}
    if artifacts: Path(artifacts).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix='ocr6-chromium-') as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=shutil.which('chromium'), args=CHROMIUM_ARGS,
                                                   headless=True, viewport={'width': 1280, 'height': 900})
        try:
            ctx.route('**/*', _only_loopback)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30_000)
            t = time.perf_counter()
            page.goto(url, wait_until='commit', timeout=60_000)
            page.wait_for_selector('.ocr6-importance img', state='visible', timeout=60_000)
            res['first_load_s'] = time.perf_counter() - t
            res['title'] = page.title()
            res['model_text'] = page.inner_text('.ocr6-model')

            page.fill('.ocr6-search input', prefix or str(client_ids[0])[:4])
            page.wait_for_function("document.querySelectorAll('.ocr6-search datalist option').length > 0")
            res['suggestions'] = page.eval_on_selector_all('.ocr6-search datalist option', 'os => os.map(o => o.value)')

            def show(cid):
                page.fill('.ocr6-search input', str(cid))
                t = time.perf_counter(); page.click('.ocr6-show')
                page.wait_for_selector(f'.ocr6-ready[data-client="{cid}"]')
                page.wait_for_function("Array.from(document.querySelectorAll('.ocr6-app img')).every(i => i.complete && i.naturalWidth > 0)")
                res['switch_s'].append(time.perf_counter() - t)
                m = re.search(r'drawn in ([\d.]+) s', page.inner_text('.ocr6-status'))
                if m: res['kernel_s'].append(float(m.group(1)))

            for cid in client_ids[1:] + client_ids[:1]: show(cid)  # the first id last: its panels are read below
            res['client_id'] = client_ids[0]
            res['panels'] = {p: page.inner_text(f'.ocr6-{p}') for p in PANELS}
            res['images'] = {p: page.eval_on_selector(f'.ocr6-{p} img', 'i => ({alt: i.alt, width: i.naturalWidth})') for p in CHARTS}
            res['message'] = page.inner_text('.ocr6-message')
            badge = page.eval_on_selector('.ocr6-header .ocr6-badge', 'b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]')
            res['badge_contrast'] = contrast_ratio(_rgb(badge[0]), _rgb(badge[1]))

            page.click('.ocr6-app button:has-text("Similar clients")')
            page.wait_for_function("(document.querySelector('.ocr6-comparison img') || {alt: ''}).alt.includes('similar clients')")
            res['comparison_similar'] = page.get_attribute('.ocr6-comparison img', 'alt')

            fields = what_if or {'AMT_INCOME_TOTAL': None}
            for col, v in fields.items():
                if v is None: v = 10 * float(page.input_value(f'.ocr6-wi-{col} input'))
                page.fill(f'.ocr6-wi-{col} input', f'{v:g}' if isinstance(v, float) else str(v))
            t = time.perf_counter(); page.click('.ocr6-rescore')
            page.wait_for_function("document.querySelector('.ocr6-whatif').innerText.includes('With the changes')")
            res['what_if_s'] = time.perf_counter() - t
            res['what_if_text'] = page.inner_text('.ocr6-whatif')
            if artifacts: _screenshot(page, Path(artifacts)/'dashboard.png', 1280)

            page.fill('.ocr6-search input', str(unknown_id)); page.click('.ocr6-show')
            page.wait_for_selector('.ocr6-message [role=alert]')
            res['error_text'] = page.inner_text('.ocr6-message')
            res['page_text'] = page.inner_text('body')

            page.set_viewport_size({'width': 640, 'height': 900})  # what 200 % zoom of a 1280 px window lays out
            page.wait_for_timeout(300)
            res['zoom_overflow'] = page.evaluate("""() => Array.from(document.querySelectorAll('.ocr6-app *'))
                .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > window.innerWidth + 1)
                .map(e => e.tagName + '.' + (e.className && e.className.baseVal === undefined ? e.className : '')).slice(0, 10)""")
            res['zoom_page_scroll'] = page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')
            if artifacts: _screenshot(page, Path(artifacts)/'dashboard_200pct.png', 640)
        finally: ctx.close()
    res['switch_median_s'] = median(res['switch_s']) if res['switch_s'] else None
    if artifacts: (Path(artifacts)/'dashboard_timings.json').write_text(json.dumps(
        {k: res[k] for k in ('first_load_s', 'switch_s', 'switch_median_s', 'kernel_s', 'what_if_s')}, indent=1))
    return res


def quick_bundle(data_dir, out) -> Path:
    "A model bundle trained quickly (tests and benchmarks, not quality): the same settings as tests/conftest.py."
    from ocr6_scoring.tracking import train_bundle, TrainConfig
    train_bundle(data_dir, out, TrainConfig(n_iter=1, n_init=2, n_folds=3, n_estimators=200), progress=False)
    return Path(out)


SAMPLE = (ROOT/'..'/'shared'/'data'/'home-credit-sample').resolve()


def clients_folder(sample_dir, out) -> Path:
    "A data folder whose application_test holds a training folder's applicants (no TARGET), with its child tables."
    import pandas as pd
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    pd.read_csv(Path(sample_dir)/'application_train.csv').drop(columns='TARGET').to_csv(out/'application_test.csv', index=False)
    for p in Path(sample_dir).glob('*.csv'):
        if p.name not in ('application_train.csv', 'application_test.csv'): shutil.copy(p, out/p.name)
    return out


def client_ids(data_dir, n: int) -> list[int]:
    "The first `n` SK_ID_CURR of a folder's application_test."
    import pandas as pd
    return [int(i) for i in pd.read_csv(Path(data_dir)/'application_test.csv', usecols=['SK_ID_CURR'], nrows=n).SK_ID_CURR]
