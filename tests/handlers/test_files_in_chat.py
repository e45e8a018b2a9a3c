"""Files the owner sends in the chat: an invoice's XML, a zip of them, a sheet of
contacts, a photo; through the engine on both databases."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from flows.messages import Channel, Inbound, Media, Reply
from handlers import files
from handlers.context import EngineConfig
from handlers.engine import Engine
from prompts import texts
from storage.models import Contact, Invoice
from tests import cfdi_factory as cfdi
from tests.builders import NOW, make_business
from tests.conftest import Db

OWNER = "+525511112222"
_ids = itertools.count(1)


class Chat:
    def __init__(self, db: Db, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self.engine = Engine(db.factory, EngineConfig("https://cobra.test", b"k" * 32))
        with db.session() as session, session.begin():
            make_business(session, owner_whatsapp=OWNER)

    def send(
        self, name: str, data: bytes, content_type: str, *, text: str = ""
    ) -> Reply:
        path = self.folder / name
        path.write_bytes(data)
        media = Media(f"https://api.twilio.com/{name}", content_type, str(path))
        return self.say(text, media=(media,))

    def say(self, text: str, *, media: tuple[Media, ...] = ()) -> Reply:
        return self.engine.handle(
            Inbound(
                channel=Channel.WHATSAPP,
                sender=OWNER,
                text=text,
                received_at=NOW,
                provider_message_id=f"SM{next(_ids):08d}",
                media=media,
            )
        )

    def count(self, model: type[Contact] | type[Invoice]) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def chat(db: Db, tmp_path: Path) -> Chat:
    return Chat(db, tmp_path)


def test_an_invoice_xml_is_imported_and_described(chat: Chat) -> None:
    xml = cfdi.invoice(total="1160.00", series="A", folio="1001", terms="30 días")

    reply = chat.send("factura.xml", xml, "text/xml")

    assert reply.text.startswith(
        "Guardé la factura A-1001 por cobrar a ACME INDUSTRIAL por $1,160.00"
    )
    assert "te debe en total $1,160.00" in reply.text
    again = chat.send("otra-vez.xml", xml, "application/xml")
    assert again.text.startswith("Esa factura ya la tenía: A-1001 de ACME INDUSTRIAL")
    assert chat.count(Invoice) == 1


def test_a_zip_of_cfdi_is_summed_up_with_what_was_turned_down(chat: Chat) -> None:
    package = cfdi.zip_of(
        {
            "a.xml": cfdi.invoice(folio="1"),
            "b.xml": cfdi.invoice(folio="2", receiver=cfdi.BETA),
            "c.xml": cfdi.invoice(issuer=cfdi.SUPPLIER, receiver=cfdi.BUSINESS),
            "ajena.xml": cfdi.invoice(issuer=cfdi.STRANGER, receiver=cfdi.ACME),
        }
    )

    reply = chat.send("sat.zip", package, "application/zip", text="las del mes")

    assert reply.text.startswith("Importé 3 CFDI: 2 por cobrar, 1 por pagar.")
    assert "No importé 1:\n• ajena.xml:" in reply.text
    assert chat.count(Invoice) == 3


def test_a_broken_xml_is_answered_and_nothing_is_kept(chat: Chat) -> None:
    reply = chat.send("roto.xml", b"<cfdi:Comprobante>", "text/xml")

    assert reply.text.startswith("No importé 1:\n• archivo 1:")
    assert chat.count(Invoice) == 0


def _workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_sheet_of_contacts_is_counted_then_set_up_on_yes(chat: Chat) -> None:
    data = _workbook(
        [
            ["RFC", "Nombre", "Tipo", "Correo", "WhatsApp"],
            ["LTE900101AB1", "Luna Textil", "cliente", "pagos@luna.mx", "5512349999"],
            ["ACE950303EF4", "Aceros del Centro", "proveedor", "", ""],
            ["MAL", "RFC Malo", "cliente", "", ""],
        ]
    )

    proposal = chat.send("clientes.xlsx", data, XLSX)

    assert proposal.text == "El archivo trae 3 contactos. ¿Los doy de alta?"
    assert chat.count(Contact) == 0
    done = chat.say("sí")
    assert done.text.startswith("Listo: di de alta 2.\n1 renglones no pasaron:")
    assert "• Renglón 4:" in done.text
    with chat.db.session() as session:
        luna = session.scalars(
            select(Contact).where(Contact.rfc == "LTE900101AB1")
        ).one()
        assert (luna.name, luna.email_list, luna.whatsapp) == (
            "Luna Textil",
            ["pagos@luna.mx"],
            "+525512349999",
        )

    # The same sheet again, corrected: the two already there are updated.
    fixed = "RFC,Nombre\nLTE900101AB1,Luna Textil\nACE950303EF4,Aceros del Centro\n"
    again = chat.send("clientes.csv", fixed.encode(), "text/csv")
    assert again.text == (
        "El archivo trae 2 contactos; 2 ya los tengo y les actualizo los datos. "
        "¿Los doy de alta?"
    )
    assert chat.say("no").text
    assert chat.count(Contact) == 2


def test_a_photo_alone_is_asked_about_and_a_caption_is_read(chat: Chat) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"0" * 64

    alone = chat.send("foto.jpg", photo, "image/jpeg")
    assert alone.text.startswith("Recibí tu archivo. Si es un comprobante de pago")

    with_words = chat.send("foto2.jpg", photo, "image/jpeg", text="¿cuánto me deben?")
    assert with_words.text == "No tienes facturas por cobrar. 🎉"


def test_a_file_that_could_not_be_fetched_is_asked_for_again(chat: Chat) -> None:
    lost = Media("https://api.twilio.com/x", "text/xml", stored_path=None)

    assert chat.say("", media=(lost,)).text.startswith("No pude descargar el archivo")


def test_a_zip_too_big_for_a_chat_turn_is_refused_whole(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_DOCUMENTS", 2)
    package = cfdi.zip_of({f"{n}.xml": cfdi.invoice(folio=str(n)) for n in range(3)})

    reply = chat.send("sat.zip", package, "application/zip")

    assert reply.text.startswith("Eso trae 3 archivos; por aquí importo hasta 2")
    assert chat.count(Invoice) == 0


def test_a_voice_note_is_asked_to_be_written(chat: Chat) -> None:
    reply = chat.send("nota.ogg", b"OggS" + b"0" * 32, "audio/ogg")

    assert reply.text == texts.VOICE_NOTE
