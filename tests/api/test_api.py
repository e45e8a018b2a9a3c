"""The REST API on both databases: keys, tenants, idempotency, pages, problems."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from storage.models import Invoice, OutboundMessage, Payment
from tests.api.conftest import Api, auth, url
from tests.builders import make_contact, make_invoice


def _contact_with_invoices(
    api: Api, business_id: int, *totals: str
) -> tuple[int, list[int]]:
    from storage.models import Business

    with api.db.session() as session, session.begin():
        business = session.get(Business, business_id)
        assert business is not None
        contact = make_contact(session, business, emails="pagos@acme.mx")
        ids = [make_invoice(session, contact, total=t).id for t in totals]
        return contact.id, ids


def test_missing_wrong_and_revoked_keys_get_401(
    api: Api, keyed: tuple[int, str]
) -> None:
    _, token = keyed
    assert api.client.get(url("/contacts")).status_code == 401
    wrong = api.client.get(url("/contacts"), headers=auth("cobra_x_y"))
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["status"] == 401 and wrong.json()["detail"]
    assert api.client.get(url("/contacts"), headers=auth(token)).status_code == 200

    from flows.apikeys import revoke_api_key
    from storage.models import ApiKey, Business

    with api.db.session() as session, session.begin():
        key = session.scalars(select(ApiKey)).one()
        business = session.get_one(Business, key.business_id)
        revoke_api_key(
            session,
            business=business,
            key_id=key.id,
            actor="t",
            channel="t",
            now=key.created_at,
        )
    assert api.client.get(url("/contacts"), headers=auth(token)).status_code == 401


def test_a_key_sees_only_its_business(api: Api, keyed: tuple[int, str]) -> None:
    mine_id, mine = keyed
    _, theirs = api.new_key("OTR990101AA1")
    contact_id, (invoice_id,) = _contact_with_invoices(api, mine_id, "1160.00")

    assert (
        api.client.get(url(f"/contacts/{contact_id}"), headers=auth(mine)).status_code
        == 200
    )
    for path in (
        f"/contacts/{contact_id}",
        f"/invoices/{invoice_id}",
        f"/contacts/{contact_id}/balance",
        f"/contacts/{contact_id}/aging",
    ):
        answer = api.client.get(url(path), headers=auth(theirs))
        assert answer.status_code == 404, path
        assert answer.json()["detail"].startswith("No existe")
    assert api.client.get(url("/contacts"), headers=auth(theirs)).json()["items"] == []
    assert api.client.get(url("/invoices"), headers=auth(theirs)).json()["items"] == []
    paid = api.client.post(
        url("/payments"),
        headers=auth(theirs, **{"Idempotency-Key": "x1"}),
        json={"contact_id": contact_id, "amount": "10.00"},
    )
    assert paid.status_code == 404
    patched = api.client.patch(
        url(f"/contacts/{contact_id}"), headers=auth(theirs), json={"terms_days": 5}
    )
    assert patched.status_code == 404


def test_payment_is_idempotent_and_conflicts_on_another_body(
    api: Api, keyed: tuple[int, str]
) -> None:
    business_id, token = keyed
    contact_id, (first, second) = _contact_with_invoices(
        api, business_id, "1000.00", "500.00"
    )
    body = {
        "contact_id": contact_id,
        "amount": "1200.00",
        "reference": "SPEI123",
        "allocations": [
            {"invoice_id": first, "amount": "1000.00"},
            {"invoice_id": second, "amount": "200.00"},
        ],
    }
    headers = auth(token, **{"Idempotency-Key": "pago-1"})
    created = api.client.post(url("/payments"), headers=headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["amount"] == "1200.00"
    assert created.json()["allocations"] == [
        {"invoice_id": first, "amount": "1000.00"},
        {"invoice_id": second, "amount": "200.00"},
    ]

    replay = api.client.post(url("/payments"), headers=headers, json=body)
    assert replay.status_code == 201
    assert replay.json() == created.json()
    assert replay.headers["Idempotent-Replayed"] == "true"

    other = api.client.post(
        url("/payments"), headers=headers, json={**body, "amount": "1.00"}
    )
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")

    with api.db.session() as session:
        assert session.scalar(select(func.count(Payment.id))) == 1
        paid = session.get(Invoice, first)
        assert (
            paid is not None and paid.status == "paid" and paid.balance == Decimal("0")
        )
        receipts = session.scalar(
            select(func.count(OutboundMessage.id)).where(
                OutboundMessage.template == "payment_receipt"
            )
        )
    assert receipts in (0, 1)  # 1 once receipts are part of the build


def test_payment_needs_a_key_and_refuses_overpayment(
    api: Api, keyed: tuple[int, str]
) -> None:
    business_id, token = keyed
    contact_id, _ = _contact_with_invoices(api, business_id, "100.00")
    body = {"contact_id": contact_id, "amount": "150.00"}
    assert (
        api.client.post(url("/payments"), headers=auth(token), json=body).status_code
        == 422
    )
    over = api.client.post(
        url("/payments"), headers=auth(token, **{"Idempotency-Key": "k"}), json=body
    )
    assert over.status_code == 422
    assert "mayor a lo que se debe" in over.json()["detail"]
    with api.db.session() as session:
        assert session.scalar(select(func.count(Payment.id))) == 0


def test_pages_cover_more_rows_than_a_page_once_each(
    api: Api, keyed: tuple[int, str]
) -> None:
    business_id, token = keyed
    _contact_with_invoices(api, business_id, *["10.00"] * 7)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        answer = api.client.get(url("/invoices"), headers=auth(token), params=params)
        assert answer.status_code == 200
        seen += [i["id"] for i in answer.json()["items"]]
        assert all(isinstance(i["total"], str) for i in answer.json()["items"])
        pages += 1
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 7 == len(set(seen))
    bad = api.client.get(url("/invoices"), headers=auth(token), params={"cursor": "zz"})
    assert bad.status_code == 422


def test_invoice_filters_balances_and_aging(api: Api, keyed: tuple[int, str]) -> None:
    business_id, token = keyed
    contact_id, ids = _contact_with_invoices(api, business_id, "100.00", "200.00")
    answer = api.client.get(
        url("/invoices"),
        headers=auth(token),
        params={"status": "pending", "contact_id": contact_id, "due_to": "2026-12-31"},
    )
    assert [i["id"] for i in answer.json()["items"]] == ids
    balance = api.client.get(url("/balances"), headers=auth(token)).json()
    assert balance["totals"] == [
        {"currency": "MXN", "open": "300.00", "overdue": "300.00", "invoices": 2}
    ]
    overall = api.client.get(url("/aging"), headers=auth(token)).json()
    mine = api.client.get(
        url(f"/contacts/{contact_id}/aging"), headers=auth(token)
    ).json()
    assert overall["totals"] == mine["totals"]
    assert mine["totals"][0]["buckets"]["1-30"] == "300.00"


def test_contacts_create_update_bulk_and_links(
    api: Api, keyed: tuple[int, str]
) -> None:
    _, token = keyed
    created = api.client.post(
        url("/contacts"),
        headers=auth(token),
        json={"rfc": "ACM010101AB1", "name": "Acme", "email": "a@acme.mx"},
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    again = api.client.post(
        url("/contacts"),
        headers=auth(token),
        json={"rfc": "ACM010101AB1", "name": "Acme"},
    )
    assert again.status_code == 409

    patched = api.client.patch(
        url(f"/contacts/{contact_id}"),
        headers=auth(token),
        json={"whatsapp": "5512345678", "terms_days": 45, "reminders_enabled": False},
    )
    assert patched.json()["terms_days"] == 45
    assert patched.json()["whatsapp"].startswith("+52")
    assert patched.json()["reminders_enabled"] is False

    bulk = api.client.post(
        url("/contacts/bulk"),
        headers=auth(token),
        json={
            "contacts": [
                {"rfc": "ACM010101AB1", "emails": ["cxc@acme.mx"], "terms_days": 15},
                {"rfc": "NUE020202AB2", "name": "Nueva SA"},
                {"rfc": "MAL", "name": "Mal"},
                {"rfc": "SIN030303AB3"},
            ]
        },
    )
    result = bulk.json()
    assert (result["created"], result["updated"], result["rejected"]) == (1, 1, 2)
    assert [e["line"] for e in result["errors"]] == [3, 4]

    link = api.client.post(
        url("/payment-links"),
        headers=auth(token),
        json={"contact_id": contact_id, "amount": "50"},
    )
    assert link.status_code == 201
    assert link.json()["url"].startswith("https://cobra.example.mx/portal/")
    assert link.json()["amount"] == "50.00"
    revoked = api.client.delete(
        url(f"/payment-links/{contact_id}"), headers=auth(token)
    )
    assert revoked.status_code == 204
    fresh = api.client.post(
        url("/payment-links"), headers=auth(token), json={"contact_id": contact_id}
    )
    assert fresh.json()["url"].split("?")[0] != link.json()["url"].split("?")[0]


def test_reminders_pause_resume_and_webhook_endpoints(
    api: Api, keyed: tuple[int, str]
) -> None:
    _, token = keyed
    paused = api.client.post(url("/reminders/pause"), headers=auth(token))
    assert paused.json() == {"paused": True}
    assert api.client.post(url("/reminders/resume"), headers=auth(token)).json() == {
        "paused": False
    }
    hook = api.client.post(
        url("/webhooks"),
        headers=auth(token),
        json={"url": "https://erp.example.mx/cobra", "events": ["invoice.paid"]},
    )
    assert hook.status_code == 201
    assert hook.json()["secret"].startswith("whsec_")
    listed = api.client.get(url("/webhooks"), headers=auth(token)).json()
    assert listed[0]["events"] == ["invoice.paid"] and "secret" not in listed[0]
    assert (
        api.client.delete(
            url(f"/webhooks/{hook.json()['id']}"), headers=auth(token)
        ).status_code
        == 204
    )
    assert api.client.get(url("/webhooks"), headers=auth(token)).json() == []


def test_validation_errors_are_spanish_problems(
    api: Api, keyed: tuple[int, str]
) -> None:
    _, token = keyed
    answer = api.client.post(
        url("/payments"),
        headers=auth(token, **{"Idempotency-Key": "v"}),
        json={"contact_id": 1, "amount": 12.5},
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["detail"] == "La solicitud tiene datos inválidos."
    assert problem["errors"][0]["field"] == "body.amount"
