"""Screenshot of the advisers' dashboard for the README (nbs/images/dashboard.png), on synthetic data only.

Usage: python scripts/screenshot.py DATA_DIR MODEL_DIR  (a synthetic folder from `ocr6 synth` and a bundle
trained on it, e.g. the champion of `make demo`). Starts the API and Voilà on loopback, drives the page in
chromium like the browser test does, and copies its screenshot. Never run it on real applicants' data: the
image is committed.
"""
import shutil, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def main(data_dir: str, model_dir: str, out: Path = ROOT/'nbs'/'images'/'dashboard.png'):
    from ocr6_scoring.testing import api_server, browser_session, client_ids, dashboard_server
    d = Path(data_dir)/'HomeCredit_columns_description.csv'  # `ocr6 synth` marks its dictionary: TARGET '(synthetic: ...)'
    if not d.exists() or '(synthetic:' not in d.read_text(errors='replace'):
        sys.exit(f'{data_dir}: not a synthetic folder written by `ocr6 synth` (the screenshot is committed: no real data)')
    with tempfile.TemporaryDirectory() as work:
        ids = client_ids(data_dir, 3)
        w = Path(work)
        with api_server(model_dir, data_dir, w/'audit.db', w/'api.log', workers=1) as (_, port), \
             dashboard_server(f'http://127.0.0.1:{port}', work) as url:
            browser_session(url, ids, artifacts=Path(work)/'shots')
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(work)/'shots'/'dashboard.png', out)
    print(f'wrote {out}')

if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    main(*sys.argv[1:])
