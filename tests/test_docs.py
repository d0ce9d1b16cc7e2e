"""The demo pipeline end to end, as `make demo` runs it but non-interactive: `ocr6 demo --check --profile smoke` on small
synthetic data trains and registers a champion, writes the drift report, builds the docs (scripts/docs.py: the methodology
note and the slides executed with papermill, then rendered), starts the API, the dashboard and the MLflow UI on loopback,
checks that the API scores a client and stops them. The site is then checked: no error, every section, no 'nan', offline.

About two minutes on 2 cores."""
import dataclasses, html, json, re, subprocess, sys, time
from pathlib import Path
import pytest
from ocr6_scoring.cli import free_port

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT/'scripts'/'docs.py'
from ocr6_scoring.report import SECTIONS
from ocr6_scoring.site import count_slides, image_alts, slide_types
TINY = dict(n_iter=0, n_init=2, n_folds=2, n_estimators=60, population_rows=2000,
            search_space={'max_depth': (2, 4, 'int'), 'learning_rate': (0.1, 0.3, 'log')})
TIMINGS = {}

def docs(*args, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DOCS), *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)

def visible_text(page: str) -> str:
    "What a reader sees: no scripts, styles or tags."
    page = re.sub(r'<(script|style)\b.*?</\1>', ' ', page, flags=re.S | re.I)
    return html.unescape(re.sub(r'<[^>]+>', ' ', page))

def outputs(nb: dict):
    for i, c in enumerate(nb['cells']):
        for o in c.get('outputs', []): yield i, o

def _listening(port: int) -> bool:
    import socket
    with socket.socket() as s: return s.connect_ex(('127.0.0.1', port)) == 0

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    "`ocr6 demo --check` on synthetic data: champion registered by the demo, site built, services started, checked, stopped."
    import socket
    from conftest import ocr6
    from ocr6_scoring.synth import synthesize
    from ocr6_scoring.tracking import Bundle, bundle_path, _mlflow
    tmp = tmp_path_factory.mktemp('docs')
    t0 = time.perf_counter()
    synthesize(tmp/'data', n_clients=3000, drift=1, seed=0, progress=False)
    TIMINGS['synthetic data'] = time.perf_counter() - t0
    uri = f"sqlite:///{(tmp/'mlruns.db').as_posix()}"
    ports = []
    for _ in range(3):
        with socket.socket() as sk: sk.bind(('127.0.0.1', 0)); ports.append(sk.getsockname()[1])
    before = sorted(p.name for p in (ROOT/'nbs').iterdir())
    t0 = time.perf_counter()
    r = ocr6('demo', '--data-dir', tmp/'data', '--work-dir', tmp/'work', '--docs-out', tmp/'site', '--tracking-uri', uri,
             '--profile', 'smoke', '--check', '--quiet', '--api-port', ports[0], '--dashboard-port', ports[1],
             '--mlflow-port', ports[2], cwd=tmp, timeout=1200)
    TIMINGS['ocr6 demo --check'] = time.perf_counter() - t0
    print('\n' + '\n'.join(f'  {k:<32}{v:6.1f} s' for k, v in TIMINGS.items()))
    assert r.returncode == 0, f'ocr6 demo failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    b = Bundle.load(bundle_path(tracking_uri=uri))
    _, client, _ = _mlflow(uri)
    version = str(client.get_model_version_by_alias('ocr6-scorer', 'champion').version)
    return {'out': tmp/'site', 'proc': r, 'uri': uri, 'holdout': b.metrics['holdout'], 'version': version,
            'nbs_before': before, 'ports': ports, 'work': tmp/'work'}

def test_demo_answered_and_stopped(built):
    out = built['proc'].stdout
    for step in ('Training and registering a champion', 'Data drift', 'Building the docs', 'Starting the API'):
        assert step in out, out
    assert re.search(r'check: client \d+ -> probability [\d.]+, (granted|refused)', out), out
    assert (built['work']/'drift'/'drift_report.json').exists()
    assert not any(_listening(p) for p in built['ports']), 'a service still runs after the demo stopped'

def test_docs_in_the_background_after_the_services(built):
    "The services answer before the docs build starts; its progress is echoed, its log kept, its end announced."
    out = built['proc'].stdout
    assert out.index("Advisers' dashboard") < out.index('Building the docs') < out.index('docs: site ready:'), out
    assert re.search(r'^docs: configuration 1/5: ', out, re.M) and (built['work']/'docs.log').exists()

def test_readiness_started_no_kernel_but_the_preheated_one(built):
    n = int(re.search(r'check: dashboard kernels running: (\d+)', built['proc'].stdout).group(1))
    assert n <= 1, built['proc'].stdout

