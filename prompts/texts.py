"""The es-MX texts of Cobra's chat replies, kept apart from the code that fills them."""

UNKNOWN_SENDER = (
    "Hola 👋 Este número es un asistente de cobranza. No encuentro tu número "
    "registrado, así que no puedo darte información. Si eres cliente, contesta "
    "desde el número al que te llegan los avisos o usa el enlace de tu estado de "
    "cuenta."
)
NOT_UNDERSTOOD_OWNER = (
    "No te entendí 🤔. Puedo decirte cuánto te deben («¿cuánto me deben?»), el "
    "saldo de un cliente («¿cuánto me debe Acme?»), registrar un cobro («Acme me "
    "pagó 5 mil») o mandar un link de pago. Escribe «ayuda» para ver todo."
)
NOT_UNDERSTOOD_CUSTOMER = (
    "No te entendí 🤔. Puedes preguntarme «¿cuánto debo?», pedirme «mándame la "
    "factura», «el link de pago», o avisarme «ya pagué». Le paso tu mensaje al "
    "negocio si necesitas algo más."
)
OWNER_ONLY = (
    "Eso sólo lo puede hacer la persona dueña del negocio. Pídeselo a ella, o "
    "pregúntame saldos, facturas o registra un cobro."
)
VOICE_NOTE = "Todavía no puedo escuchar notas de voz 🙉. ¿Me lo escribes, por favor?"
HELP_OWNER = """Esto es lo que puedo hacer:
• Saldos: «¿cuánto me deben?», «¿cuánto me debe Acme?», «¿quién me debe más?»
• Vencidas: «vencidas», «vencidas de Acme», «¿qué vence esta semana?»
• Una factura: «¿cómo va la A-102?»
• Cobros: «Acme me pagó 5 mil», «marca pagada la A-102», «deshacer»;
  si te pagó otro día, dilo: «Acme me pagó 3 mil el lunes»
• Links: «mándale el link de pago a Acme», «nuevo link para Acme»
• Contactos: «el whatsapp de Acme es 55 1234 5678»,
  «el correo de Acme es pagos@acme.mx», «¿cuál es el teléfono de Acme?»,
  «da de alta al cliente Luna, RFC LUN010101AB1»,
  «el RFC de Luna es LUN010101AB1», «ponle 45 días de crédito a Acme»,
  «borra a Luna» (si la diste de alta por error)
• Recordar ya: «recuérdale a Acme» (le mando su estado de cuenta),
  «recuérdales a todos los vencidos»
• Recordatorios: «pausa los recordatorios de Acme», «activa WhatsApp a Acme»,
  «¿a qué hora salen los recordatorios?»
• Promesas y aclaraciones: «¿quién prometió pagar?», «Acme paga el viernes»,
  «aclaraciones»
• Gráfica: «¿cómo va mi cobranza?»
• Facturar: «factúrale a Acme 10 mil más IVA por consultoría»
• Complementos y cancelaciones: «timbra el complemento de Acme», «cancela la A-102»
• SAT: «sube mi e.firma», «sube mi CSD»
• Proveedores: «¿qué tengo que pagar esta semana?», «¿cuánto le debo a Papelera?»,
  «págale a Papelera la F-77»
• Movimientos: «¿cuánto entró este mes?», «movimientos del mes en Excel»
• Financiamiento: «quiero financiamiento»
• Equipo: «agrega a Juan Pérez a mi equipo, 55 1234 5678»,
  «agrega a Ana a mi equipo por Telegram», «¿quiénes tienen acceso?»,
  «quítale el acceso a Juan»
• Archivos: mándame el XML de una factura (o un zip del SAT) y la guardo; un Excel
  o CSV de clientes con RFC y nombre, y los doy de alta
Escribe «cancelar» para salir de cualquier paso."""
HELP_STAFF_NOTE = (
    "Pagar a proveedores, facturar, pedir financiamiento y dar o quitar acceso al "
    "equipo lo hace la dueña o el dueño."
)
HELP_CUSTOMER = """Soy el asistente de cobranza de {business}. Puedes escribirme:
• «¿cuánto debo?»
• «mándame la factura A-102»
• «¿ya está pagada la A-102?»
• «¿me pasas el link?»
• «ya pagué» (con foto o PDF del comprobante)
• «pago el viernes»
• «BAJA» para dejar de recibir recordatorios por WhatsApp"""
GREETING_OWNER = "¡Hola{name}! ¿En qué te ayudo? Escribe «ayuda» para ver ejemplos."
GREETING_CUSTOMER = (
    "¡Hola! Soy el asistente de cobranza de {business}. Pregúntame «¿cuánto "
    "debo?» o escribe «ayuda»."
)
THANKS = "¡Con gusto! 🙌"
CANCELLED = "Listo, lo dejé así. No hice ningún cambio."
NOTHING_TO_CANCEL = "No hay nada pendiente que cancelar."
NOTHING_PENDING = "No tengo ninguna pregunta pendiente. ¿En qué te ayudo?"
NOT_DONE = "Va, no hice nada."
STILL_PENDING = "No te entendí. ¿Sigo con lo que te propuse?"
