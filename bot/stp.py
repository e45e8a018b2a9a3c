"""STP: the SPEI deposit and order-status webhooks, and the client that sends
transfer orders (signed with the company's RSA key) and asks for their status.

Routes: `POST /webhooks/stp` (deposits, the public contract) and
`POST /webhooks/stp/orders` (status of our transfer orders: liquidated, returned);
both carry `X-Cobra-Signature`, the hex HMAC-SHA256 of the raw body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from bot.runtime import Runtime
from bot.settings import Settings
from flows import deposits, payouts
from flows.errors import InvalidInput, ProviderError
from flows.fmt import to_money
from flows.payouts import OrderStatus, OrderUncertain, TransferOrder
from storage.db import transaction
from storage.models import DepositStatus, PayoutStatus

log = logging.getLogger(__name__)

DEPOSIT_PATH = "/webhooks/stp"
ORDER_STATUS_PATH = "/webhooks/stp/orders"
SIGNATURE_HEADER = "X-Cobra-Signature"
ACKNOWLEDGE = {"mensaje": "confirmar"}
STP_INSTITUTION = "90646"
PROVIDER_TIMEOUT = 15.0
JOB_INTERVAL_SECONDS = 30

# Keys of `Runtime.extras` that tests and deployments may set.
CLOCK = "stp.clock"
CLIENT = "stp.client"
WORKER = "stp.worker"

# The order of the fields in the "cadena original" STP signs for a transfer order.
ORDER_FIELDS = (
    "institucionContraparte",
    "empresa",
    "fechaOperacion",
    "folioOrigen",
    "claveRastreo",
    "institucionOperante",
    "monto",
    "tipoPago",
    "tipoCuentaOrdenante",
    "nombreOrdenante",
    "cuentaOrdenante",
    "rfcCurpOrdenante",
    "tipoCuentaBeneficiario",
    "nombreBeneficiario",
    "cuentaBeneficiario",
    "rfcCurpBeneficiario",
    "emailBeneficiario",
    "tipoCuentaBeneficiario2",
    "nombreBeneficiario2",
    "cuentaBeneficiario2",
    "rfcCurpBeneficiario2",
    "conceptoPago",
    "conceptoPago2",
    "claveCatUsuario1",
    "claveCatUsuario2",
    "clavePago",
    "referenciaCobranza",
    "referenciaNumerica",
    "tipoOperacion",
    "topologia",
    "usuario",
    "medioEntrega",
    "prioridad",
    "iva",
)
STATUS_FIELDS = ("empresa", "claveRastreo", "fechaOperacion")

# STP's words for an order's state, folded to lowercase, to Cobra's.
ORDER_STATES = {
    "liquidacion": PayoutStatus.LIQUIDATED,
    "liquidada": PayoutStatus.LIQUIDATED,
    "exitosa": PayoutStatus.LIQUIDATED,
    "success": PayoutStatus.LIQUIDATED,
    "lq": PayoutStatus.LIQUIDATED,
    "devolucion": PayoutStatus.RETURNED,
    "devuelta": PayoutStatus.RETURNED,
    "d": PayoutStatus.RETURNED,
    "cancelacion": PayoutStatus.FAILED,
    "cancelada": PayoutStatus.FAILED,
    "rechazada": PayoutStatus.FAILED,
    "c": PayoutStatus.FAILED,
    "enviada": PayoutStatus.SENT,
    "autorizada": PayoutStatus.SENT,
    "pendiente": PayoutStatus.SENT,
    "registrada": PayoutStatus.SENT,
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def install(app: FastAPI, runtime: Runtime) -> None:
    router = APIRouter()
    router.add_api_route(DEPOSIT_PATH, handle_deposit, methods=["POST"])
    router.add_api_route(ORDER_STATUS_PATH, handle_order_status, methods=["POST"])
    app.include_router(router)
    app.state.startup.append(start_worker)
    app.state.startup.append(start_jobs)


class DepositWorker:
    """Applies stored deposits one at a time, off the webhook's answer.

    One thread, so applications never compete with each other for the database;
    what it had queued when the process stops is still `received` in the
    database and is picked up by `run_jobs` (or at the next start).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.queue: queue.Queue[int | None] = queue.Queue()
        self.thread = threading.Thread(
            target=self._run, name="stp-deposits", daemon=True
        )
        self.running = False

    def start(self) -> None:
        self.running = True
        self.thread.start()

    def submit(self, deposit_id: int) -> None:
        self.queue.put(deposit_id)

    def wait_idle(self) -> None:
        """Until everything submitted so far is applied (tests, benchmarks)."""
        self.queue.join()

    def stop(self) -> None:
        self.running = False
        self.queue.put(None)
        self.thread.join(timeout=30)

    def _run(self) -> None:
        config = receipt_config(self.runtime)
        clock = clock_of(self.runtime)
        while True:
            deposit_id = self.queue.get()
            try:
                if deposit_id is None:
                    return
                deposits.apply_stored(
                    self.runtime.factory,
                    deposit_id=deposit_id,
                    config=config,
                    now=clock(),
                )
            except Exception:
                log.exception(
                    "stp deposit worker failed", extra={"deposit_id": deposit_id}
                )
            finally:
                self.queue.task_done()


