"""Build the documentation site (what `make docs` runs): the methodology note and the slides executed against the
champion of the MLflow registry, the API reference pages, the data-drift report and an index, all in one folder.

    python scripts/docs.py [--tracking-uri URI] [--data-dir DIR] [--current-dir DIR] [--out _docs]

Steps, each printed with its duration:
1. find the champion (`--tracking-uri`, else $OCR6_TRACKING_URI, else sqlite:///mlruns.db here);
2. execute nbs/methodology.ipynb with papermill into OUT/ (it also writes OUT/drift_report.html and .json);
3. execute nbs/slides.ipynb with papermill into OUT/ (it reuses that drift report);
4. check the executed notebooks: no error output, every section of the note present;
5. render: with Quarto when `quarto` is on PATH (nbdev_proc_nbs + quarto render, for the API pages), and in every case
   `nbconvert` HTML of the two executed notebooks (code hidden) and, without Quarto, of the other nbs/*.ipynb as
   they are (not executed), plus the slides as a single self-contained reveal.js page;
6. write OUT/index.html linking everything.
Executed copies go to OUT/, never into nbs/. Every page works offline: nothing is fetched from a CDN.
"""
from __future__ import annotations
import argparse, configparser, html, importlib.util, json, os, re, shutil, subprocess, sys, tempfile, time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
EXECUTED = ('methodology', 'slides')  # executed against the champion; every other nbs/*.ipynb is rendered as it is
RENAMED = {'index': 'overview'}  # nbs/index.ipynb (the README) becomes overview.html: index.html is the site's hub

class DocsError(RuntimeError):
    "A step of the build failed; the message says what to do."

_T0 = time.perf_counter()
def step(msg: str): print(f"[{time.perf_counter() - _T0:6.1f}s] {msg}", flush=True)

# ---- 1. the champion

def find_champion(uri: str, name: str, alias: str) -> dict:
    "Registry facts of the champion, or a DocsError telling how to make one."
    import logging
    logging.getLogger('mlflow').setLevel(logging.ERROR); logging.getLogger('alembic').setLevel(logging.ERROR)
    from ocr6_scoring.tracking import bundle_path
    from ocr6_scoring.model import BundleError
    if uri.startswith('sqlite:///') and not Path(uri.removeprefix('sqlite:///')).exists():
        demo = Path('runs/demo/mlruns.db').resolve()
        hint = f" (`ocr6 demo` keeps its registry in {demo}: --tracking-uri sqlite:///{demo})" if demo.exists() else ''
        raise DocsError(f"no MLflow database at {uri}: run `ocr6 train --data-dir DIR --out MODEL_DIR --tracking-uri {uri}` "
                        f"first{hint}")
    try: bundle = bundle_path(name, alias, uri)
    except BundleError as e:
        raise DocsError(f"{e}: run `ocr6 train --data-dir DIR --out MODEL_DIR --tracking-uri {uri}` first "
                        f"(it registers the first model as {alias!r})") from None
    import mlflow
    c = mlflow.MlflowClient(uri)
    mv = c.get_model_version_by_alias(name, alias)
    run = c.get_run(mv.run_id)
    return {'uri': uri, 'name': name, 'alias': alias, 'version': mv.version, 'run_id': mv.run_id, 'bundle': str(bundle),
            'data_dir': run.data.tags.get('ocr6.data_dir'), 'data_digest': run.data.tags.get('ocr6.data_digest'),
            'config': {k: v for k, v in run.data.params.items()}, 'experiment_id': run.info.experiment_id}

# ---- 2-3. execution

