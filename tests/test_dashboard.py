"The dashboard's `App` driven without a browser: a stub API client, then `ApiClient` against a mock transport."
import json
import httpx, pytest
from ocr6_scoring.testing import StubApi
from ocr6_scoring.dashboard import (App, ApiClient, ApiError, NOT_EMPLOYED, contrast_ratio, dashboard_command,
                                    TEXT, MUTED, BACKGROUND, BADGE)
from ocr6_scoring.cost import OKABE_ITO

PANELS = ('header', 'gauge', 'info', 'similar', 'explanation', 'importance', 'comparison', 'bivariate', 'offers')


@pytest.fixture
def app():
    a = App(StubApi())
    yield a
    a.close()


def test_select_fills_every_panel(app):
    assert app.select(100002)
    s = app.api.score(100002)
    word = 'Granted' if s['decision'] == 'granted' else 'Refused'
    assert app.header_text.startswith('Client 100002: ') and word in app.header_text
    assert f"{100 * s['probability']:.1f} %" in app.header_text
    assert f'so the credit is {s["decision"]}' in app.gauge_text and 'percentage points' in app.gauge_text
    for p in PANELS: assert getattr(app, f'{p}_text'), p
    assert 'Annual income: ' in app.info_text
    assert 'Raising the risk:' in app.explanation_text and 'probability points' in app.explanation_text
    assert 'most similar past clients' in app.similar_text
    assert 'This client: ' in app.comparison_text and 'This client (star)' in app.bivariate_text
    assert app.status_text == 'Showing client 100002' and app.message_text == ''
    # the six routes of a client switch were asked for, for this client
    assert {c[0] for c in app.api.calls} >= {'score', 'client', 'explanation', 'similar', 'feature', 'bivariate', 'counter_offers'}


def test_every_chart_has_its_text_as_alt(app):
    app.select(100002)
    for p in ('gauge', 'explanation', 'importance', 'comparison', 'bivariate'):
        value = app.panels[p].value
        assert value.count('<img') == 1 and 'alt="' in value and 'Chart as text' in value, p
        alt = value.split('alt="', 1)[1].split('"', 1)[0]
        assert len(alt) > 40, p


def test_decision_not_by_colour_alone_and_contrast(app):
    app.select(100009)  # refused in the stub
    h = app.panels['header'].value
    assert '✖ Refused' in h and 'ocr6-badge ocr6-refused' in h
    for fg, bg in [(TEXT, BACKGROUND), (MUTED, BACKGROUND), (TEXT, BADGE['granted']), (TEXT, BADGE['refused']),
                   ('#ffffff', OKABE_ITO['blue'])]:
        assert contrast_ratio(fg, bg) >= 4.5


def test_search_suggestions(app):
    assert app.search.options[:2] == ('100001', '100002')
    app.search.value = '10001'
    assert app.search.options == tuple(str(i) for i in range(100010, 100020))
    app.search.value = 'abc'  # not digits: suggestions kept, no call
    assert app.search.options[0] == '100010'


def test_show_button_and_filters(app):
    app.search.value = '100003'
    app.show_button.click()
    assert app.client_id == 100003
    app.population_pick.value = 'similar'
    assert 'similar clients' in app.comparison_text and app.api.calls[-1][3] == 100003
    app.feature_pick.value = 'AGE'
    assert app.comparison_text.startswith('Distribution of Age among 200 similar clients')
    app.x_pick.value = 'AMT_CREDIT'
    assert ': Credit amount (horizontal' in app.bivariate_text


def test_what_if_form_and_overrides(app):
    app.select(100009)
    assert app.not_employed.value and app.form_overrides() == {}
    app.fields['AMT_INCOME_TOTAL'].value *= 5
    app.not_employed.value, app.fields['DAYS_EMPLOYED'].value = False, 3
    ov = app.form_overrides()
    assert set(ov) == {'AMT_INCOME_TOTAL', 'DAYS_EMPLOYED'} and ov['DAYS_EMPLOYED'] == -1096
    app.rescore_button.click()
    r = app.last_what_if
    assert r['overrides'] == ov and r['before']['decision'] == 'refused' and r['after']['decision'] == 'granted'
    assert 'changes from ✖ Refused to ✔ Granted' in app.what_if_text
    app.reset_button.click()
    assert app.form_overrides() == {} and app.not_employed.value
    app.not_employed.value = False; app.fields['DAYS_EMPLOYED'].value = 0.0  # employed, but 0 years: a change
    assert app.form_overrides() == {'DAYS_EMPLOYED': 0}
    assert app.what_if({'DAYS_EMPLOYED': NOT_EMPLOYED})['overrides'] == {'DAYS_EMPLOYED': NOT_EMPLOYED}