async def start_worker(
    app: FastAPI, runtime: Runtime, run_scheduler: bool
) -> Callable[[], Awaitable[None]]:
    """The deposit worker, with whatever an earlier process left `received`."""
    worker = DepositWorker(runtime)
    worker.start()
    runtime.extras[WORKER] = worker
    for deposit_id in await run_in_threadpool(_left_received, runtime):
        worker.submit(deposit_id)

    async def stop() -> None:
        await run_in_threadpool(worker.stop)
        runtime.extras.pop(WORKER, None)

    return stop


def wait_for_deposits(runtime: Runtime) -> None:
    """Block until the deposit worker has applied what it was given."""
    worker: DepositWorker | None = runtime.extras.get(WORKER)
    if worker is not None:
        worker.wait_idle()


def _left_received(runtime: Runtime) -> list[int]:
    with runtime.factory() as session:
        return deposits.received_ids(session)


# --- webhooks: verify, then dispatch -------------------------------------------


def signature_is_valid(settings: Settings, body: bytes, signature: str | None) -> bool:
    """Fail closed: no secret configured, or no header, is a refusal."""
    if settings.stp_webhook_secret is None:
        log.warning("stp webhook refused: STP_WEBHOOK_SECRET is not set")
        return False
    if not signature:
        return False
    secret = settings.stp_webhook_secret.get_secret_value().encode()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def sign_body(secret: str, body: bytes) -> str:
    """The `X-Cobra-Signature` of a body (for STP's configuration and for tests)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def handle_deposit(request: Request) -> Response:
    """Store the notice, acknowledge it, then apply it after the answer is sent."""
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    if not signature_is_valid(
        runtime.settings, body, request.headers.get(SIGNATURE_HEADER)
    ):
        return Response(status_code=403)
    try:
        notice = parse_deposit(json.loads(body, parse_float=Decimal))
    except (ValueError, InvalidInput) as exc:
        log.warning("stp deposit notice rejected", extra={"error": str(exc)[:200]})
        return JSONResponse({"mensaje": "notificación inválida"}, status_code=400)

    now = clock_of(runtime)()
    deposit_id, status = await run_in_threadpool(_store, runtime, notice, now)
    task = None
    if status == DepositStatus.RECEIVED:
        worker: DepositWorker | None = runtime.extras.get(WORKER)
        if worker is not None and worker.running:
            worker.submit(deposit_id)
        else:
            task = BackgroundTask(
                deposits.apply_stored,
                runtime.factory,
                deposit_id=deposit_id,
                config=receipt_config(runtime),
                now=now,
            )
    return JSONResponse(ACKNOWLEDGE, background=task)


async def handle_order_status(request: Request) -> Response:
    """STP's change of state of one of our orders: liquidated, returned, cancelled."""
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    if not signature_is_valid(
        runtime.settings, body, request.headers.get(SIGNATURE_HEADER)
    ):
        return Response(status_code=403)
    try:
        data = json.loads(body, parse_float=Decimal)
        status, clave = parse_order_status(data)
    except (ValueError, InvalidInput) as exc:
        log.warning("stp order status rejected", extra={"error": str(exc)[:200]})
        return JSONResponse({"mensaje": "notificación inválida"}, status_code=400)

    now = clock_of(runtime)()
    await run_in_threadpool(_order_status, runtime, status, clave, now)
    return JSONResponse({"mensaje": "recibido"})


