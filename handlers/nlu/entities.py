"""Putting a message's entities together, including the customer's name as written."""

from __future__ import annotations

import datetime
import re

from handlers.nlu.normalize import Token, tokenize
from handlers.nlu.parsing import (
    Span,
    masked_spans_for_names,
    parse_amount,
    parse_date,
    parse_email,
    parse_invoice_refs,
    parse_period,
    parse_phone,
)
from handlers.nlu.types import Entities

# Words that join the parts of a business name ("Papelera del Norte").
_CONNECTORS = frozenset({"de", "del", "la", "las", "los", "el", "y", "&", "e"})

# Words of the requests themselves: never part of a customer's name.
_REQUEST_WORDS = frozenset(
    """
    a al ante con contra en entre hacia hasta para por porque segun sin sobre tras
    que quien quienes cual cuales cuanto cuanta cuantos cuantas como cuando donde
    me te le les lo los nos se mi mis tu tus su sus yo usted ustedes ella el ellos
    un una unos unas este esta estos estas ese esa eso esos esas aquel
    ya no si ok va dale orale sale bueno pues oye oiga hey hola gracias favor por
    ayer hoy manana pasado semana mes ano dia dias proximo proxima siguiente
    lunes martes miercoles jueves viernes sabado domingo quincena fin
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre
    diciembre ene feb mar abr may jun jul ago sep sept oct nov dic
    pago pague pagaron pagado pagada pagadas pagados pagar pagarle pagale paga pagale
    pagos pagó abono abona abonar abonaron abonos deposito deposite depositaron
    depositar deposita transfirio transferencia transfiere transfierele recibi
    recibimos recibido cobre cobrado cobranza cobrar cobro liquido liquida liquidar
    liquidale liquidaron marca marcar marcala marcalas registra registrar registrame
    anota apunta apuntale anotale llego entro entraron
    saldo saldos debe deben debo deuda deudas adeudo adeuda estado cuenta cuentas
    factura facturas folio folios xml pdf cfdi total totales vencida vencidas
    vencido vencidos atrasado atrasada atrasadas
    link liga enlace portal nuevo nueva otro otra manda mandale mandales mandar
    envia enviale enviar pasale pasa comparte compartele genera generale revoca
    cambia renueva regenera
    whatsapp correo numero cel celular telefono tel es son era
    activa activale activar desactiva desactivale desactivar prende apaga enciende
    habilita deshabilita quita quitale pon ponle
    recordatorio recordatorios mensajes mensaje avisos aviso pausa pausale pausar
    reanuda reanudar reactiva reactivar suspende suspender deten detener retoma
    oculta ocultale ocultar esconde muestra mostrar desoculta
    responder responde respondele contesta contestale contestar dile decirle
    clientes cliente proveedor proveedores todos todas
    mas mayor mayores grande muy mucho todo total
    cantidad monto mil k pesos dolares mxn usd millon millones medio lana
    quiero necesito dame ponme hazme puedes podrias quisiera ocupo
    lo la las los del
    """.split()
)
_STOP_AFTER = re.compile(r"[,:;?!.]$")


def _blocked(token: Token, masked: list[Span]) -> bool:
    if not token.norm or any(token.start < end and start < token.end for start, end in masked):
        return True
    return token.norm in _REQUEST_WORDS and token.norm not in _CONNECTORS


def extract_customer(text: str, today: datetime.date) -> str | None:
    """The name phrase of a customer or supplier, as written ("Grupo Norte").

    A name is a run of words that are none of the request's own words,
    amounts, dates or invoice references; "del", "de", "la" and "y" may join
    its parts. The first such run wins.
    """
    # Limitation: a business named with request words ("Pagos Rápidos",
    # "Saldo Fácil") is not recognized by name; matching by RFC still works.
    masked = masked_spans_for_names(text, today)
    tokens = tokenize(text)
    runs: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if token.norm in _CONNECTORS and current:
            current.append(token)
        elif _blocked(token, masked):
            if current:
                runs.append(current)
            current = []
            continue
        else:
            current.append(token)
        if _STOP_AFTER.search(token.raw):
            runs.append(current)
            current = []
    if current:
        runs.append(current)

    for run in runs:
        while run and run[-1].norm in _CONNECTORS:
            run.pop()
        while run and run[0].norm in _CONNECTORS:
            run.pop(0)
        if run:
            phrase = text[run[0].start : run[-1].end]
            return phrase.strip(" ,:;?!.¿¡\"'")
    return None


_ALL = re.compile(
    r"\b(?:todos|todas|a todo el mundo|toda la cartera|de todos|general|global)\b"
)


def mentions_everyone(normalized: str) -> bool:
    """ "todos", "todos los clientes", "a todos"."""
    return bool(_ALL.search(normalized))


def parse_entities(
    text: str, today: datetime.date, *, customer: bool, free_text: str | None = None
) -> Entities:
    """All entities of a message; the customer's name only when asked for."""
    amount = parse_amount(text)
    return Entities(
        amount=amount[0] if amount else None,
        currency=amount[1] if amount else None,
        invoice_refs=parse_invoice_refs(text),
        customer=extract_customer(text, today) if customer else None,
        date=parse_date(text, today),
        period=parse_period(text),
        phone=parse_phone(text),
        email=parse_email(text),
        all_contacts=False,
        text=free_text,
    )