def test_warm_demo_reuses_and_reports_a_failed_docs_build(built, tmp_path):
    "Everything reused (champion, drift report); a docs build that fails is reported, and the services had answered first."
    from conftest import ocr6
    blocker = tmp_path/'not-a-folder'; blocker.write_text('x')  # the site cannot be written under a file
    ports = [free_port() for _ in range(3)]
    r = ocr6('demo', '--data-dir', built['out'].parent/'data', '--work-dir', built['work'], '--docs-out', blocker/'site',
             '--tracking-uri', built['uri'], '--profile', 'smoke', '--check', '--quiet', '--api-port', ports[0],
             '--dashboard-port', ports[1], '--mlflow-port', ports[2], cwd=tmp_path, timeout=600)
    assert r.returncode == 3, (r.returncode, r.stdout[-3000:], r.stderr[-2000:])
    assert 'Champion already registered' in r.stdout and 'report of this model on this data is reused' in r.stdout
    assert re.search(r'check: client \d+ -> probability', r.stdout) and re.search(r'^docs: failed \(exit \d+\)', r.stdout, re.M)
    assert r.stdout.index("Advisers' dashboard") < r.stdout.index('Building the docs') < r.stdout.index('docs: failed')

def test_progress_per_step(built):
    out = built['proc'].stdout
    for k in range(1, 7): assert f'{k}/6 ' in out, out
    assert 'Done:' in out

def test_executed_without_errors(built):
    for name in ('methodology', 'slides'):
        nb = json.loads((built['out']/f'{name}.ipynb').read_text())
        assert not nb['metadata']['papermill'].get('exception'), name
        errs = [(i, o.get('ename')) for i, o in outputs(nb) if o['output_type'] == 'error']
        stderr = [(i, ''.join(o['text'])[:200]) for i, o in outputs(nb) if o['output_type'] == 'stream' and o['name'] == 'stderr']
        assert not errs and not stderr, (name, errs, stderr)
        params = [c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])]
        assert params and built['uri'] in ''.join(params[0]['source'])  # run against this tracking store

def test_methodology_page(built):
    page = (built['out']/'methodology.html').read_text(encoding='utf-8')
    heads = {visible_text(h).replace('¶', '').strip() for h in re.findall(r'<h2\b[^>]*>.*?</h2>', page, re.S)}
    assert set(SECTIONS) <= heads, set(SECTIONS) - heads
    text = visible_text(page)
    assert not re.search(r'\bnan\b', text, re.I), re.search(r'.{60}\bnan\b.{60}', text, re.I | re.S)
    assert 'Traceback' not in text and not re.search(r'\b\w+Error:', text)
    # the numbers come from the champion's run: its version, its holdout metrics, the data's origin (derived)
    m = built['holdout']
    assert f"version {built['version']} of the registered model" in text
    for v in (m['auc'], m['business_cost'], m['brier'], m['ece']): assert f'{v:.3f}' in text
    assert f"{m['n']:,} applicants" in text and 'synthetic data' in text
    from ocr6_scoring.tracking import CONFIGURATIONS
    assert all(name in text for name in CONFIGURATIONS) and 'Not tracked yet' not in text  # the five configurations, from MLflow
    assert 'href="drift_report.html"' in page and (built['out']/'drift_report.html').exists()
    assert page.count('<img') >= 8  # cost curve, calibration, importance, beeswarm, decisions, fairness, drift, search
    assert 'import mlflow' not in text and 'explainer.contributions(' not in text  # the code is hidden

def test_slides_page(built):
    page = (built['out']/'slides.html').read_text(encoding='utf-8')
    n = count_slides(page)
    assert 10 <= n <= 15, n
    assert f'{n} slides' in built['proc'].stdout
    text = visible_text(page)
    assert not re.search(r'\bnan\b', text, re.I) and 'Traceback' not in text
    assert f"{built['holdout']['auc']:.3f}" in text
    assert '<script>' in page  # the viewer (reveal.js or the built-in one) is inlined