def _store(
    runtime: Runtime, notice: deposits.DepositNotice, now: dt.datetime
) -> tuple[int, str]:
    with transaction(runtime.factory) as session:
        row, new = deposits.store_notice(session, notice=notice, now=now)
        if not new:
            log.info("stp deposit notice repeated", extra={"deposit_id": row.id})
        return row.id, str(row.status)


def _order_status(
    runtime: Runtime, status: OrderStatus, clave: str | None, now: dt.datetime
) -> None:
    with transaction(runtime.factory) as session:
        payouts.handle_order_status(
            session, status=status, clave_rastreo=clave, now=now
        )


def parse_deposit(data: Any) -> deposits.DepositNotice:
    """STP's deposit JSON to a notice; anything malformed is InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput("el cuerpo no es un objeto JSON")
    clave = str(data.get("claveRastreo") or "").strip()
    account = str(data.get("cuentaBeneficiario") or "").strip()
    if not clave or len(clave) > 64:
        raise InvalidInput("falta claveRastreo")
    if not account.isdigit():
        raise InvalidInput("cuentaBeneficiario inválida")
    amount = _amount(data.get("monto"))
    return deposits.DepositNotice(
        clave_rastreo=clave,
        fecha_operacion=_operation_date(data.get("fechaOperacion")),
        amount=amount,
        beneficiary_account=account,
        stp_id=_text(data.get("id"), 32),
        payer_account=_text(data.get("cuentaOrdenante"), 20),
        payer_name=_text(data.get("nombreOrdenante"), 120),
        payer_bank=_text(data.get("institucionOrdenante"), 8),
        concept=_text(data.get("conceptoPago"), 210),
        numeric_reference=_text(data.get("referenciaNumerica"), 16),
        settled_at=_timestamp(data.get("tsLiquidacion")),
        # Kept as STP sent it, with amounts as their exact decimal text.
        raw={k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()},
    )


def parse_order_status(data: Any) -> tuple[OrderStatus, str | None]:
    if not isinstance(data, dict):
        raise InvalidInput("el cuerpo no es un objeto JSON")
    state = ORDER_STATES.get(str(data.get("estado") or "").strip().lower())
    if state is None:
        raise InvalidInput("estado desconocido")
    stp_id = _text(data.get("id"), 32)
    clave = _text(data.get("claveRastreo"), 30) or _text(data.get("folioOrigen"), 30)
    if not stp_id and not clave:
        raise InvalidInput("falta id o claveRastreo")
    status = OrderStatus(
        state=state,
        stp_id=stp_id,
        cause=_text(data.get("causaDevolucion"), 200),
        settled_at=_timestamp(data.get("tsLiquidacion")),
    )
    return status, clave


def _amount(value: Any) -> Decimal:
    # Notices are parsed with `parse_float=Decimal`: the amount never is a float.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise InvalidInput("monto inválido")
    try:
        amount = to_money(Decimal(str(value)))
    except (InvalidOperation, InvalidInput) as exc:
        raise InvalidInput("monto inválido") from exc
    if amount <= 0:
        raise InvalidInput("monto inválido")
    return amount


def _operation_date(value: Any) -> dt.date:
    try:
        return dt.datetime.strptime(str(value), "%Y%m%d").date()
    except ValueError as exc:
        raise InvalidInput("fechaOperacion no es aaaammdd") from exc


def _timestamp(value: Any) -> dt.datetime | None:
    """STP sends `tsLiquidacion` as milliseconds since the epoch."""
    if value in (None, ""):
        return None
    try:
        return dt.datetime.fromtimestamp(int(str(value)) / 1000, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def receipt_config(runtime: Runtime) -> deposits.ReceiptConfig:
    return deposits.ReceiptConfig(
        public_base_url=runtime.settings.public_base_url,
        portal_key=runtime.portal_key,
    )


def clock_of(runtime: Runtime) -> Callable[[], dt.datetime]:
    clock: Callable[[], dt.datetime] = runtime.extras.get(CLOCK, utcnow)
    return clock


# --- the client for transfer orders ---------------------------------------------


def cadena_original(values: dict[str, Any], fields: tuple[str, ...]) -> str:
    """STP's string to sign: `||a|b|...||`, an absent field as an empty slot."""
    parts = ["" if values.get(name) is None else str(values[name]) for name in fields]
    return "||" + "|".join(parts) + "||"


