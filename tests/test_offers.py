"Counter-offers (issue 23, part 2) on a model trained on the real sample: the service and GET /clients/{id}/counter-offers."
import json
import pytest
from fastapi.testclient import TestClient

@pytest.fixture(scope='module')
def answers(service):
    "The counter-offers (k=3) of the first 60 refused clients of the sample, by client id."
    refused = [int(i) for i in service.ids if service._known_score(i)['decision'] == 'refused'][:60]
    assert len(refused) == 60, 'the sample model refuses too few clients to test counter-offers'
    return {i: service.counter_offers(i, k=3) for i in refused}

def _with_offers(answers, n=None):
    ids = [i for i, a in answers.items() if a['offers']]
    assert len(ids) >= 10, f'only {len(ids)} refused clients have an offer'
    return ids[:n]

def test_offers_rescore_through_what_if(answers, service, client):
    "Every offer re-scored by the what-if service gives its probability (to 1e-9), below the threshold; through HTTP too."
    for cid in _with_offers(answers):
        for o in answers[cid]['offers']:
            w = service.what_if(cid, o['overrides'])['after']
            assert w['probability'] == pytest.approx(o['probability'], abs=1e-9) and w['decision'] == o['decision'] == 'granted'
            assert o['probability'] < service.threshold and o['distance'] == pytest.approx(o['probability'] - service.threshold)
    for cid in _with_offers(answers, 5):
        r = client.get(f'/clients/{cid}/counter-offers', params={'k': 3})
        assert r.status_code == 200, r.text
        assert r.json()['offers'] == answers[cid]['offers']  # the same answer through HTTP
        for o in r.json()['offers']:
            w = client.post(f'/clients/{cid}/what-if', json={'overrides': o['overrides']}).json()['after']
            assert w['probability'] == pytest.approx(o['probability'], abs=1e-9) and w['decision'] == 'granted'

def test_only_negotiable_fields_within_bounds(answers, service):
    from ocr6_scoring.offers import Bounds, NEGOTIABLE
    b = Bounds()
    for cid in _with_offers(answers):
        app = service.client(cid)['application']
        for o in answers[cid]['offers']:
            assert set(o['overrides']) <= set(NEGOTIABLE) and [c['field'] for c in o['changes']] == list(o['overrides'])
            new = {**app, **o['overrides']}
            assert {k: v for k, v in new.items() if k not in NEGOTIABLE} == {k: v for k, v in app.items() if k not in NEGOTIABLE}
            floor = b.min_credit_share * (app['AMT_GOODS_PRICE'] or app['AMT_CREDIT'])
            assert floor - 1e-6 <= new['AMT_CREDIT'] <= app['AMT_CREDIT'], (cid, o)
            assert new['AMT_ANNUITY'] <= b.max_annuity_share * app['AMT_INCOME_TOTAL'] + 1e-6, (cid, o)
            own = app['AMT_CREDIT'] / app['AMT_ANNUITY']
            assert o['term']['old'] == pytest.approx(own) and (o['term']['new'] == pytest.approx(own) or o['term']['new'] in b.terms)
            if o['kind'] == 'cheaper goods':
                assert new['AMT_GOODS_PRICE'] / new['AMT_CREDIT'] == pytest.approx(app['AMT_GOODS_PRICE'] / app['AMT_CREDIT'], rel=1e-6)
            else: assert new['AMT_GOODS_PRICE'] == app['AMT_GOODS_PRICE']
            assert o['sentence'] and f"{new['AMT_ANNUITY']:,.0f}" in o['sentence']
        changes = [o['change'] for o in answers[cid]['offers']]
        assert changes == sorted(changes)  # smallest change first

def test_custom_bounds_respected(answers, service):
    from ocr6_scoring.offers import Bounds
    b = Bounds(min_credit_share=0.9, max_annuity_share=0.2, terms=(24,))
    for cid in _with_offers(answers, 10):
        app = service.client(cid)['application']
        a = service.counter_offers(cid, k=10, bounds=b)
        assert a['bounds']['terms'] == [24] and (a['offers'] or a['reason'])
        for o in a['offers']:
            new = {**app, **o['overrides']}
            assert new['AMT_CREDIT'] >= 0.9 * (app['AMT_GOODS_PRICE'] or app['AMT_CREDIT']) - 1e-6
            assert new['AMT_ANNUITY'] <= 0.2 * app['AMT_INCOME_TOTAL'] + 1e-6 and o['term']['new'] in (24, pytest.approx(o['term']['old']))