def test_what_if_messages(app):
    assert app.what_if({'AMT_CREDIT': 1.}) is None and 'Choose a client first' in app.message_text
    app.select(100002)
    assert app.what_if() is None and 'Change at least one value' in app.message_text
    assert app.what_if({'NOPE': 1}) is None and 'did not accept these values' in app.message_text


def test_unknown_id_and_bad_input_keep_the_page(app):
    app.select(100002)
    before = app.header_text
    assert not app.select(999) and app.message_text.startswith('No client with id 999') and 'Still showing client 100002' in app.message_text
    assert app.header_text == before and app.client_id == 100002
    assert not app.select('12a') and 'is not a client id' in app.message_text
    assert app.select(100003) and app.message_text == ''


def test_one_failing_route_leaves_the_others(app):
    a = App(StubApi(fail={'explanation': ApiError('The scoring service failed (HTTP 500): boom.', 500)}))
    assert a.select(100002)
    assert a.explanation_text == 'Unavailable: The scoring service failed (HTTP 500): boom.'
    assert 'This part is unavailable' in a.panels['explanation'].value
    assert a.gauge_text and a.bivariate_text.startswith('Scatter plot')


def test_unreachable_api_is_a_message_then_recovers():
    stub = StubApi(fail={'*': ApiError('The scoring service at http://127.0.0.1:9 cannot be reached (ConnectError).')})
    a = App(stub)  # building the page does not raise
    assert 'cannot be reached' in a.message_text and a.model is None
    assert not a.select(100002) and 'cannot be reached' in a.message_text
    a.what_if({'AMT_CREDIT': 1.}); assert 'Choose a client first' in a.message_text
    stub.fail.clear()
    assert a.select(100002) and a.model is not None and a.importance_text and a.message_text == ''


def test_offers_panel_and_try_it_in_what_if():
    a = App(StubApi(threshold=0.2))
    assert a.select(100024)  # refused, with offers
    offers = a.api.counter_offers(100024)['offers']
    assert len(offers) == 3 and a.offers_text.startswith('3 changes of the credit would be granted (threshold 20.0 %)')
    for i, (o, row) in enumerate(zip(offers, a.offer_rows)):
        assert row.layout.display == 'flex' and f'Offer {i + 1}: {o["sentence"]}' in a.offers_text
        assert f'Probability of default {100 * o["probability"]:.1f} %' in row.children[0].value and '✔ Granted' in row.children[0].value
    a.offer_rows[2].children[1].click()
    assert a.last_what_if['after']['probability'] == offers[2]['probability'] and a.form_overrides() == offers[2]['overrides']
    assert f"to {100 * offers[2]['probability']:.1f} % " in a.what_if_text and a.message_text == ''
    a.rescore_button.click()  # the form as filled gives the offer's probability again
    assert a.last_what_if['after']['probability'] == offers[2]['probability']
    assert a.select(100009) and a.offers_text.startswith('No offer found: no change within the bounds')  # the API's reason
    assert all(r.layout.display == 'none' for r in a.offer_rows) and a.offers_shown == []
    assert a.select(100002) and a.offers_text == '✔ Granted: nothing to offer.'
    a.close()


def test_offers_route_failing_is_a_panel_message():
    a = App(StubApi(threshold=0.2, fail={'counter_offers': ApiError('The scoring service failed (HTTP 500): boom.', 500)}))
    assert a.select(100024) and a.offers_text == 'Unavailable: The scoring service failed (HTTP 500): boom.'
    assert a.offers_shown == [] and a.gauge_text and a.message_text == ''
    a.close()


def test_model_panel_estimated_performance():
    for stub, alert in ((StubApi(), False), (StubApi(holdout_cost=0.5), True)):
        a = App(stub)
        perf = stub.model()['performance']
        assert perf['alert'] is alert and perf['sentence'] in a.model_text
        assert ('⚠ Performance alert' in a.model_text) is alert and ('class="ocr6-alert"' in a.panels['model'].value) is alert
        assert a.panels['model'].value.count('<tr>') == 5 and 'cost per client' in a.panels['model'].value
        a.close()
    a = App(StubApi(performance=False))  # an API without the estimate: the rule alone
    assert 'Performance' not in a.model_text and '<table' not in a.panels['model'].value
    a.close()


def test_unexpected_error_is_not_a_traceback(app):
    app.api.explanation = lambda *a, **k: {'broken': True}  # a malformed answer: the panel says so
    app.select(100002)
    assert app.explanation_text.startswith('Unavailable: KeyError')
    def boom(*a, **k): raise RuntimeError('boom')
    app._jobs = boom  # a dashboard bug inside a callback: a sentence in the page, not a traceback
    app.search.value = '100002'; app.show_button.click()
    assert app.message_text == 'Something went wrong in the dashboard (RuntimeError: boom). Try again or reload the page.'