class StpClient:
    """One method per STP call; signs every request with the company's key."""

    def __init__(
        self,
        *,
        base_url: str,
        empresa: str,
        private_key: Any,
        timeout: float = PROVIDER_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.empresa = empresa
        self._key = private_key
        self._http = httpx.Client(timeout=timeout, transport=transport)

    @classmethod
    def from_settings(cls, settings: Settings) -> StpClient | UnconfiguredStp:
        if not (
            settings.stp_api_base_url
            and settings.stp_empresa
            and settings.stp_private_key_path
        ):
            return UnconfiguredStp()
        password = (
            settings.stp_private_key_password.get_secret_value().encode()
            if settings.stp_private_key_password
            else None
        )
        return cls(
            base_url=settings.stp_api_base_url,
            empresa=settings.stp_empresa,
            private_key=load_private_key(Path(settings.stp_private_key_path), password),
        )

    def sign(self, cadena: str) -> str:
        """SHA256withRSA over the cadena original, base64."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self._key.sign(
            cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
        )
        return base64.b64encode(signature).decode("ascii")

    def order_body(self, order: TransferOrder) -> dict[str, Any]:
        from clabe import BANKS

        values: dict[str, Any] = {
            "institucionContraparte": BANKS.get(order.beneficiary_clabe[:3]),
            "empresa": self.empresa,
            "fechaOperacion": order.fecha_operacion.strftime("%Y%m%d"),
            "folioOrigen": order.clave_rastreo,
            "claveRastreo": order.clave_rastreo,
            "institucionOperante": STP_INSTITUTION,
            "monto": f"{order.amount:.2f}",
            "tipoPago": 1,
            "tipoCuentaOrdenante": 40,
            "nombreOrdenante": _spei_text(order.ordering_name, 39),
            "cuentaOrdenante": order.ordering_account,
            "tipoCuentaBeneficiario": 40,
            "nombreBeneficiario": _spei_text(order.beneficiary_name, 39),
            "cuentaBeneficiario": order.beneficiary_clabe,
            "rfcCurpBeneficiario": order.beneficiary_rfc or "ND",
            "conceptoPago": _spei_text(order.concept, 39),
            "referenciaNumerica": order.numeric_reference,
            "topologia": "T",
            "medioEntrega": 3,
            "prioridad": 1,
        }
        values["firma"] = self.sign(cadena_original(values, ORDER_FIELDS))
        return {k: v for k, v in values.items() if v is not None}

    def register_order(self, order: TransferOrder) -> str:
        """`registraOrden`: STP's order id, or ProviderError (OrderUncertain when the
        order may have arrived)."""
        body = self.order_body(order)
        data = self._call("PUT", "/ordenPago/registra", body)
        result = data.get("resultado") or {}
        order_id = result.get("id")
        if isinstance(order_id, int) and order_id > 0:
            return str(order_id)
        reason = str(result.get("descripcionError") or "STP rechazó la orden")
        if "rastreo" in reason.lower():
            # The tracking key is taken: an earlier try got there. Ask, do not resend.
            raise OrderUncertain(reason)
        raise ProviderError(f"STP rechazó la orden: {reason}", temporary=False)

    def order_status(
        self, *, clave_rastreo: str, fecha_operacion: dt.date
    ) -> OrderStatus | None:
        """An order by tracking key; None when STP has no such order."""
        values: dict[str, Any] = {
            "empresa": self.empresa,
            "claveRastreo": clave_rastreo,
            "fechaOperacion": fecha_operacion.strftime("%Y%m%d"),
        }
        values["firma"] = self.sign(cadena_original(values, STATUS_FIELDS))
        data = self._call("POST", "/ordenPago/consEstado", values)
        result = data.get("resultado") or {}
        order_id = result.get("id")
        if not order_id:
            return None
        state = ORDER_STATES.get(
            str(result.get("estado") or "").lower(), PayoutStatus.SENT
        )
        return OrderStatus(
            state=state,
            stp_id=str(order_id),
            cause=_text(result.get("causaDevolucion"), 200),
            settled_at=_timestamp(result.get("tsLiquidacion")),
        )

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.request(method, self.base_url + path, json=body)
        except httpx.TimeoutException as exc:
            raise OrderUncertain("STP no contestó a tiempo") from exc
        except httpx.HTTPError as exc:
            raise OrderUncertain("no pude hablar con STP") from exc
        if response.status_code >= 500:
            raise OrderUncertain(f"STP contestó {response.status_code}")
        if response.status_code >= 400:
            raise ProviderError(f"STP contestó {response.status_code}", temporary=False)
        try:
            data = response.json()
        except ValueError as exc:
            raise OrderUncertain("STP contestó algo que no es JSON") from exc
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        self._http.close()


class UnconfiguredStp:
    """Stands in when STP's settings are missing: every order is refused, with why."""

    def register_order(self, order: TransferOrder) -> str:
        raise ProviderError(
            "STP no está configurado (STP_API_BASE_URL, STP_EMPRESA, "
            "STP_PRIVATE_KEY_PATH)",
            temporary=False,
        )

    def order_status(
        self, *, clave_rastreo: str, fecha_operacion: dt.date
    ) -> OrderStatus | None:
        return None


