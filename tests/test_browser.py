"""The advisers' dashboard in Debian's chromium (Playwright): the real API on a model trained on the real
sample, Voilà serving dashboards/advisor.ipynb, both on 127.0.0.1; an adviser's session end to end, including
a refused client's counter-offer tried in the what-if form.

Timings are measured and written to tests/artifacts/dashboard_timings.json (with screenshots); their
goals (first load <= 5 s, client switch <= 1.5 s) are reported by `make bench` (bench/bench_dashboard.py),
so the asserts here only catch a page that hangs.
"""
import httpx, pytest
from pathlib import Path
from ocr6_scoring.testing import api_server, browser_missing, browser_session, client_ids, dashboard_server

ARTIFACTS = Path(__file__).resolve().parent/'artifacts'  # screenshots and timings of the last run
REASON = browser_missing()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f'browser test skipped: {REASON}')
TOKEN = 'browser-test-token'


def refused_with_offer(api_url: str, auth: dict, ids: list[int]) -> dict:
    "The counter-offers answer of the first client of `ids` that is refused and has an offer."
    with httpx.Client(base_url=api_url, headers=auth, timeout=30) as c:
        for cid in ids:
            r = c.get(f'/clients/{cid}/counter-offers', params={'k': 3}).json()
            if r['offers']: return r
    pytest.fail('no client of the sample is refused with a counter-offer within the default bounds')


@pytest.fixture(scope='module')
def run(sample_bundle, clients_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp('browser')
    ids = client_ids(clients_dir)
    with api_server(sample_bundle, clients_dir, work/'audit.db', work/'api.log', token=TOKEN, workers=1) as (_, port):
        api_url = f'http://127.0.0.1:{port}'
        auth = {'Authorization': f'Bearer {TOKEN}'}
        truth = httpx.get(f'{api_url}/clients/{ids[0]}/score', headers=auth, timeout=30).json()
        offers = refused_with_offer(api_url, auth, ids)
        with dashboard_server(api_url, work, token=TOKEN) as url:
            res = browser_session(url, ids[:4], artifacts=ARTIFACTS, offer_id=offers['id'])
    res['offers'] = offers
    print(f"\ndashboard timings: first load {res['first_load_s']:.2f} s, client switches "
          + ', '.join(f'{s:.2f}' for s in res['switch_s']) + f" s (kernel {res['kernel_s']}), what-if {res['what_if_s']:.2f} s")
    return res, truth


def test_page_title_and_model_summary(run):
    res, _ = run
    assert res['title'] == "Credit decision support - advisers' dashboard"  # WCAG 2.4.2
    assert 'A credit is refused when the probability of default is' in res['model_text']
    assert 'new applicants served: Estimated cost per client' in res['model_text']  # the estimated performance and its table
    assert 'cost per client' in res['model_text'] and 'holdout' in res['model_text']


def test_search_suggests_ids(run):
    res, _ = run
    prefix = str(res['client_id'])[:4]
    assert res['suggestions'] and all(s.startswith(prefix) for s in res['suggestions'])


def test_decision_in_words_matches_the_api(run):
    res, truth = run
    word = {'granted': '✔ Granted', 'refused': '✖ Refused'}[truth['decision']]
    header = res['panels']['header']
    assert f"Client {truth['id']}" in header and word in header and f"{100 * truth['probability']:.1f} %" in header
    assert f"so the credit is {truth['decision']}" in res['images']['gauge']['alt']
    assert res['badge_contrast'] >= 4.5  # WCAG 1.4.3, measured on the rendered badge


def test_every_panel_rendered(run):
    res, _ = run
    for p, img in res['images'].items():  # WCAG 1.1.1: every chart has its generated text as alt
        assert img and img['width'] > 0 and len(img['alt']) > 40, p
    assert 'Annual income' in res['panels']['info'] or 'income' in res['panels']['info'].lower()
    assert 'most similar past clients' in res['panels']['similar']
    assert 'Raising the risk' in res['panels']['explanation'] and 'Lowering the risk' in res['panels']['explanation']
    assert 'This client' in res['images']['comparison']['alt'] and 'This client (star)' in res['images']['bivariate']['alt']
    assert not any('unavailable' in t.lower() for t in res['panels'].values()), res['panels']
    assert res['message'].strip() == ''
    assert 'similar clients' in res['comparison_similar']


def test_what_if_rescored(run):
    res, _ = run
    assert res['what_if_text'].startswith('With the changes (Annual income → ')
    assert 'Now' in res['what_if_text'] and 'With the changes' in res['what_if_text']


def test_errors_are_messages(run):
    res, _ = run
    assert 'No client with id 1 in the scoring service' in res['error_text']
    assert 'Traceback' not in res['page_text']


def test_reflows_at_200_percent(run):
    res, _ = run
    assert res['zoom_overflow'] == [] and res['zoom_page_scroll']  # WCAG 1.4.4: no horizontal scrolling


def test_timings_recorded(run):
    res, _ = run
    assert (ARTIFACTS/'dashboard.png').stat().st_size > 10_000 and (ARTIFACTS/'dashboard_timings.json').exists()
    assert res['first_load_s'] < 30 and max(res['switch_s']) < 15  # hangs only; goals are in make bench


def test_counter_offer_tried_in_what_if(run):
    res, _ = run
    offer = res['offers']['offers'][0]
    p = f"{100 * offer['probability']:.1f} %"  # as the dashboard writes a probability
    assert 'of the credit would be granted' in res['offers_text'] and len(res['offer_rows']) == len(res['offers']['offers'])
    assert res['offer_rows'][0].startswith(f"Offer 1: {offer['sentence']}. Probability of default {p},")
    assert res['offer_rows'][0].endswith('✔ Granted.')
    assert 'goes from ' in res['offer_what_if_text'] and f' to {p} (' in res['offer_what_if_text']  # the re-score gives the offer's
    assert 'changes from ✖ Refused to ✔ Granted' in res['offer_what_if_text']
