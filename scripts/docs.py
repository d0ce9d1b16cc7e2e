"""Build the documentation site (what `make docs` runs): the methodology note and the slides executed against the
champion of the MLflow registry, the notebooks' pages, the data-drift report and an index, all in one folder.

    python scripts/docs.py [--tracking-uri URI] [--data-dir DIR] [--current-dir DIR] [--out _docs]

The steps and how each works: nbs/12a_site.ipynb (ocr6_scoring.site).
"""
import argparse, sys
from ocr6_scoring import site
from ocr6_scoring.tracking import CHAMPION, EXPERIMENT, PROFILES, REGISTERED_MODEL

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tracking-uri', default=None, help='MLflow tracking URI (default: $OCR6_TRACKING_URI, else sqlite:///mlruns.db here)')
    p.add_argument('--data-dir', default=None, help="training data folder (default: the folder logged with the champion's run)")
    p.add_argument('--current-dir', default=None, help='new applicants (its application_test) for the drift section (default: --data-dir)')
    p.add_argument('--out', default='_docs', help='output folder (default: _docs)')
    p.add_argument('--model-name', default=REGISTERED_MODEL, help='registered model')
    p.add_argument('--alias', default=CHAMPION, help='registry alias described')
    p.add_argument('--experiment', default=EXPERIMENT, help='MLflow experiment of the configuration runs')
    p.add_argument('--configurations', choices=list(PROFILES), default=None,
                   help='first track the configurations missing from the comparison table, with this search effort')
    p.add_argument('--reveal-dir', default=None, help='a reveal.js distribution (dist/reveal.js) to inline in the slides')
    p.add_argument('--show-code', action='store_true', help='show the code of the methodology note')
    p.add_argument('--no-quarto', action='store_true', help='render with nbconvert even when Quarto is installed')
    p.add_argument('--timeout', type=int, default=3600, help='seconds allowed per notebook cell')
    return p

if __name__ == '__main__': sys.exit(site.main(**vars(parser().parse_args())))
