"""The es-MX texts of the financing application in chat, one question per step."""

QUESTIONS = {
    "legal_name": "¿Cuál es la razón social de la empresa? Tengo «{suggested}».",
    "rfc": "¿Cuál es el RFC de la empresa?",
    "line_of_business": "¿A qué se dedica la empresa? (el giro, en pocas palabras)",
    "years_operating": "¿Cuántos años lleva operando?",
    "annual_revenue": "¿Cuánto vende al año, más o menos? (por ejemplo «12 millones»)",
    "amount_requested": "¿Cuánto financiamiento necesitas?",
    "purpose": "¿Para qué lo vas a usar? (capital de trabajo, inventario, maquinaria…)",
    "representative_name": "¿Cuál es el nombre completo del representante legal?",
    "curp": "¿Cuál es la CURP del representante legal?",
    "email": "¿A qué correo le escribimos al representante?",
    "phone": "¿Y a qué teléfono?",
    "clabe": "¿A qué CLABE depositamos si se aprueba? (18 dígitos, de la empresa)",
}
USE_SUGGESTED = "Sí, es esa"
INTRO = (
    "Vamos a armar tu solicitud de financiamiento: son {steps} datos, uno a la vez. "
    "En cualquier momento puedes decir «atrás», «cambiar la CLABE», «¿en qué paso "
    "voy?» o «formulario» para llenarla en la computadora. Si la dejas, guardo lo "
    "que llevas y seguimos otro día."
)
RESUMED = "Seguimos con tu solicitud donde te quedaste."
STEP_HEADER = "Paso {number} de {total}. "
CURRENTLY = "Ahora dice: {value}."
FIRST_STEP = "Ya estás en el primer paso."
WHERE = "Vas en el paso {number} de {total}: {label}. Te faltan {left}."
WHERE_DONE = "Ya tienes todo; sólo falta que confirmes el envío."
SUMMARY = (
    "Revisa tu solicitud:\n{lines}\n\n¿La envío? Para corregir algo escribe, por "
    "ejemplo, «cambiar la CLABE»."
)
SUBMITTED = (
    "¡Listo! Enviamos tu solicitud #{id} por {amount}. Te damos respuesta a más "
    "tardar {deadline} (72 horas hábiles). Te aviso por aquí."
)
NOT_SENT = (
    "No la envié. Queda guardada: corrige lo que quieras («cambiar el monto») o "
    "escribe «quiero financiamiento» para ver el resumen otra vez."
)
WEB_LINK = (
    "Llénala o corrígela aquí (el enlace sirve una vez y vence en 24 horas): {url}\n"
    "Cuando guardes, vuelve a escribirme «quiero financiamiento» para revisar y enviar."
)
IN_REVIEW = (
    "Tu solicitud #{id} por {amount} está en revisión; la respuesta llega a más tardar "
    "{deadline}."
)
APPROVED = (
    "Tienes aprobado {approved} de financiamiento; has usado {used}, así que tienes "
    "{free} disponibles."
)
REJECTED = "Tu última solicitud (#{id}) no fue aprobada. Motivo: {reason}"
DRAFT = (
    "Tienes una solicitud a medias (paso {number} de {total}). Escribe «quiero "
    "financiamiento» para seguir."
)
NONE = "No tienes financiamiento todavía. Escribe «quiero financiamiento» para pedirlo."
OWNER_ONLY = (
    "La solicitud de financiamiento sólo la puede hacer la persona dueña del negocio, "
    "porque compromete a la empresa y autoriza la consulta al buró de crédito."
)
