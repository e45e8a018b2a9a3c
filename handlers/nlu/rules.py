"""The rules: fast, offline, deterministic intent patterns over normalized Spanish."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from handlers.nlu.types import Intent, Role


@dataclass(frozen=True)
class Clues:
    """What the parsers already found in the message, for rules that need it."""

    amount: bool
    refs: bool
    date: bool
    phone: bool
    email: bool
    colon_text: bool
    question: bool = False


@dataclass(frozen=True)
class Rule:
    intent: Intent
    pattern: re.Pattern[str]
    when: Callable[[Clues], bool] | None = None


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _whole(words: str) -> re.Pattern[str]:
    """A message that is only one of these phrases (optionally with "por favor")."""
    return re.compile(rf"^(?:(?:{words})\s*)+(?:por favor)?$")


_PAY_VERB = (
    r"(?:me\s+)?(?:pago|pagaron|deposito|depositaron|transfirio|transfirieron|"
    r"abono|abonaron|liquido|liquidaron|cubrio)"
)

_INVOICE_VERB = (
    r"(?:facturale|facturales|facturarle|hazle (?:una |la )?factura|"
    r"haz(?:me)? (?:una |la )?factura|emite (?:una |la )?factura|emitele|"
    r"genera(?:le)? (?:una |la )?factura|timbra(?:le)? (?:una |la )?factura|"
    r"(?:quiero|necesito|hay que) (?:facturar(?:le)?|emitir (?:una |la )?factura))\b"
)
_CANCEL_VERB = r"(?:cancela|cancelala|cancelale|cancelar|anula|anulala|anular)"
# "fiel" alone could be a customer's name ("Grupo Fiel"): only "mi/la fiel".
_FIEL = r"(?:e[ .-]?firma|(?:mi|la|tu|nueva) fiel|firma electronica(?: avanzada)?)"
_CSD = r"(?:csd|sellos? digital(?:es)?|certificados? de sellos?(?: digital(?:es)?)?)"
_UPLOAD_VERB = (
    r"(?:sube|subele|subir|subo|subirte|carga|cargale|cargar|cargo|actualiza|"
    r"actualizar|cambia|cambiar|renueva|renovar|registra|registrar|guarda|guardar|"
    r"da de alta|dar de alta|agrega|agregar|manda|mandar|mando|envia|enviar|envio|"
    r"te paso|pasarte|configura|configurar|nueva|nuevo|otra|otro|tramite|saque)"
)
_UPLOAD_LINK = r"(?:link|liga|enlace|formulario|pagina)"

# Any role, checked first: short whole-message answers and commands.
_COMMON: list[Rule] = [
    Rule(Intent.OPT_OUT, _whole(r"baja|stop|unsubscribe|darme de baja|dame de baja")),
    Rule(
        Intent.OPT_OUT,
        _r(
            r"\bya no (?:me |nos )?(?:manden|envien|escriban|mandes|envies|molesten)\b"
            r"|\bno (?:me |nos )?(?:manden|envien|escriban) (?:mas )?(?:mensajes|nada)"
            r"|\b(?:quiero|quisiera) darme de baja\b|\bdenme de baja\b"
            r"|\bno quiero (?:recibir )?(?:mas )?(?:mensajes|recordatorios)"
        ),
    ),
    Rule(Intent.OPT_IN, _whole(r"alta|darme de alta|dame de alta|start")),
    Rule(
        Intent.OPT_IN,
        _r(
            r"\b(?:quiero|quisiera) (?:volver a )?recibir (?:los )?(?:mensajes|"
            r"recordatorios)"
        ),
    ),
    Rule(
        Intent.CONFIRM_YES,
        _whole(
            r"si|va|vale|dale|orale|correcto|ok|claro|sale|de acuerdo|afirmativo|"
            r"confirmo|confirmado|adelante|hazlo|exacto|asi es|perfecto|eso|ajá|aja|"
            r"sii|si claro|claro que si|por supuesto|listo|sale y vale|yes|\U0001f44d|"
            r"porfa|porfis|por favor|andale|de una|esta bien|"
            r"(?:orale|sale|va|andale) pues|"
            r"mandalo|mandala|mandalos|envialo|enviala|registralo|timbralo|hazle"
        ),
    ),
    Rule(
        Intent.CONFIRM_NO,
        _whole(
            r"no|negativo|para nada|mejor no|no gracias|todavia no|aun no|nah|no no"
        ),
    ),
    Rule(
        Intent.CANCEL,
        _whole(
            r"cancelar|cancela|cancelalo|cancelala|olvidalo|olvidala|olvida eso|salir|"
            r"sal|dejalo|dejalo asi|ya no|mejor olvidalo|cancela eso|nada|olvidalo "
            r"mejor|"
            r"/cancel|/cancelar|terminar|ya no quiero|mejor dejalo"
        ),
    ),
    Rule(
        Intent.HELP,
        _r(
            r"^(?:/?ayuda|/?help|/?menu|/start|opciones|comandos|instrucciones)\b"
            r"|\bque (?:mas )?(?:puedes|sabes) hacer\b|\bcomo (?:te uso|funcionas|"
            r"funciona esto)\b"
            r"|\bque haces\b|\b(?:necesito|ocupo) ayuda\b|\bayudame\b|\bmuestrame el "
            r"menu\b"
            r"|\bque (?:opciones|comandos) (?:hay|tienes|tengo)\b"
            r"|^(?:hola )?(?:quien (?:habla|eres|es)\b(?! (?:mi|el|la) )"
            r"|con quien hablo|eres (?:un )?"
            r"(?:robot|bot|persona))\b"
        ),
    ),
    Rule(
        Intent.THANKS,
        _r(
            r"^(?:muchas |mil |muchisimas )?gracias\b(?:[^?]{0,25})$|^(?:te lo |se lo "
            r")?agradezco\b"
            r"|^gracias$|^muy amable\b"
        ),
    ),
    Rule(
        Intent.GREETING,
        _r(
            r"^(?:hola|holi|buenos dias|buen dia|buenas tardes|buenas noches|buenas|"
            r"que tal|hey|saludos|que onda)(?: [a-z]+){0,3}$"
        ),
    ),
]

_OWNER: list[Rule] = [
    # The e.firma and the CSD: "sube mi e.firma", "quiero subir mi CSD".
    Rule(
        Intent.UPLOAD_CSD,
        _r(
            rf"\b{_UPLOAD_VERB}\b.*\b{_CSD}\b|\b{_UPLOAD_LINK}\b.*\b{_CSD}\b"
            rf"|^(?:el |mi |los |mis )?{_CSD}$"
            rf"|\b{_CSD}\b.*\bvenci|\bvenci\w*\b.*\b{_CSD}\b"
        ),
    ),
    Rule(Intent.UPLOAD_CSD, _r(r"\bsellos? digital(?:es)?\b"), lambda c: not c.refs),
    Rule(
        Intent.UPLOAD_FIEL,
        _r(
            rf"\b{_UPLOAD_VERB}\b.*\b{_FIEL}\b|\b{_UPLOAD_LINK}\b.*\b{_FIEL}\b"
            rf"|^(?:la |mi )?{_FIEL}$|^fiel$"
            rf"|\b{_FIEL}\b.*\bvenci|\bvenci\w*\b.*\b{_FIEL}\b"
        ),
    ),
    # What a customer owes, changed: plans, credit notes and the sales catalog.
    Rule(
        Intent.ISSUE_CREDIT_NOTE,
        _r(r"\bnotas? de credito\b|\bbonificacion\b.*\b(?:a|al|para)\b"),
    ),
    Rule(
        Intent.OFFER_PLAN,
        _r(
            r"^(?:oye |por favor |ahora )?(?:dale|dales|ofrecele|ofrece|ponle|armale|"
            r"hazle)\b.*\b(?:\d{1,2}|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|"
            r"diez|once|doce) (?:pagos|parcialidades|mensualidades|abonos|plazos)\b"
            r"|\bplan de pagos? (?:a|al|para|con)\b"
        ),
    ),
    Rule(
        Intent.ADD_SALES_ITEM,
        _r(
            r"^(?:oye |por favor )?(?:agrega|agregar|anade|añade|da de alta|dar de "
            r"alta|registra|nuevo|crea)\b.*\b(?:producto|servicio|articulo)\b"
        ),
    ),
    # The SAT side first: "cancela la A-102" and "factura a Acme 5 mil" would
    # otherwise read as a cancel word or an invoice lookup.
    Rule(
        Intent.CANCEL_INVOICE,
        _r(r"^(?:oye |por favor |ahora )?" + _CANCEL_VERB + r"\b"),
        lambda c: c.refs,
    ),
    Rule(
        Intent.CANCEL_INVOICE,
        _r(
            r"^(?:oye |por favor |ahora )?(?:quiero |necesito |hay que )?"
            + _CANCEL_VERB
            + r"\b.*\b(?:factura|cfdi|uuid)\b"
        ),
    ),
    Rule(
        Intent.ISSUE_COMPLEMENT,
        _r(
            r"\b(?:timbra|timbrale|timbrar|emite|emitele|emitir|haz|hazle|hacer|"
            r"genera|generale|generar|saca|sacale)\b.*\bcomplementos?\b"
            r"|^(?:el |los )?complementos? de pago\b|\bcomplementos? (?:de pago )?"
            r"(?:de|para|a)\b"
        ),
    ),
    Rule(Intent.ISSUE_INVOICE, _r(r"^(?:oye |por favor |ahora )?" + _INVOICE_VERB)),
    Rule(
        Intent.ISSUE_INVOICE,
        _r(r"^(?:oye |por favor |ahora )?(?:factura|facturar) (?:a|al)\b"),
        lambda c: c.amount,
    ),
    Rule(
        Intent.REPLY_TO_CUSTOMER,
        _r(
            r"^(?:responder|responde|respondele|contesta|contestar|contestale|"
            r"mensaje)\b"
        ),
        lambda c: c.colon_text,
    ),
    Rule(Intent.REPLY_TO_CUSTOMER, _r(r"^dile a .+? que .+"), None),
    Rule(
        Intent.UNDO,
        _r(
            r"^/?deshacer\b|\bdeshaz\b|\bdeshazlo\b|\bme equivoque\b|\brevierte\b|"
            r"\brevertir\b"
            r"|\bborra (?:lo|el) ultimo\b|\beso no era\b|\bquita el ultimo pago\b|"
            r"\bundo\b"
        ),
    ),
    Rule(
        Intent.INVOICE_STATUS,
        _r(r"^(?:y )?ya (?:me |nos )?(?:pagaron|pago|se pago|liquidaron|la pagaron)\b"),
        lambda c: c.refs and c.question,
    ),
    Rule(
        Intent.ADD_CONTACT,
        _r(
            r"^(?:oye |por favor )?(?:(?:agrega|agregame|anade|registra|registrame|"
            r"crea|crear|da de alta|dar de alta|doy de alta|dame de alta|alta de)"
            r"(?: a| al)?(?: un| una| el| la| mi| nuevo| nueva)* )?"
            r"(?:nuevo |nueva )(?:cliente|proveedor)\b"
            r"|^(?:oye |por favor )?(?:agrega|agregame|anade|registra|registrame|"
            r"crea|da de alta|dar de alta|doy de alta|dame de alta|alta de)"
            r"(?: a| al)?(?: un| una| el| la| mi)* (?:cliente|proveedor)\b"
            r"(?! (?:de|del|a|al|que) )"
        ),
    ),
    # "¿A qué hora mandas los recordatorios?", "¿cómo están mis recordatorios?"
    Rule(
        Intent.REMINDER_SETTINGS,
        _r(
            r"^(?!.*\b(?:pausa|pausale|deten|detener|para|apaga|activa|prende|"
            r"reanuda|quita|quitale|manda(?:le|les)?|envia(?:le|les)?)\b)"
            r"(?=.*\b(?:recordatorios?|avisos|cobranza automatica)\b).*(?:"
            r"\b(?:a que hora|cuando|cada cuanto|como|que dias|cuantos)\b"
            r"|\bconfiguracion\b|\bcalendario\b)"
        ),
    ),
    # The owner's team: "agrega a Juan a mi equipo", "quítale el acceso a Juan".
    Rule(
        Intent.REMOVE_STAFF,
        _r(
            r"\b(?:quita|quitale|retira|retirale|revoca|revocale|elimina|borra|saca|"
            r"da de baja|dar de baja|corre)\b.*\b(?:acceso|equipo|usuario|empleado|"
            r"empleada|vendedor|vendedora|cobrador|cobradora|asistente)\b"
        ),
    ),
    Rule(
        Intent.TEAM_LIST,
        _r(
            r"^(?!.*\b(?:agrega|agregale|anade|invita|dale|da|registra|quita|quitale|"
            r"saca|elimina|borra)\b).*(?:\bmi equipo\b|\bquien(?:es)? (?:mas )?"
            r"(?:tiene|tienen) acceso\b|\bquien(?:es)? (?:mas )?(?:usa|usan|entra|"
            r"entran) (?:a )?(?:cobra|el bot)\b|\busuarios\b|\bquien(?:es)? (?:esta|"
            r"estan) en (?:mi|el) equipo\b)"
        ),
    ),
    Rule(
        Intent.ADD_STAFF,
        _r(
            r"^(?!.*\b(?:portal|link|liga|enlace|cliente|proveedor)\b).*"
            r"\b(?:agrega|agregame|anade|invita|registra|da de alta|dar de alta|dale|"
            r"da|suma|mete)\b.*(?:\b(?:a|al) (?:mi |nuestro )?equipo\b|\bcomo "
            r"(?:empleado|empleada|vendedor|vendedora|cobrador|cobradora|asistente|"
            r"auxiliar|contador|contadora|colaborador|colaboradora|staff|usuario|"
            r"usuaria|parte del equipo)\b|\bacceso\b)"
            r"|\b(?:nuevo )?codigo (?:de telegram |para telegram )?(?:para|de) "
            r"(?!barras|postal)[a-z]"
        ),
    ),
    # "Borra a Luna Textil", "elimina al proveedor Aceros": one added by mistake.
    Rule(
        Intent.REMOVE_CONTACT,
        _r(
            r"^(?:oye |por favor )?(?:borra|elimina|da de baja|dar de baja)"
            r"(?: a| al| el| la)?(?: (?:cliente|proveedor|contacto))?\b"
            r"(?! (?:lo|el|la|los|las) ultim| (?:el |la )?(?:pago|factura|abono)"
            r"| todo| ultimo)"
            r"(?= \S)(?=.*\b(?:a|al|cliente|proveedor|contacto)\b)"
        ),
    ),
    # "El RFC de Luna es LTE900101AB1", "cambia el RFC de Luna a …".
    Rule(
        Intent.SET_CONTACT_RFC,
        _r(
            r"^(?!.*\b(?:cuanto|debe|deben|saldo|facturas?|facturale|manda|mandale|"
            r"envia|enviale)\b)(?=.*\b[a-z&]{3,4}\d{6}[a-z0-9]{3}\b)(?:"
            r".*\b(?:cambia|cambiale|corrige|corrigele|actualiza|actualizale|pon|"
            r"ponle|agregale|registrale|guarda|guardale)\b.*\brfc\b"
            r"|.*\b(?:el|su) rfc (?:de|del)\b|.*\bsu rfc es\b)"
            # Named but mistyped ("el RFC de Luna es ABC"): told what an RFC is.
            r"|^(?:el|su) rfc (?:de|del)\b.*\bes\b"
        ),
    ),
    Rule(
        Intent.PROMISES,
        _r(
            r"\bpromesas?\b|\bprometi(?:o|eron)\b|\bcompromisos? de pago\b"
            r"|\b(?:quedo|quedaron) (?:de|en) (?:pagar|depositar)"
            r"|\bdijo que (?:me |nos )?(?:paga|pagaba|pagaria|deposita)\b"
        ),
    ),
    Rule(
        Intent.DISPUTES,
        _r(
            r"\baclaracion(?:es)?\b|\bdisputas?\b|\bquejas?\b|\breclamos?\b"
            r"|\binconformidad(?:es)?\b"
        ),
    ),
    Rule(
        Intent.MISSING_EMAILS,
        _r(
            r"(?:sin|no tienen?|les falta|falta(?:n)? de|falta el) (?:su )?correo"
            r"|correos? (?:que )?(?:faltan|faltantes)|(?:sin|no tienen) (?:su "
            r")?(?:e?mail)"
        ),
    ),
    Rule(
        Intent.WHATSAPP_REMINDERS_OFF,
        _r(
            r"(?:desactiva|desactivale|apaga|apagale|quita|quitale|deshabilita|deja de "
            r"mandar|"
            r"ya no (?:le |les )?mandes|no (?:le |les )?mandes|"
            r"sin)\b.*recordatorios?.*whatsapp"
            r"|whatsapp.*recordatorios?.*(?:desactiva|apaga|off|no)\b"
            r"|(?:desactiva|apaga|quita|deshabilita)\b.*whatsapp.*recordatorios?"
            r"|recordatorios? (?:por|de|x) whatsapp.*\b(?:off|desactivados?|"
            r"apagados?)\b"
            r"|^(?:desactiva|desactivale|apaga|apagale|quita|quitale|deshabilita)"
            r"(?: el| los)? whatsapp\b"
        ),
    ),
    Rule(
        Intent.WHATSAPP_REMINDERS_ON,
        _r(
            r"(?:activa|activale|prende|prendele|enciende|habilita|pon|ponle)\b"
            r".*recordatorios?.*whatsapp"
            r"|(?:manda|mandale|envia|enviale)\b.*recordatorios\b.*whatsapp"
            r"|(?:activa|prende|habilita)\b.*whatsapp.*recordatorios?"
            r"|recordatorios? (?:por|de|x) whatsapp.*\b(?:on|activados?|prendidos?)\b"
            r"|^(?:activa|activale|prende|prendele|enciende|habilita)(?: el| los)? "
            r"whatsapp\b"
        ),
    ),
    Rule(
        Intent.SET_CONTACT_EMAIL,
        _r(r"."),
        lambda c: c.email,
    ),
    Rule(
        Intent.SET_CONTACT_WHATSAPP,
        _r(r"whatsapp|\bcel\b|celular|telefono|\bnumero\b|\btel\b|movil"),
        lambda c: c.phone,
    ),
    # "¿Cuál es el teléfono de Acme?", "datos de Papelera" (nothing to set).
    Rule(
        Intent.CONTACT_INFO,
        _r(
            r"^(?!.*\b(?:manda|mandale|envia|enviale|reenvia|pasale|activa|activale|"
            r"desactiva|apaga|prende|quita|quitale|borra|cambia|cambiale|actualiza|"
            r"recuerdale)\b)(?:"
            r"\b(?:datos|informacion|info|ficha|tarjeta|contacto) (?:de contacto )?"
            r"(?:de|del)\b"
            r"|\b(?:whatsapp|wa|cel|celular|telefono|numero|tel|movil|correo|e?mail|"
            r"rfc|clabe|cuenta bancaria)\b (?:de|del|tiene)\b"
            r"|\b(?:que|cual) (?:es (?:el|su) )?(?:whatsapp|celular|telefono|numero|"
            r"correo|e?mail|rfc|clabe) (?:tiene|de)\b"
            r"|.*\btiene (?:su )?(?:whatsapp|wa|celular|telefono|numero|correo|e?mail|"
            r"rfc|clabe)\b\W*$)"
        ),
        lambda c: not (c.phone or c.email or c.refs or c.amount),
    ),
    Rule(
        Intent.RESUME_REMINDERS,
        _r(
            r"(?:reanuda|reanudar|reactiva|reactivale|reactivar|retoma|retomar|"
            r"continua|"
            r"despausa|quita(?:le)? la pausa|vuelve a (?:mandar|enviar|activar)|"
            r"ya (?:puedes|le puedes) (?:mandar|cobrar)|activa|activale|prende)"
            r"\b.*(?:recordatorios?|cobranza|avisos|mensajes|cobrarle|cobros)"
            r"|(?:recordatorios?|cobranza).*\b(?:reanuda|reactiva|de nuevo|otra vez)\b"
        ),
    ),
    Rule(
        Intent.PAUSE_REMINDERS,
        _r(
            r"(?:pausa|pausale|pausar|pon en pausa|deten|detener|para|parale|suspende|"
            r"suspender|suspendele|congela|deja de (?:mandar|enviar|cobrar)\w*|"
            r"ya no (?:le |les )?(?:mandes|envies|cobres)|no (?:le |les )?(?:mandes|"
            r"envies)|"
            r"desactiva|apaga|frena)\b.*(?:recordatorios?|cobranza|avisos|mensajes|"
            r"cobrarle|cobros)"
            r"|(?:recordatorios?|cobranza).*\b(?:en pausa|pausad[oa]s?)\b"
            r"|^(?:pausa|pausar|deten)\b.*\b(?:a|de) [a-z]+"
            r"|\bdeja de cobrarle\b|\bno le cobres\b"
        ),
    ),
    Rule(
        Intent.SHOW_INVOICES,
        _r(
            r"(?:desoculta|desocultar|vuelve a mostrar|muestra de nuevo|deja de "
            r"ocultar|"
            r"ya no ocultes|quita lo oculto|destapa|haz visibles?|mostrar otra vez|"
            r"vuelve(?:las)? visibles?|muestra otra vez|reaparece)\b.*factura"
            r"|facturas?.*\b(?:visibles?|desocult\w*)\b"
        ),
    ),
    Rule(
        Intent.HIDE_INVOICES,
        _r(
            r"(?:oculta|ocultale|ocultar|esconde|escondele|esconder|no muestres|"
            r"quita de la vista|archiva)\b.*factura|facturas?.*\bocult[ao]s?\b"
        ),
    ),
    Rule(
        Intent.ROTATE_LINK,
        _r(
            r"(?:nuevo|nueva|otro|otra|cambia|cambiale|regenera|renueva|revoca|revocar|"
            r"invalida|anula|desactiva|caduca|reinicia)\b.*\b(?:link|liga|enlace|"
            r"portal|token)"
            r"|\b(?:link|liga|enlace)\b.*\b(?:nuevo|nueva|revoca\w*|cambi\w+|otro)\b"
        ),
    ),
    Rule(
        Intent.SEND_STATEMENT,
        _r(
            r"\brecuerda(?:le|les)?\b|\brecordarles?\b"
            r"|\b(?:manda|mandale|envia|enviale|hazle|haz)\b.*\b(?:(?:un|el|su) )?"
            r"(?:recordatorio|estado de cuenta)\b"
            r"|\b(?:manda|mandale|mandales|envia|enviale|enviales)\b.*"
            r"\brecordatorios?\b.*\b(?:tod[oa]s|vencid[oa]s|morosos|atrasad[oa]s|"
            r"(?:me |nos )?deben)\b"
        ),
    ),
    Rule(
        Intent.SEND_LINK,
        _r(r"\b(?:link|liga|enlace|portal)\b"),
    ),
    # A customer's terms: "ponle 45 días de crédito a Acme", "Acme de contado";
    # asked, they are on the contact's card.
    Rule(
        Intent.CONTACT_INFO,
        _r(r"\b(?:cuantos|que) dias de credito\b|\bdias de credito (?:tiene|le)"),
        lambda c: c.question,
    ),
    Rule(
        Intent.SET_CONTACT_TERMS,
        _r(
            r"\b\d{1,3} ?dias? (?:de )?credito\b|\bcredito (?:de|a) \d{1,3} dias\b"
            r"|\b(?:dias de credito|plazo)\b.*\b\d{1,3} dias\b"
            r"|^(?!.*\b(?:factura|facturale|vend[eio]|cobra|cobrale)\b).*\b"
            r"(?:de contado|sin credito|quitale el credito)\s*$"
        ),
    ),
    Rule(
        Intent.FINANCING_STATUS,
        _r(
            r"(?:cuanto|como va|como esta|estatus|status|estado|en que va|que paso con|"
            r"ya (?:me )?(?:aprobaron|autorizaron)|mi solicitud|linea|disponible|saldo)"
            r".*(?:financiamiento|credito|prestamo|factoraje|adelanto)"
            r"|(?:financiamiento|credito|prestamo).*(?:tengo|aprobado|autorizado|"
            r"disponible|"
            r"estatus|como va|en que va|dispuesto|cuanto)"
        ),
    ),
    Rule(
        Intent.FINANCING_START,
        _r(
            r"financiamiento|financiar|credito|prestamo|factoraje|adelanto de "
            r"(?:facturas|cobranza)|"
            r"adelantar (?:mis )?facturas|capital de trabajo|me presten|lana prestada"
        ),
    ),
    Rule(
        Intent.COLLECTION_CHART,
        _r(
            r"grafica|grafico|chart|antiguedad de saldos|aging"
            r"|como (?:va|vamos|voy|anda|esta)\b.{0,12}\bcobranza"
            r"|(?:reporte|resumen|panorama) de (?:la |mi )?cobranza"
        ),
    ),
    Rule(
        Intent.MOVEMENTS,
        _r(
            r"cuanto (?:tengo|hay|tenemos|traigo) en (?:el |mi )?banco|saldo "
            r"(?:del|de mi|en el|en mi) banco|saldo bancario|"
            r"\bresumen (?:de (?:la|esta) semana|del mes|de este mes|de hoy|del dia|de "
            r"ayer|de la semana pasada|del mes pasado)\b|"
            r"movimientos|ingresos|cuanto (?:me |nos |se |ha |hemos |he )?(?:entro|"
            r"entraron|"
            r"ha entrado|han entrado|cobre|cobramos|hemos cobrado|he cobrado|recibi|"
            r"recibimos|"
            r"se cobro|pagaron|han pagado|depositaron|ingreso|llego|pago|deposito|"
            r"abono)"
            r"|que (?:me )?(?:entro|pagos (?:recibi|me llegaron|entraron)|depositos)"
            r"|(?:depositos|pagos) (?:recibidos|que (?:me )?llegaron|de (?:hoy|la "
            r"semana|este mes))"
            r"|flujo de (?:efectivo|caja)|cuanto ha caido"
            r"|quien(?:es)? (?:me |nos )?(?:pago|pagaron|deposito|depositaron)\b"
            r"|que clientes (?:me |nos )?(?:pagaron|depositaron)\b"
            r"|\b(?:excel|archivo|reporte) de (?:los |mis )?(?:cobros|pagos recibidos)"
            r"|\blo que (?:me |nos )?(?:entro|cobre|cobramos|pagaron|depositaron)\b"
        ),
    ),
    Rule(
        Intent.PAYABLES_DUE,
        _r(
            r"(?:que|cuanto) (?:tengo|tenemos|hay|me toca|nos toca) (?:que|de) pagar"
            r"|(?:pagos|facturas|cuentas|pendientes) (?:a|de|con|por pagar a) proveedor"
            r"|cuentas por pagar|por pagar\b|\bque (?:debo|debemos) pagar"
            r"|a quien(?:es)? (?:le |les )?(?:debo|debemos|tengo que pagar)"
            r"|a (?:que|cuales) proveedor(?:es)? (?:le |les )?(?:debo|debemos|"
            r"tengo que pagar|hay que pagar)"
            r"|que proveedores (?:tengo |hay )?(?:pendientes|por pagar|hay que pagar|"
            r"tengo que pagar)"
            r"|(?:cuanto|que) (?:le |les )?(?:debo|debemos) (?:a )?"
            r"(?:los |mis |nuestros )?proveedor"
            r"|(?:cuanto|que) (?:le |les )(?:debo|debemos|adeudo|adeudamos|"
            r"tengo que pagar|tenemos que pagar) a\b"
            r"|\bque (?:me |nos )?toca pagar\b|^cuanto debo\b|que (?:se |"
            r"me )?vence (?:de pago|pagar)|que pagos tengo"
            r"|proveedores? (?:que|por) pagar|pagos? pendientes? (?:a|de) proveedores"
        ),
    ),
    Rule(
        Intent.PAY_SUPPLIER,
        _r(
            r"^(?:ahora |ya |oye |por favor )?(?:pagale|paga|pagarle|pagales|"
            r"transfierele|transfiere|"
            r"liquidale|liquida|programa el pago|programale|haz(?:le)? el pago|hazle "
            r"una transferencia"
            r"|manda(?:le)? el pago|deposita(?:le)?)\b"
            r"|\b(?:hay que|quiero|necesito|tengo que|ocupo) (?:pagarle|pagar|liquidar|"
            r"liquidarle|"
            r"transferirle|depositarle)\b.*(?:proveedor|factura|\b[a-z]-?\d|\ba\b)"
            r"|\bpago a proveedor"
        ),
    ),
    # "Acme me paga el viernes": a customer's word, told by the team (after the
    # orders to pay a supplier, "paga a Papelera el viernes").
    Rule(
        Intent.PROMISES,
        _r(
            r"^(?!.*\bcuando\b).*\b(?:paga|pagan|deposita|depositan|liquida|"
            r"liquidan|transfiere|transfieren)\b"
        ),
        lambda c: c.date,
    ),
    # "¿Quién me debe desde hace más de 90 días?": the overdue list, aged.
    Rule(
        Intent.OVERDUE,
        _r(
            r"\b(?:desde hace|hace|con|de) mas de \d{1,3} dias\b"
            r"|\bmas de \d{1,3} dias (?:vencid|de atraso|atrasad|sin pagar|de retraso)"
        ),
    ),
    # "¿Me llegó algún depósito?": asked about money in, not told of a payment.
    Rule(
        Intent.MOVEMENTS,
        _r(
            r"\b(?:llego|llegaron|entro|entraron|cayo|cayeron)\b.*\b(?:deposito|"
            r"depositos|pago|pagos|transferencia|transferencias)\b"
            r"|\b(?:deposito|depositos|pago|pagos|transferencia|transferencias)\b.*"
            r"\b(?:llego|llegaron|entro|entraron|cayo|cayeron)\b"
        ),
        lambda c: c.question and not c.amount,
    ),
    # "¿Acme ya me pagó?", "¿me pagó Acme la A-102?": asked, not told.
    Rule(
        Intent.INVOICE_STATUS,
        _r(r"^(?!.*\b(?:quien|cuanto|cuando)\b).*\b" + _PAY_VERB + r"\b"),
        lambda c: c.question and c.refs and not c.amount,
    ),
    Rule(
        Intent.BALANCE_CUSTOMER,
        _r(r"^(?!.*\b(?:quien|cuanto|cuando)\b).*\b" + _PAY_VERB + r"\b"),
        lambda c: c.question and not c.amount,
    ),
    Rule(
        Intent.REGISTER_PAYMENT,
        _r(
            r"\b(?:marca|marcala|marcalas|marcar|pon|ponla|poner|registra|registrame|"
            r"registrar|"
            r"anota|anotale|apunta|apuntale|da por|dala por|dalas "
            r"por)\b.*\b(?:pagad[ao]s?|"
            r"pago|pagos|abono|cobrad[ao]s?|liquidad[ao]s?)"
            r"|" + _PAY_VERB + r"\b"
            r"|\b(?:recibi|recibimos|me llego|llego|entro|cayo|cobre|cobramos)\b.*"
            r"(?:pago|deposito|transferencia|abono|\d|mil|\bde [a-z])"
            r"|\babono\b|\bdeposito\b|\bya pago\b|\bpagaron\b|\bya liquido\b"
            r"|\b(?:me |nos )?(?:cayeron|cayo)\b"
        ),
    ),
    # "¿Cuándo vence la A-102?" is about that invoice, not the overdue list.
    Rule(Intent.INVOICE_STATUS, _r(r"\bvenc|\bcuando\b"), lambda c: c.refs),
    # When one customer pays or falls due: their balance lists each due date.
    Rule(
        Intent.BALANCE_CUSTOMER,
        _r(
            r"\bcuando (?:me |nos )?(?:paga|va a pagar|pagara|piensa pagar)\b"
            r"|\bcuando vencen? (?:las |sus )?facturas (?:de|del)\b"
            r"|\bdebe\b.*\bcuando (?:vence|vencen|se vence|me paga)\b"
        ),
    ),
    Rule(
        Intent.OVERDUE,
        _r(
            r"vencid[ao]s?|atrasad[ao]s?|morosos?|retrasad[ao]s?|\bvencen?\b|se vencio|"
            r"por vencer|van? a vencer|"
            r"no (?:ha|han) pagado|fuera de plazo|pasad[ao]s? de (?:fecha|plazo)"
            r"|facturas? mas (?:viejas?|antiguas?)"
            r"|(?:cuanto|que) (?:voy a|vamos a|me toca|nos toca) cobrar"
            r"|\bcobrar (?:esta semana|este mes|hoy|manana)\b"
        ),
    ),
    Rule(
        Intent.TOP_DEBTORS,
        _r(
            r"quien(?:es)? (?:me |nos )?(?:debe|deben) mas|mayor(?:es)? deudor|top "
            r"(?:\d+ )?deudores"
            r"|principales deudores|(?:lista|ranking) de deudores|quien(?:es)? (?:me |"
            r"nos )?deben\b"
            r"|\bdeudores\b|(?:me |nos )deben mas\b|peor(?:es)? clientes?\b"
            r"|\bque mas (?:me |nos )?deben\b"
            r"|clientes? mas morosos?"
            r"|\b(?:el|la)(?: cliente)? que mas (?:me |nos )?debe\b"
            r"|clientes que mas (?:me |"
            r"nos )?deben|los que mas (?:me |nos "
            r")?deben"
            r"|quien tiene (?:el )?(?:mayor|mas) saldo"
            r"|quien(?:es)? no (?:me |nos )?(?:ha|han) pagado|quien(?:es)? no (?:me |"
            r"nos )?paga(?:n)?\b|quien(?:es)? (?:me |nos )?falta(?:n)? (?:de |por )?"
            r"pagar"
        ),
    ),
    Rule(
        Intent.INVOICE_STATUS,
        _r(
            r"como va|como esta|estatus|status|estado|que paso con|ya (?:la )?pagaron|"
            r"ya se pago|"
            r"info|detalle|checa|revisa|busca|datos de|^(?:la )?factura|"
            r"^[a-z]{0,4}-?\d+$|"
            r"ya esta pagada|sigue pendiente|esta pagada|cuanto falta|saldo|cuanto "
            r"debe|"
            r"muestrame|ensename|pasame|dame|\bpdf\b|\bxml\b"
        ),
        lambda c: c.refs,
    ),
    Rule(
        Intent.BALANCE_CUSTOMER,
        _r(
            r"cuanto (?:me |nos )?(?:debe|adeuda)\b|que (?:me |nos )?debe\b|saldo "
            r"de(?:l)?\b|"
            r"estado de cuenta|adeudo de|debe [a-z]|facturas (?:pendientes |abiertas "
            r")?de\b|"
            r"cuanto (?:le )?(?:falta|queda) (?:por cobrar|a)\b|cuenta de\b|"
            r"cuanto tiene pendiente|cuanto (?:le )?falta (?:por )?pagar a\b"
            r"|como (?:vamos|andamos|va|anda|estamos) con\b(?! (?:la|mi) cobranza)"
            r"|\b(?:que|cuales) facturas (?:tiene|trae|le tengo)\b"
        ),
    ),
    Rule(
        Intent.BALANCE_TOTAL,
        _r(
            r"cuanto (?:me |nos |le )?(?:deben|adeudan)\b|por cobrar|\bsaldo\b|"
            r"\bcartera\b|"
            r"cuanto (?:dinero )?(?:hay|tengo) (?:en la calle|afuera|pendiente)|"
            r"total (?:que )?(?:me )?deben|cuentas por cobrar|cuanto tengo por cobrar|"
            r"que me deben|cuanto me falta (?:por )?cobrar|total pendiente|pendiente "
            r"de cobro"
            r"|^(?:y )?(?:como (?:vamos|andamos|estamos|va todo)|resumen|"
            r"(?:dame|manda(?:me)?) (?:un|el) resumen)\W*$"
        ),
    ),
]

# A message that reports a payment ("ya les deposité, ¿les llegó?") is a report
# first, whatever it asks after it.
_NO_PAYMENT_CLAIM = (
    r"^(?!.*\b(?:pague|pagamos|deposite|depositamos|transferi|transferimos|"
    r"liquide|liquidamos|cubri|comprobante|hice|hicimos|realice|mande)\b)"
)

_CUSTOMER: list[Rule] = [
    Rule(
        Intent.CUSTOMER_STATUS,
        _r(
            _NO_PAYMENT_CLAIM + r".*?(?:\bcomo va\b|\bcomo (?:esta|anda) (?:la|mi)\b|"
            r"(?:cuando|que dia|que fecha) (?:vence|se vence|tengo que pagar)|"
            r"fecha (?:de|limite de) (?:vencimiento|pago)|"
            r"\b(?:estatus|status|situacion) de\b|"
            r"en que (?:estatus|status|estado) (?:esta|va|quedo)|"
            r"(?:les |te |le )?(?:llego|llegaron|cayo|cayeron) (?:mi|el|los|la) "
            r"(?:pago|deposito|transferencia|spei)|"
            r"(?:recibieron|registraron|aplicaron|vieron|se aplico|se registro|"
            r"se reflejo|reflejaron) (?:mi|el|los|la) (?:pago|deposito|transferencia|"
            r"abono|spei))"
        ),
    ),
    Rule(
        Intent.CUSTOMER_STATUS,
        _r(
            _NO_PAYMENT_CLAIM + r".*?\b(?:(?:ya )?(?:esta|estan|quedo|quedaron|sigue|"
            r"siguen) (?:pagad|liquidad|saldad|cubiert|pendiente|abiert|vencid)|"
            r"ya (?:esta|quedo)$)"
        ),
        lambda c: c.question,
    ),
    Rule(
        Intent.CUSTOMER_DISPUTE,
        _r(
            r"no (?:la |lo )?reconozco|(?:esta|estan|viene|vienen) mal|no es "
            r"(?:correcto|mia|mio|nuestra)|"
            r"incorrect[ao]|equivocad[ao]|no (?:me |nos )?corresponde|error en|cobro "
            r"de mas|"
            r"cobraron de mas|no (?:pedi|compre|solicite|recibi (?:la|el|los) "
            r"(?:mercancia|producto|servicio))|"
            r"aclaracion|reclamo|nunca (?:recibi|recibimos|llego|nos llego)|no cuadra|"
            r"no coincide|no es lo que|ya estaba pagad|"
            r"esa factura no|"
            r"no debo\b|duplicad[ao]|me cobran (?:algo|de mas)|no es asi"
        ),
    ),
    Rule(
        Intent.CUSTOMER_PLAN,
        _r(
            r"en partes|parcialidades|pagos parciales|a plazos|en plazos|plan de pagos|"
            r"en abonos|abonar|convenio|pagar (?:de a poco|poco a poco|una parte|la "
            r"mitad)|"
            r"en (?:dos|tres|2|3|varios) (?:pagos|partes|exhibiciones)|diferir|meses "
            r"sin intereses|"
            r"(?:dar|darles|dejar) un abono|facilidades de pago|mas tiempo para pagar|"
            r"prorroga|dividir el pago"
            r"|\bmas tiempo\b|\b(?:un|otro) plazo\b|\bchance\b|\bextension\b"
            r"|\bno (?:puedo|podemos|alcanzo|alcanzamos|me alcanza|nos alcanza) "
            r"(?:a |para )?(?:pagar|liquidar|con el pago)\b"
            r"|\bno tengo (?:dinero|lana|con que pagar|para pagar)\b"
        ),
    ),
    Rule(
        Intent.CUSTOMER_PAID,
        _r(
            r"\bya (?:les |le |te )?(?:pague|deposite|transferi|liquide|cubri|realice|"
            r"hice|"
            r"quedo|esta|estan|se (?:pago|deposito|hizo))|comprobante|"
            r"\b(?:les |le |te )?(?:pague|deposite|transferi|liquide) (?:ayer|hoy|el|"
            r"la|esta|en la|desde)"
            r"|(?<!que )\b(?:les|le|te) (?:pague|deposite|transferi|liquide)\b"
            r"|\b(?:pague|deposite|transferi)\b.*\b(?:ayer|hoy|antier|anoche)\b"
            r"|\b(?:acabo de|acabamos de) (?:pagar|depositar|transferir)\b|ahi (?:va|"
            r"te va|les va)|"
            r"(?:hice|realice|mande) (?:el|la|un|una) (?:pago|deposito|transferencia|"
            r"spei)|"
            r"\bpagado\b|\bya pagamos\b|\bya depositamos\b|\blisto el pago\b|\bya esta "
            r"pagad"
        ),
    ),
    Rule(
        Intent.CUSTOMER_PROMISE,
        _r(
            r"\b(?:pago|pagare|pagaria|pagamos|les pago|le pago|te pago|deposito|les "
            r"deposito|"
            r"le deposito|te deposito|depositamos|depositare|transfiero|les transfiero|"
            r"transferimos|liquido|liquidamos|cubro|abono|voy a (?:pagar|depositar|"
            r"transferir|"
            r"liquidar)|vamos a (?:pagar|depositar|transferir|liquidar)|queda(?:ria)? "
            r"pagad|"
            r"se (?:les |le )?paga|se deposita|sale el pago|hago el pago|hago el "
            r"deposito|"
            r"hacemos el pago|me pagan|nos pagan|cobro)\b"
        ),
        # "¿Me dan un descuento si pago hoy?" asks; it promises nothing.
        lambda c: c.date and not c.question,
    ),
    Rule(
        Intent.CUSTOMER_LINK,
        _r(
            r"\b(?:link|liga|enlace|portal)\b|donde (?:pago|les pago|deposito|puedo "
            r"pagar)|"
            r"como (?:pago|les pago|puedo pagar|les deposito|deposito)|"
            r"(?:cuenta|clabe|datos) (?:para|de) (?:pago|pagar|depositar|deposito|"
            r"transferencia)|"
            r"\bclabe\b|datos bancarios|a que cuenta|numero de cuenta"
            r"|a quien (?:le |les )?(?:pago|deposito|transfiero)"
            r"|\b(?:la|una|su) cuenta (?:para|de|donde) (?:transferir|depositar|pagar)"
        ),
    ),
    Rule(
        Intent.CUSTOMER_INVOICE,
        _r(r"\bfacturas?\b|\bxml\b|\bpdf\b|\bcfdi\b|comprobante fiscal"),
    ),
    Rule(
        Intent.CUSTOMER_BALANCE,
        _r(
            r"cuanto (?:me |nos )?debe\b|"
            r"cuanto (?:les |le |te )?(?:debo|debemos|adeudo|es|seria|tengo que pagar|"
            r"hay que pagar)|"
            r"\bmi (?:saldo|adeudo|deuda|cuenta)\b|\bnuestro (?:saldo|adeudo)\b|estado "
            r"de cuenta|"
            r"que (?:les |le )?(?:debo|debemos)|\bsaldo\b|total a pagar|cuanto falta|"
            r"cuanto (?:me |nos )?falta|tengo (?:algo )?pendiente|adeudo|que tengo "
            r"pendiente"
        ),
    ),
]


def rules_for(role: Role) -> list[Rule]:
    """The rules a speaker's role can match, in the order they are tried."""
    if role in (Role.OWNER, Role.STAFF):
        return _COMMON + _OWNER
    if role is Role.CUSTOMER:
        return _COMMON + _CUSTOMER
    return list(_COMMON)


def match_rules(normalized: str, clues: Clues, role: Role) -> Intent | None:
    """The first rule that matches, or None when the rules cannot place it."""
    for rule in rules_for(role):
        if rule.when is not None and not rule.when(clues):
            continue
        if rule.pattern.search(normalized):
            return rule.intent
    return None