def execute(name: str, out: Path, params: dict, timeout: int) -> Path:
    "Run nbs/NAME.ipynb with papermill into OUT/NAME.ipynb (cwd OUT); a DocsError names the failing cell."
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    dest = out/f'{name}.ipynb'
    try:
        pm.execute_notebook(str(NBS/f'{name}.ipynb'), str(dest), parameters=params, kernel_name='python3', cwd=str(out),
                            progress_bar=False, log_output=False, execution_timeout=timeout,
                            extra_arguments=['--IPKernelApp.log_level=ERROR'])  # no 'TCP without encryption' warning
    except PapermillExecutionError as e:
        raise DocsError(f"nbs/{name}.ipynb failed in cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                        f"(the executed copy with the traceback: {dest})") from None
    return dest

# ---- 4. checks

def problems(path: Path, sections=()) -> list[str]:
    "What is wrong with an executed notebook: error outputs, tracebacks, 'nan' shown to readers, figures without alt text, missing sections."
    nb = json.loads(path.read_text(encoding='utf-8'))
    found, out = set(), []
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'markdown':
            found |= {m.strip() for m in re.findall(r'^##\s+(.+)$', ''.join(c['source']), re.M)}
        for o in c.get('outputs', []):
            if o['output_type'] == 'error': out.append(f"cell {i}: {o['ename']}: {o['evalue']}")
            text = ''.join(o.get('text', '')) + ''.join(''.join(v) for k, v in o.get('data', {}).items()
                                                       if k in ('text/plain', 'text/markdown', 'text/html'))
            if 'Traceback' in text: out.append(f'cell {i}: a traceback is printed')
            if any(k.startswith('image/') and not str(o.get('metadata', {}).get(k, {}).get('alt') or '').strip() for k in o.get('data', {})):
                out.append(f'cell {i}: a figure has no alt text (figure(fig, alt))')
            if re.search(r'\bnan\b', re.sub(r'<[^>]+>', ' ', text), re.I): out.append(f"cell {i}: shows 'nan'")
    out += [f'section "## {s}" is missing' for s in sections if s not in found]
    return out

# ---- 5. rendering (offline nbconvert templates)

_ALT = r"""
{#- a figure's alt text: the `alt` of its output metadata (the notebooks' `figure(fig, alt)`), else empty, which the
    checks of step 4 reject; nbconvert would write "No description has been provided for this image" -#}
{%- block data_png scoped -%}
{{ super() | replace('<img', '<img alt="' ~ (output | get_metadata('alt', 'image/png') or '') | escape_html ~ '"', 1) }}
{%- endblock data_png -%}
{%- block data_jpg scoped -%}
{{ super() | replace('<img', '<img alt="' ~ (output | get_metadata('alt', 'image/jpeg') or '') | escape_html ~ '"', 1) }}
{%- endblock data_jpg -%}
"""

_HTML_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{#- the lab template without anything fetched from a CDN (require.js, MathJax, mermaid, widgets) -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style>
body { max-width: 1100px; margin: 0 auto; padding: 0 1.5em 3em; }
.ocr6-nav { font: 14px sans-serif; padding: .8em 0; border-bottom: 1px solid #ddd; margin-bottom: 1em; }
table.ocr6-table { border-collapse: collapse; font-size: 13px; margin: .5em 0 1em; display: block; overflow-x: auto; max-width: 100%; }
table.ocr6-table th, table.ocr6-table td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: left !important; }
table.ocr6-table th { background: #f5f5f5; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
<nav class="ocr6-nav"><a href="index.html">&larr; all documents</a></nav>
{%- endblock body_header -%}
"""

_SLIDES_TEMPLATE = r"""{%- extends 'reveal/index.html.j2' -%}
{#- the reveal template without CDN scripts; OCR6 markers are replaced by inlined reveal.js (or a built-in viewer) -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_css -%}
<style>
.reveal .jp-RenderedHTMLCommon table.ocr6-table { border-collapse: collapse; font-size: 17px; margin: .3em auto; }
.reveal table.ocr6-table th, .reveal table.ocr6-table td { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
.reveal .jp-RenderedHTMLCommon h1 { font-size: 40px; } .reveal .jp-RenderedHTMLCommon h2 { font-size: 32px; }
.reveal .jp-RenderedImage img { max-height: 430px; width: auto; }
.reveal .jp-RenderedMarkdown li, .reveal .jp-RenderedMarkdown p { font-size: 20px; }
.reveal .slides { text-align: left; }
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<!--OCR6-SLIDES-JS-->
{% endblock footer_js %}
"""

_VIEWER_CSS = """
.reveal .slides > section { display: none; max-width: 1100px; margin: 1.5em auto; padding: 0 1.5em; }
.reveal .slides > section.ocr6-present { display: block; }
.ocr6-counter { position: fixed; bottom: .8em; right: 1.2em; font: 14px sans-serif; color: #555; }
@media print { .reveal .slides > section { display: block !important; page-break-after: always; } .ocr6-counter { display: none; } }
"""
_VIEWER_JS = r"""
(function () {  // a minimal offline slide viewer: arrows / space / page keys, click left or right half, #/N in the URL
  var slides = Array.prototype.slice.call(document.querySelectorAll('.reveal .slides > section')), i = 0;
  var counter = document.createElement('div'); counter.className = 'ocr6-counter'; document.body.appendChild(counter);
  function show(k) {
    i = Math.max(0, Math.min(slides.length - 1, k));
    slides.forEach(function (s, j) { s.classList.toggle('ocr6-present', j === i); });
    counter.textContent = (i + 1) + ' / ' + slides.length; history.replaceState(null, '', '#/' + i);
  }
  document.addEventListener('keydown', function (e) {
    if (['ArrowRight', 'ArrowDown', 'PageDown', ' '].indexOf(e.key) >= 0) { show(i + 1); e.preventDefault(); }
    else if (['ArrowLeft', 'ArrowUp', 'PageUp'].indexOf(e.key) >= 0) { show(i - 1); e.preventDefault(); }
    else if (e.key === 'Home') show(0); else if (e.key === 'End') show(slides.length - 1);
  });
  document.addEventListener('click', function (e) { if (!e.target.closest('a')) show(e.clientX > innerWidth / 2 ? i + 1 : i - 1); });
  var m = /#\/(\d+)/.exec(location.hash); show(m ? +m[1] : 0);
})();
"""
_REVEAL_INIT = """
Reveal.initialize({controls: true, progress: true, hash: true, slideNumber: 'c/t', transition: 'none',
                   width: 1100, height: 760, margin: 0.04, plugins: typeof RevealNotes === 'undefined' ? [] : [RevealNotes]});
"""

def _write_templates(folder: Path) -> Path:
    for name, text, base in (('ocr6_html', _HTML_TEMPLATE, 'lab'), ('ocr6_slides', _SLIDES_TEMPLATE, 'reveal')):
        d = folder/name; d.mkdir(parents=True, exist_ok=True)
        (d/'index.html.j2').write_text(text + _ALT, encoding='utf-8')
        conf = {'base_template': base, 'mimetypes': {'text/html': True}}
        if base == 'reveal': conf['preprocessors'] = {'500-reveal': {'type': 'nbconvert.exporters.slides._RevealMetadataPreprocessor', 'enabled': True}}
        (d/'conf.json').write_text(json.dumps(conf), encoding='utf-8')
    return folder

def find_reveal(explicit: str|None=None) -> Path|None:
    "A reveal.js 4/5 distribution on this machine: --reveal-dir, $OCR6_REVEAL_DIR, the sphinx-revealjs package, node_modules."
    cands = [explicit, os.environ.get('OCR6_REVEAL_DIR')]
    spec = importlib.util.find_spec('sphinx_revealjs')  # finds the package without importing Sphinx
    if spec is not None and spec.submodule_search_locations:
        cands.append(Path(list(spec.submodule_search_locations)[0])/'_static'/'revealjs')
    cands.append(ROOT/'node_modules'/'reveal.js')
    for c in cands:
        if c and (Path(c)/'dist'/'reveal.js').is_file() and (Path(c)/'dist'/'reveal.css').is_file(): return Path(c)
    if explicit: raise DocsError(f"--reveal-dir {explicit}: no dist/reveal.js and dist/reveal.css there")
    return None

def _js(text: str) -> str:
    "JavaScript safe to inline in a <script> element, without its source-map comment."
    return re.sub(r'//# sourceMappingURL=\S+', '', text).replace('</script', '<\\/script')

def _css(text: str) -> str:
    "CSS safe to inline: no @import (reveal's themes import web fonts; the fallback fonts are used offline)."
    return re.sub(r'@import\s+url\([^)]*\)\s*;?', '', re.sub(r'/\*# sourceMappingURL=\S+ \*/', '', text)).replace('</style', '<\\/style')

def slide_types(nb) -> list[str]:
    """Each cell's slide type: its `slideshow` metadata when the notebook has any; else derived from the headings
    (a Markdown cell opening with `#` or `##` starts a slide, code cells without output and parameter cells are skipped),
    which gives the same deck when nbdev_clean has stripped the metadata (settings.ini without `slideshow`)."""
    if any('slideshow' in c.metadata for c in nb.cells):
        return [c.metadata.get('slideshow', {}).get('slide_type', '-') for c in nb.cells]
    out = []
    for c in nb.cells:
        tags = c.metadata.get('tags', [])
        if c.cell_type == 'raw' or 'parameters' in tags or 'injected-parameters' in tags: out.append('skip')
        elif c.cell_type == 'markdown': out.append('slide' if re.match(r'#{1,2}\s', c.source.lstrip()) else '-')
        else: out.append('-' if c.get('outputs') else 'skip')
    return out

def _hide_injected(nb):
    "Without the raw cells (the nbdev front matter); papermill's injected-parameters cell gets no slide of its own."
    nb.cells = [c for c in nb.cells if c.cell_type != 'raw']
    for c in nb.cells:
        if 'injected-parameters' in c.metadata.get('tags', []): c.metadata['slideshow'] = {'slide_type': 'skip'}
    return nb

def render_notebook(src: Path, dest: Path, templates: Path, hide_code: bool, nb=None):
    "One notebook to one offline HTML page."
    import nbformat
    from nbconvert import HTMLExporter
    nb = nb if nb is not None else nbformat.read(src, as_version=4)
    ex = HTMLExporter(template_name='ocr6_html', extra_template_basedirs=[str(templates)], exclude_input=hide_code,
                      exclude_input_prompt=True, exclude_output_prompt=hide_code)
    body, _ = ex.from_notebook_node(_hide_injected(nb), resources={'metadata': {'name': _title(nb) or src.stem}})
    dest.write_text(body, encoding='utf-8')

def render_slides(src: Path, dest: Path, templates: Path, reveal: Path|None) -> int:
    "The executed slides notebook to one self-contained HTML file (reveal.js inlined, or the built-in viewer); the slide count."
    import nbformat
    from nbconvert import SlidesExporter
    nb = nbformat.read(src, as_version=4)
    if not any('slideshow' in c.metadata for c in nb.cells):
        print(f'        {src.name} has no slideshow metadata (nbdev_clean strips it unless settings.ini allows the key): '
              'slides derived from its headings', flush=True)
        for c, t in zip(nb.cells, slide_types(nb)): c.metadata['slideshow'] = {'slide_type': t}
    nb = _hide_injected(nb)
    ex = SlidesExporter(template_name='ocr6_slides', extra_template_basedirs=[str(templates)], exclude_input=True,
                        exclude_input_prompt=True, exclude_output_prompt=True, reveal_url_prefix='OCR6-REVEAL',
                        reveal_theme='white')
    body, _ = ex.from_notebook_node(nb, resources={'metadata': {'name': _title(nb) or 'Slides'}})
    links = {k: re.compile(r'<link\b[^>]*href="OCR6-REVEAL/dist/' + re.escape(f) + r'"[^>]*>')
             for k, f in (('reveal', 'reveal.css'), ('theme', 'theme/white.css'))}
    for v in [*links.values(), re.compile('<!--OCR6-SLIDES-JS-->')]:
        if not v.search(body): raise DocsError(f"the nbconvert reveal template changed ({v.pattern} not found): update scripts/docs.py")
    if reveal is not None:
        css = [_css((reveal/'dist'/'reveal.css').read_text(encoding='utf-8')),
               _css((reveal/'dist'/'theme'/'white.css').read_text(encoding='utf-8')) if (reveal/'dist'/'theme'/'white.css').exists() else '']
        notes = reveal/'plugin'/'notes'/'notes.js'
        js = [_js((reveal/'dist'/'reveal.js').read_text(encoding='utf-8')), _js(notes.read_text(encoding='utf-8')) if notes.exists() else '',
              _REVEAL_INIT]
    else: css, js = [_VIEWER_CSS, ''], [_VIEWER_JS]
    for k, text in zip(('reveal', 'theme'), css): body = links[k].sub(lambda m: f'<style>{text}</style>', body, count=1)
    body = body.replace('<!--OCR6-SLIDES-JS-->', ''.join(f'<script>{j}</script>' for j in js if j))
    dest.write_text(body, encoding='utf-8')
    return count_slides(body)

def count_slides(page: str) -> int:
    "Top-level <section>s inside the reveal 'slides' container."
    i = page.find('<div class="slides">')
    if i < 0: return 0
    depth = n = 0
    for m in re.finditer(r'<(/?)section\b', page[i:]):
        if m.group(1): depth -= 1
        else:
            if depth == 0: n += 1
            depth += 1
    return n

def _title(nb) -> str|None:
    for c in nb.cells:
        if c.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return None

def _description(nb) -> str:
    for c in nb.cells:
        if c.cell_type == 'markdown':
            m = re.search(r'^>\s*(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return ''

def page_name(stem: str) -> str: return RENAMED.get(stem, stem)

def nbdev_view(nb):
    "A source notebook as its nbdev page would show it: #| hide cells dropped, #| directives removed, links to .html."
    keep = []
    for c in nb.cells:
        if c.cell_type == 'raw': continue
        if c.cell_type == 'code':
            lines = c.source.splitlines()
            opts = [l.strip()[2:].strip().lower() for l in lines if l.lstrip().startswith('#|')]
            if any(o in ('hide', 'include: false') for o in opts): continue
            c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip('\n')
            if not c.source.strip() and not c.get('outputs'): continue
            if 'echo: false' in opts: c.metadata.setdefault('transient', {})['remove_source'] = True
        else:
            c.source = re.sub(r'\]\((?!https?:)([\w.-]+)\.ipynb', lambda m: f'](' + page_name(m.group(1)) + '.html', c.source)
        keep.append(c)
    nb.cells = keep
    return nb

def _api_page(src: Path, out: Path, templates: Path) -> dict:
    import nbformat
    nb = nbformat.read(src, as_version=4)
    title, desc = _title(nb) or src.stem, _description(nb)
    render_notebook(src, out/f'{page_name(src.stem)}.html', templates, hide_code=False, nb=nbdev_view(nb))
    return {'file': f'{page_name(src.stem)}.html', 'title': title, 'description': desc, 'source': f'nbs/{src.name}'}

def render_api_pages(out: Path, templates: Path) -> list[dict]:
    "Every other nbs/*.ipynb, not executed: its stored outputs, code shown (one process per core)."
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    srcs = [p for p in sorted(NBS.glob('*.ipynb'), key=lambda p: (p.stem != 'index', p.stem)) if p.stem not in EXECUTED]
    with ProcessPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)), mp_context=multiprocessing.get_context('spawn')) as ex:
        return list(ex.map(_api_page, srcs, [out] * len(srcs), [templates] * len(srcs)))

def render_quarto(out: Path) -> bool:
    "The nbdev site with Quarto (API pages with show_doc), into OUT; False when Quarto is not installed."
    q = shutil.which('quarto')
    if not q: return False
    bin_ = Path(sys.executable).parent
    nbdev_proc = shutil.which('nbdev_proc_nbs', path=str(bin_)) or shutil.which('nbdev_proc_nbs')
    for cmd, cwd in (([nbdev_proc], ROOT), ([q, 'render', '--no-cache'], ROOT/'_proc')):
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if r.returncode: raise DocsError(f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    site = ROOT/'_proc'/'_docs'
    if site.resolve() != out.resolve(): shutil.copytree(site, out, dirs_exist_ok=True)
    if (out/'index.html').exists(): (out/'index.html').replace(out/'overview.html')
    return True

# ---- 6. the index

def _settings() -> dict:
    cp = configparser.ConfigParser(); cp.read(ROOT/'settings.ini')
    return dict(cp['DEFAULT']) if 'DEFAULT' in cp else {}

def write_index(out: Path, champ: dict, reports: list[dict], pages: list[dict], renderer: str):
    s = _settings()
    def e(text: str) -> str:  # escaped, with `code` and *emphasis* of the notebooks' Markdown
        t = html.escape(text)
        return re.sub(r'\*([^*]+)\*', r'<em>\1</em>', re.sub(r'`([^`]+)`', r'<code>\1</code>', t))
    li = lambda p: (f'<li><a href="{html.escape(p["file"])}">{e(p["title"])}</a>' + (f' — {e(p["description"])}' if p.get('description') else '')
                    + (f' <small>({e(p["source"])})</small>' if p.get('source') else '') + '</li>')
    built = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(s.get('title', 'ocr6_scoring'))} — documentation</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1.5em;color:#222}}
h1{{margin-bottom:.2em}} li{{margin:.35em 0}} small,.meta{{color:#666}} code{{background:#f3f3f3;padding:0 .3em}}</style></head>
<body><h1>{e(s.get('title', 'ocr6_scoring'))}</h1><p>{e(s.get('description', ''))}</p>
<p class="meta">Built {built} from model <code>{e(champ['name'])}</code> version {e(str(champ['version']))}
(alias <code>{e(champ['alias'])}</code>, MLflow run <code>{e(champ['run_id'])}</code>, tracking URI <code>{e(champ['uri'])}</code>);
rendered with {e(renderer)}.</p>
<h2>Reports on the champion</h2><ul>{''.join(li(p) for p in reports)}</ul>
<h2>Reference: the notebooks</h2><ul>{''.join(li(p) for p in pages)}</ul>
</body></html>
"""
    (out/'index.html').write_text(page, encoding='utf-8')

# ---- main

def build(args) -> Path:
    from ocr6_scoring.tracking import default_tracking_uri, EXPERIMENT
    out = Path(args.out).resolve()
    if out == NBS.resolve() or NBS.resolve() in out.parents: raise DocsError(f'--out {out}: executed copies never go into nbs/')
    uri = args.tracking_uri or default_tracking_uri()
    step(f'1/6 Champion: {args.model_name!r} alias {args.alias!r} at {uri}')
    champ = find_champion(uri, args.model_name, args.alias)
    data_dir = Path(args.data_dir or champ['data_dir'] or '').resolve()
    print(f'        version {champ["version"]}, run {champ["run_id"]}, data {data_dir}', flush=True)
    from ocr6_scoring.data import find_table
    if find_table(data_dir, 'application_train') is None:
        raise DocsError(f"{data_dir}: no application_train file; the champion was trained on {champ['data_dir']}: "
                        f"pass that folder (or a copy of it) with --data-dir")
    if args.configurations:
        from ocr6_scoring.tracking import track_configurations
        step(f"Tracking the configurations missing on the champion's data ({args.configurations} profile)")
        done = track_configurations(data_dir, uri, args.configurations, args.experiment, args.model_name, args.alias)
        print(f"        tracked: {', '.join(done) or 'none (all already tracked)'}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    params = {'tracking_uri': uri, 'model_name': args.model_name, 'alias': args.alias, 'experiment': args.experiment,
              'data_dir': str(data_dir), 'current_dir': str(Path(args.current_dir).resolve()) if args.current_dir else None,
              'out_dir': str(out)}
    step('2/6 Executing nbs/methodology.ipynb (papermill; writes the drift report)')
    meth = execute('methodology', out, params, args.timeout)
    step('3/6 Executing nbs/slides.ipynb (papermill)')
    drift_json = out/'drift_report.json'
    slides = execute('slides', out, {**params, 'drift_json': str(drift_json) if drift_json.exists() else None}, args.timeout)
    step('4/6 Checking the executed notebooks')
    from ocr6_scoring.report import SECTIONS
    bad = [f'methodology: {p}' for p in problems(meth, SECTIONS)] + [f'slides: {p}' for p in problems(slides)]
    if bad: raise DocsError('the executed notebooks have problems:\n  ' + '\n  '.join(bad))
    with tempfile.TemporaryDirectory() as tmp:
        templates = _write_templates(Path(tmp))
        quarto = False if args.no_quarto else render_quarto(out)
        step(f"5/6 Rendering with {'Quarto (API pages) and ' if quarto else ''}nbconvert (offline templates)")
        render_notebook(meth, out/'methodology.html', templates, hide_code=not args.show_code)
        reveal = find_reveal(args.reveal_dir)
        n = render_slides(slides, out/'slides.html', templates, reveal)
        print(f"        slides.html: {n} slides, " + (f'reveal.js inlined from {reveal}' if reveal else
              'built-in offline viewer (no reveal.js found: `pip install sphinx-revealjs` or --reveal-dir for reveal.js)'), flush=True)
        if quarto: pages = [{'file': p.name, 'title': p.stem, 'description': ''} for p in sorted(out.glob('*.html'))
                            if p.name not in ('index.html', 'methodology.html', 'slides.html', 'drift_report.html')]
        else: pages = render_api_pages(out, templates)
    reports = [{'file': 'methodology.html', 'title': 'Methodology note', 'description': 'data, training, cost, results, '
                'interpretability, fairness, drift and limits of the champion', 'source': 'nbs/methodology.ipynb'},
               {'file': 'slides.html', 'title': f'Slides ({n})', 'description': 'the same, as a presentation (arrow keys)',
                'source': 'nbs/slides.ipynb'}]
    if (out/'drift_report.html').exists():
        reports.append({'file': 'drift_report.html', 'title': 'Data-drift report', 'description':
                        'evidently report and PSI table, new applicants against the training ones'})
    reports += [{'file': f'{k}.ipynb', 'title': f'Executed {k}.ipynb', 'description': 'the executed notebook'} for k in EXECUTED]
    step('6/6 Writing the index')
    write_index(out, champ, reports, pages, 'Quarto + nbconvert' if quarto else 'nbconvert (Quarto not installed)')
    step(f'Done: {out/"index.html"}')
    return out

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tracking-uri', default=None, help='MLflow tracking URI (default: $OCR6_TRACKING_URI, else sqlite:///mlruns.db here)')
    p.add_argument('--data-dir', default=None, help="training data folder (default: the folder logged with the champion's run)")
    p.add_argument('--current-dir', default=None, help='new applicants (its application_test) for the drift section (default: --data-dir)')
    p.add_argument('--out', default='_docs', help='output folder (default: _docs)')
    p.add_argument('--model-name', default='ocr6-scorer', help='registered model')
    p.add_argument('--alias', default='champion', help='registry alias described')
    p.add_argument('--experiment', default='ocr6-scoring', help='MLflow experiment of the configuration runs')
    p.add_argument('--configurations', choices=['smoke', 'quick', 'standard', 'full'], default=None,
                   help='first track the configurations missing from the comparison table, with this search effort')
    p.add_argument('--reveal-dir', default=None, help='a reveal.js distribution (dist/reveal.js) to inline in the slides')
    p.add_argument('--show-code', action='store_true', help='show the code of the methodology note')
    p.add_argument('--no-quarto', action='store_true', help='render with nbconvert even when Quarto is installed')
    p.add_argument('--timeout', type=int, default=3600, help='seconds allowed per notebook cell')
    args = p.parse_args(argv)
    try: build(args)
    except DocsError as e:
        print(f'docs: error: {e}', file=sys.stderr); return 2
    return 0

if __name__ == '__main__': sys.exit(main())