# ---- ApiClient: routes, parameters, token and error messages, over httpx.MockTransport (no network)
def _transport(seen):
    def handle(request: httpx.Request):
        seen.append(request)
        p = request.url.path
        if request.headers.get('authorization') != 'Bearer tok': return httpx.Response(401, json={'detail': 'missing or invalid bearer token'})
        if p == '/clients/5/score': return httpx.Response(404, json={'detail': 'client 5 not found'})
        if p == '/clients/6/score': return httpx.Response(500, text='Internal Server Error')
        if p == '/clients/7/score': return httpx.Response(200, text='<html>')
        if p == '/clients/8/score': raise httpx.ReadTimeout('slow', request=request)
        if p.endswith('/what-if'):
            body = json.loads(request.content)
            if 'AMT_CREDIT' in body['overrides'] and not isinstance(body['overrides']['AMT_CREDIT'], float):
                return httpx.Response(422, json={'detail': [{'loc': ['body', 'overrides', 'AMT_CREDIT'], 'msg': 'Input should be a valid number'}]})
        return httpx.Response(200, json={'path': p, 'params': dict(request.url.params), 'body': request.content.decode() or None,
                                         'raw': request.url.raw_path.decode().split('?')[0]})
    return httpx.MockTransport(handle)


def test_api_client_routes():
    seen = []
    api = ApiClient('http://api.test/', token='tok', transport=_transport(seen))
    assert api.clients('1000', 5)['params'] == {'q': '1000', 'limit': '5'}
    assert api.explanation(3, top=4) == {'path': '/clients/3/explanation', 'params': {'top': '4'}, 'body': None, 'raw': '/clients/3/explanation'}
    assert api.similar(3, k=7)['params'] == {'k': '7'}
    assert api.feature('A B/C', bins=10, client_id=3)['raw'] == '/population/feature/A%20B%2FC'  # one path segment
    assert api.feature('X', bins=10, client_id=3)['params'] == {'bins': '10', 'client_id': '3'}  # None parameters left out
    assert api.feature('X', similar_to=3, k=200)['params'] == {'bins': '30', 'similar_to': '3', 'k': '200'}
    assert api.bivariate('X', 'Y', n=50, client_id=3)['params'] == {'x': 'X', 'y': 'Y', 'n': '50', 'client_id': '3'}
    assert api.counter_offers(3, k=2)['path'] == '/clients/3/counter-offers' and api.counter_offers(3)['params'] == {'k': '3'}
    r = api.what_if(3, {'AMT_CREDIT': 1.0})
    assert r['path'] == '/clients/3/what-if' and json.loads(r['body']) == {'overrides': {'AMT_CREDIT': 1.0}}
    assert [api.health()['path'], api.model()['path'], api.client(3)['path'], api.score(3)['path']] == \
           ['/health', '/model', '/clients/3', '/clients/3/score']
    assert all(q.headers['authorization'] == 'Bearer tok' for q in seen)


@pytest.mark.parametrize('cid,status,text', [
    (5, 404, 'Not found: client 5 not found.'),
    (6, 500, 'The scoring service failed (HTTP 500): Internal Server Error.'),
    (7, 200, 'not JSON'),
    (8, None, 'did not answer within 10 s')])
def test_api_client_errors(cid, status, text):
    api = ApiClient('http://api.test', token='tok', transport=_transport([]))
    with pytest.raises(ApiError) as e: api.score(cid)
    assert e.value.status == status and text in str(e.value)


def test_api_client_422_and_401_are_readable():
    e = pytest.raises(ApiError, ApiClient('http://api.test', token='tok', transport=_transport([])).what_if, 3, {'AMT_CREDIT': 'lots'}).value
    assert e.status == 422 and e.message == 'The scoring service did not accept these values: AMT_CREDIT: Input should be a valid number.'
    e = pytest.raises(ApiError, ApiClient('http://api.test', transport=_transport([])).model).value
    assert e.status == 401 and 'OCR6_API_TOKEN' in e.message


def test_api_down_on_loopback(unused_port):
    e = pytest.raises(ApiError, ApiClient(f'http://127.0.0.1:{unused_port}', timeout=3).health).value
    assert e.status is None and 'cannot be reached' in e.message
    # and the dashboard built on it shows the sentence
    a = App(ApiClient(f'http://127.0.0.1:{unused_port}', timeout=3))
    assert 'cannot be reached' in a.message_text and not a.select(100002)


@pytest.fixture
def unused_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_from_env(monkeypatch):
    monkeypatch.setenv('OCR6_API_URL', 'http://127.0.0.1:1/'); monkeypatch.setenv('OCR6_API_TOKEN', 'abc')
    api = ApiClient.from_env()
    assert api.base_url == 'http://127.0.0.1:1' and api.http.headers['authorization'] == 'Bearer abc'


