"""Spanish text folded for matching: case, accents, stretched letters and slang."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Words owners type short or misspelled, mapped to what the rules expect.
_SLANG: dict[str, str] = {
    "q": "que",
    "k": "que",
    "ke": "que",
    "qe": "que",
    "xq": "porque",
    "pq": "porque",
    "porq": "porque",
    "xfa": "por favor",
    "xfavor": "por favor",
    "porfa": "por favor",
    "porfis": "por favor",
    "porfavor": "por favor",
    "plis": "por favor",
    "pls": "por favor",
    "plz": "por favor",
    "kuanto": "cuanto",
    "kuantos": "cuantos",
    "cuato": "cuanto",
    "cunto": "cuanto",
    "cuanot": "cuanto",
    "cuantp": "cuanto",
    "d": "de",
    "dl": "del",
    "x": "por",
    "tmb": "tambien",
    "tb": "tambien",
    "msj": "mensaje",
    "msjs": "mensajes",
    "wasap": "whatsapp",
    "wasa": "whatsapp",
    "whats": "whatsapp",
    "whatsap": "whatsapp",
    "watsap": "whatsapp",
    "wapp": "whatsapp",
    "wsp": "whatsapp",
    "wa": "whatsapp",
    "email": "correo",
    "mail": "correo",
    "e-mail": "correo",
    "emial": "correo",
    "coreo": "correo",
    "fact": "factura",
    "fac": "factura",
    "facts": "facturas",
    "factuar": "factura",
    "fatura": "factura",
    "facura": "factura",
    "okey": "ok",
    "oki": "ok",
    "okay": "ok",
    "oka": "ok",
    "okis": "ok",
    "sip": "si",
    "sep": "si",
    "simon": "si",
    "nop": "no",
    "nope": "no",
    "nel": "no",
    "grax": "gracias",
    "grasias": "gracias",
    "thx": "gracias",
    "tnx": "gracias",
    "vdd": "verdad",
    "dnd": "donde",
    "pa": "para",
    "pal": "para el",
    "debn": "deben",
    "dbn": "deben",
    "dbe": "debe",
    "deve": "debe",
    "deven": "deben",
    "pagp": "pago",
    "pgo": "pago",
    "lik": "link",
    "lnk": "link",
    "linck": "link",
    "lin": "link",
    "recordatoros": "recordatorios",
    "recordatorio": "recordatorio",
    "provedor": "proveedor",
    "provedores": "proveedores",
    "financiamento": "financiamiento",
    "finaciamiento": "financiamiento",
    "ayudaa": "ayuda",
    "menu": "menu",
    "bno": "bueno",
    "bnos": "buenos",
    "hla": "hola",
    "ola": "hola",
}

# Letters legitimately doubled in Spanish words ("llamar", "correo", "acción",
# "leer", "innovar"); any other doubled letter is a stretch ("noo", "graciass").
_KEEP_DOUBLE = frozenset("lrcen")

_TRIPLE = re.compile(r"([a-z])\1{2,}")
_DOUBLE = re.compile(r"([a-z])\1")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = "¿?¡!.,;:\"'()[]{}…*_~"


@dataclass(frozen=True)
class Token:
    """One word of the original text, with its folded form and position."""

    raw: str
    norm: str
    start: int
    end: int


# A message is folded whole and word by word several times while it is read, and
# the same words come back in every message: both caches stay small.
@functools.lru_cache(maxsize=2048)
def fold(text: str) -> str:
    """Lowercase and strip accents ("Peña" -> "pena"); keeps every other char."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _squeeze(word: str) -> str:
    word = _TRIPLE.sub(r"\1", word)
    return _DOUBLE.sub(
        lambda m: m.group(0) if m.group(1) in _KEEP_DOUBLE else m.group(1), word
    )


@functools.lru_cache(maxsize=4096)
def normalize_word(word: str) -> str:
    """One word folded, squeezed and mapped through the slang table."""
    folded = fold(word).strip(_EDGE_PUNCT)
    if not folded or "@" in folded or any(ch.isdigit() for ch in folded):
        return folded
    squeezed = _squeeze(folded)
    return _SLANG.get(squeezed, squeezed)


def normalize(text: str) -> str:
    """Fold a message for the rules: "¿Cuántooo me DEBEN?" -> "cuanto me deben".

    Lowercase, accents stripped (ñ becomes n), letters stretched for emphasis
    squeezed ("siii" -> "si"), common slang and typos replaced ("q" -> "que",
    "porfa" -> "por favor"), question and exclamation marks dropped, spaces
    collapsed. Digits, "$", "@", "-", "/", ",", "." inside words are kept so
    amounts, dates, invoice references and addresses still parse.
    """
    words = [normalize_word(word) for word in _SPACES.split(text.strip())]
    return _SPACES.sub(" ", " ".join(w for w in words if w)).strip()


def tokenize(text: str) -> list[Token]:
    """The words of the original text with their normalized forms and spans."""
    tokens = []
    for match in re.finditer(r"\S+", text):
        raw = match.group(0)
        tokens.append(Token(raw, normalize_word(raw), match.start(), match.end()))
    return tokens