def test_note_and_slides_agree(built):
    "The note and the slides show the same numbers, those `report` computes for the champion (one computation for both)."
    from ocr6_scoring import report as rp
    ch = rp.load_champion(built['uri']).load_data()
    iv = rp.holdout_intervals(ch, seed=0)
    ct = rp.configurations(ch).set_index('configuration')
    best = ct.loc[list(rp.tk.CONFIGURATIONS), 'cost per client'].idxmin()
    q = rp.real_applicants()
    numbers = {'AUC interval': f'{iv.auc[0]:.3f}–{iv.auc[1]:.3f}', 'cost band': f'{iv.cost[0]:.3f}–{iv.cost[1]:.3f}',
               'holdout AUC': f"{ch.H['auc']:.3f}", 'holdout cost': f"{ch.H['business_cost']:.3f}",
               'threshold': f'{ch.thr:.3f}', 'ECE': f"{ch.H['ece']:.3f}", 'cheapest configuration': best,
               **({'real-data AUC': f"{q['models'].AUC.max():.3f}"} if q else {})}
    pages = {n: visible_text((built['out']/f'{n}.html').read_text(encoding='utf-8')) for n in ('methodology', 'slides')}
    missing = {n: [k for k, v in numbers.items() if v not in t] for n, t in pages.items()}
    assert missing == {'methodology': [], 'slides': []}, (missing, numbers)

DEFAULT_ALT = 'No description has been provided for this image'  # what nbconvert writes on an <img> without alt

def test_figures_have_specific_alt(built):
    "Every figure of the note and the slides says what it shows: no nbconvert default, no empty alt, no two alike."
    for name, least in (('methodology', 8), ('slides', 5)):
        alts = image_alts((built['out']/f'{name}.html').read_text(encoding='utf-8'))
        assert len(alts) >= least, (name, len(alts))
        bad = [a for a in alts if not a or not a.strip() or a == DEFAULT_ALT or len(a) < 40]
        assert not bad, (name, bad)
        assert len(set(alts)) == len(alts), (name, alts)

def test_pages_are_offline(built):
    from ocr6_scoring.drift import network_references
    pages = sorted(built['out'].glob('*.html'))
    assert len(pages) >= 4
    bad = {p.name: network_references(p.read_text(encoding='utf-8')) for p in pages}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}
    for p in ('methodology.html', 'slides.html'):
        assert not re.search(r'import\(\s*["\']https?:', (built['out']/p).read_text(encoding='utf-8'))  # no dynamic fetch

def test_index_links_everything(built):
    out = built['out']
    page = (out/'index.html').read_text(encoding='utf-8')
    links = set(re.findall(r'href="([^"#]+)"', page))
    assert {'methodology.html', 'slides.html', 'drift_report.html', 'overview.html'} <= links
    for nb in (ROOT/'nbs').glob('*.ipynb'):
        if nb.stem not in ('methodology', 'slides', 'index'): assert f'{nb.stem}.html' in links, nb.name
    missing = [l for l in links if not (out/l).exists()]
    assert not missing, missing

def test_nbs_untouched(built):
    "Executed copies go to the output folder, never into nbs/; the sources stay without outputs."
    assert sorted(p.name for p in (ROOT/'nbs').iterdir()) == built['nbs_before']
    for name in ('methodology', 'slides'):
        nb = json.loads((ROOT/'nbs'/f'{name}.ipynb').read_text())
        assert not any(c.get('outputs') for c in nb['cells']), name

def test_no_champion_is_a_clear_error(tmp_path):
    uri = f"sqlite:///{(tmp_path/'empty.db').as_posix()}"
    r = docs('--tracking-uri', uri, '--out', tmp_path/'site', timeout=120)
    assert r.returncode == 2, r.stderr
    assert 'ocr6 train' in r.stderr and f'--tracking-uri {uri}' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'site'/'index.html').exists()

@pytest.mark.parametrize('name', ['methodology', 'slides'])
def test_notebook_sources(name):
    "Papermill parameters, nbdev_test skipped (skip_exec front matter), the note's sections, the slides' metadata."
    nb = json.loads((ROOT/'nbs'/f'{name}.ipynb').read_text())
    assert nb['cells'][0]['cell_type'] == 'raw' and 'skip_exec: true' in ''.join(nb['cells'][0]['source'])
    tagged = [c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    assert len(tagged) == 1 and 'tracking_uri' in ''.join(tagged[0]['source'])
    if name == 'methodology':
        heads = [l[3:].strip() for c in nb['cells'] if c['cell_type'] == 'markdown'
                 for l in ''.join(c['source']).splitlines() if l.startswith('## ')]
        assert heads == list(SECTIONS)
    else:  # slides: `slideshow` metadata, or (when nbdev_clean stripped it) the headings, as site.slide_types reads them
        import nbformat
        node = nbformat.reads(json.dumps(nb), as_version=4)
        heads = [i for i, c in enumerate(node.cells) if c.cell_type == 'markdown' and re.match(r'#{1,2}\s', c.source)]
        starts = [i for i, t in enumerate(slide_types(node)) if t == 'slide']
        assert 10 <= len(starts) <= 15 and starts == heads, (starts, heads)