def test_dashboard_command(tmp_path):
    argv, env = dashboard_command('http://127.0.0.1:8000/', 8899, token=None)
    assert argv[1:3] == ['-m', 'voila'] and argv[3].endswith('dashboards/advisor.ipynb')
    assert {'--port=8899', '--Voila.ip=127.0.0.1', '--preheat_kernel=True', '--no-browser'} <= set(argv)
    assert env['OCR6_API_URL'] == 'http://127.0.0.1:8000' and 'OCR6_API_TOKEN' not in env
    with pytest.raises(FileNotFoundError): dashboard_command('http://x', notebook=tmp_path/'nope.ipynb')


def test_advisor_notebook_only_composes_app():
    import nbformat
    from conftest import ROOT
    nb = nbformat.read(ROOT/'dashboards'/'advisor.ipynb', as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == 'code']
    assert len(code) == 1 and 'App.from_env()' in code[0] and 'app.container' in code[0] and 'title_tag()' in code[0]
    assert not any(c.get('outputs') for c in nb.cells if c.cell_type == 'code')
    assert 'open(' not in code[0] and 'read_csv' not in code[0]  # all data comes from the API


def _css_rules() -> list[tuple[str, str]]:
    "The dashboard's CSS as (selector, declarations) pairs, read from the string the module injects."
    from ocr6_scoring.dashboard import CSS
    return [(s.strip(), d) for s, d in __import__('re').findall(r'([^{}<>]+)\{([^}]*)\}', CSS)]


def test_focus_outline_contrast():
    "WCAG 1.4.11 / 2.4.11: the keyboard focus outline has at least 3:1 against white and every container background."
    import re
    rules = _css_rules()
    focus = [d for s, d in rules if ':focus-visible' in s]
    assert len(focus) == 1, rules
    outline = re.search(r'outline\s*:[^;]*?(#[0-9a-fA-F]{6})\b', focus[0]).group(1)
    assert '!important' in focus[0]  # else the widgets' own `.jupyter-button:focus:enabled` rule wins on buttons
    backgrounds = {c for s, d in rules if 'button' not in s  # a focused button is ringed, its own fill is not beside the outline
                   for c in re.findall(r'background\s*:\s*(#[0-9a-fA-F]{6})\b', d)}
    assert {BACKGROUND, BADGE['granted'], BADGE['refused']} <= backgrounds, backgrounds
    for bg in {'#ffffff', *backgrounds}:
        assert contrast_ratio(outline, bg) >= 3, (outline, bg, round(contrast_ratio(outline, bg), 2))


def _tick_labels(chart, data, monkeypatch) -> tuple[list[str], str]:
    "The y tick labels a chart function draws (read from the figure it renders), and its text alternative."
    import ocr6_scoring.dashboard as dash
    figs = []
    real = dash.chart_html
    monkeypatch.setattr(dash, 'chart_html', lambda fig, text, **kw: figs.append(fig) or real(fig, text, **kw))
    _, txt = chart(data)
    return [t.get_text() for t in figs[0].axes[0].get_yticklabels()], txt


LONG = ['Previous product type (walk-in or cross-sell)', 'Previous interest-rate group: middle (share)']

@pytest.mark.parametrize('kind', ['importance', 'contributions'])
def test_long_feature_names_wrapped_not_cut(kind, monkeypatch):
    "Long names are wrapped on two lines that keep every word; the text alternative holds the full name."
    from ocr6_scoring.dashboard import importance_chart, contributions_chart
    huge = 'Number of previous applications refused in the last five years at any lender of the bureau'
    names = [*LONG, huge, 'Age']
    if kind == 'importance':
        chart, data = importance_chart, [{'group': f'g{i}', 'label': n, 'importance': 4. - i} for i, n in enumerate(names)]
    else:
        chart, data = contributions_chart, {'probability': .3, 'base_probability': .1, 'contributions': [
            {'label': n, 'probability_points': (-1) ** i * (4. - i)} for i, n in enumerate(names)]}
    ticks, txt = _tick_labels(chart, data, monkeypatch)
    assert len(ticks) == len(names)
    for n in LONG:
        shown = [t for t in ticks if t.split()[:2] == n.split()[:2]]
        assert len(shown) == 1 and ' '.join(shown[0].split()) == n, (n, ticks)  # every word, across the lines
        assert 1 < len(shown[0].splitlines()) <= 2
    cut = [t for t in ticks if t.startswith('Number')][0]
    assert len(cut.splitlines()) == 2 and cut.endswith('…'), cut  # too long for two lines: abbreviated, with an ellipsis
    assert 'Age' in ticks
    for n in names: assert n in txt  # the text alternative (alt and disclosure) names each feature in full