def load_private_key(path: Path, password: bytes | None) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(path.read_bytes(), password=password)
    except (OSError, ValueError, TypeError) as exc:
        raise ProviderError(
            "No pude leer la llave privada de STP; revisa STP_PRIVATE_KEY_PATH y su "
            "contraseña.",
            temporary=False,
        ) from exc


def _spei_text(text: str, limit: int) -> str:
    """SPEI takes plain letters: accents off, no `|` (it separates the fields)."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = plain.replace("|", " ").replace("ñ", "n").replace("Ñ", "N")
    return " ".join(plain.split())[:limit]


def client_of(runtime: Runtime) -> payouts.TransferClient:
    client: payouts.TransferClient | None = runtime.extras.get(CLIENT)
    if client is None:
        client = StpClient.from_settings(runtime.settings)
        runtime.extras[CLIENT] = client
    return client


# --- scheduled work ----------------------------------------------------------------


def run_jobs(runtime: Runtime) -> dict[str, Any]:
    """One pass: deposits stored but not applied, then payouts due or unsure."""
    now = clock_of(runtime)()
    applied = deposits.run_pending_deposits(
        runtime.factory, config=receipt_config(runtime), now=now
    )
    try:
        client = client_of(runtime)
    except ProviderError as exc:
        log.error("stp client unavailable", extra={"error": exc.message})
        return {"deposits": applied}
    sent = payouts.run_scheduled_payouts(runtime.factory, now, client=client)
    return {"deposits": applied, "payouts": sent}


async def start_jobs(
    app: FastAPI, runtime: Runtime, run_scheduler: bool
) -> Callable[[], Awaitable[None]] | None:
    """With the scheduler on, run `run_jobs` every half minute until shutdown."""
    if not run_scheduler:
        return None

    async def loop() -> None:
        while True:
            try:
                await run_in_threadpool(run_jobs, runtime)
            except Exception:
                log.exception("stp jobs pass failed")
            await asyncio.sleep(JOB_INTERVAL_SECONDS)

    task = asyncio.create_task(loop())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