def test_k_respected_and_one_batch(answers, service, monkeypatch):
    "Up to k offers, the first ones of a larger k; the whole grid is scored in one call of the what-if path."
    cid = max(_with_offers(answers), key=lambda i: len(answers[i]['offers']))
    calls = []
    real = service.what_if_probabilities
    monkeypatch.setattr(service, 'what_if_probabilities', lambda c, ovs: calls.append(len(ovs)) or real(c, ovs))
    one, ten = service.counter_offers(cid, k=1), service.counter_offers(cid, k=10)
    assert len(one['offers']) == 1 and 1 <= len(ten['offers']) <= 10 and len(ten['offers']) >= len(answers[cid]['offers'])
    assert one['offers'][0] == ten['offers'][0] == answers[cid]['offers'][0]
    assert calls == [one['candidates'], ten['candidates']] and one['candidates'] > 50
    assert len({(o['kind'], o['term']['new']) for o in ten['offers']}) == len(ten['offers'])  # one offer per kind and term

def test_no_offer_has_a_reason(answers, service):
    none = [a for a in answers.values() if not a['offers']]
    assert none, 'every refused client has an offer: the test of an empty answer needs one that has none'
    for a in none:
        assert a['reason'].startswith(('no change within the bounds', 'no change fits the bounds')), a['reason']
        assert a['lowest_probability'] is None or a['lowest_probability'] >= service.threshold

def test_granted_client(service, client):
    cid = next(int(i) for i in service.ids if service._known_score(i)['decision'] == 'granted')
    r = client.get(f'/clients/{cid}/counter-offers')
    assert r.status_code == 200 and r.json()['offers'] == [] and r.json()['reason'] == 'already granted'
    assert r.json()['decision'] == 'granted' and r.json()['id'] == cid

def test_errors(client, service, monkeypatch):
    cid = int(service.ids[0])
    assert client.get('/clients/1/counter-offers').status_code == 404
    assert client.get('/clients/1/counter-offers').json()['detail'] == 'client 1 not found'
    for k in ('0', '11', 'x', '2.5'):
        r = client.get(f'/clients/{cid}/counter-offers', params={'k': k})
        assert r.status_code == 422 and r.json()['detail'][0]['loc'] == ['query', 'k'], (k, r.text)
    assert client.get(f'/clients/+{cid}/counter-offers').status_code == 422
    from ocr6_scoring.service import ServiceError
    def away(rows): raise ServiceError(503, 'audit log unavailable (OperationalError): the decision was not recorded, so it is not given; retry later')
    monkeypatch.setattr(service.audit, 'write', away)
    r = client.get(f'/clients/{cid}/counter-offers')
    assert r.status_code == 503 and r.json()['detail'].startswith('audit log unavailable')

def test_token_required(service):
    from api.app import create_app
    with TestClient(create_app(service, token='s3cret')) as c:
        cid = int(service.ids[0])
        assert c.get(f'/clients/{cid}/counter-offers').status_code == 401
        assert c.get(f'/clients/{cid}/counter-offers', headers={'Authorization': 'Bearer s3cret'}).status_code == 200

def test_audit_row_is_a_simulation(answers, service, client):
    from ocr6_scoring.service import SIMULATION
    cid = _with_offers(answers, 1)[0]
    n0 = service.audit.count()
    a = client.get(f'/clients/{cid}/counter-offers', params={'k': 2}).json()
    assert service.audit.count() == n0 + 1  # one row per request, whatever the number of candidates scored
    row = service.audit.tail(1).iloc[0]
    assert (row.route, row.client_id, row.decision, row.model_version) == ('counter-offers', cid, SIMULATION, service.version)
    assert row.probability == pytest.approx(a['probability']) and row.threshold == pytest.approx(service.threshold)
    note = json.loads(row.reasons)
    assert note['decision'] == 'refused' and note['reason'] is None
    assert note['offers'] == [{'overrides': o['overrides'], 'probability': o['probability']} for o in a['offers']]
