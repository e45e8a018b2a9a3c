"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("rfc", sa.String(length=13), nullable=False),
        sa.Column("tax_regime", sa.String(length=3), nullable=True),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("clabe", sa.String(length=18), nullable=True),
        sa.Column("bank_name", sa.String(length=64), nullable=True),
        sa.Column("stp_account_prefix", sa.String(length=8), nullable=True),
        sa.Column("default_terms_days", sa.Integer(), nullable=False),
        sa.Column("reminders_paused", sa.Boolean(), nullable=False),
        sa.Column("owner_digest", sa.Boolean(), nullable=False),
        sa.Column("plans_on_request", sa.Boolean(), nullable=False),
        sa.Column("plans_max_instalments", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business")),
        sa.UniqueConstraint("rfc", name=op.f("uq_business_rfc")),
    )
    op.create_table(
        "install_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_install_secret")),
        sa.UniqueConstraint("name", name=op.f("uq_install_secret_name")),
    )
    op.create_table(
        "sender_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_rate")),
        sa.UniqueConstraint(
            "channel", "sender", name=op.f("uq_sender_rate_channel_sender")
        ),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_api_key_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_key_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("whatsapp", sa.String(length=20), nullable=True),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("telegram_expected_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_app_user_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint(
            "business_id",
            "telegram_user_id",
            name=op.f("uq_app_user_business_id_telegram_user_id"),
        ),
        sa.UniqueConstraint(
            "business_id", "whatsapp", name=op.f("uq_app_user_business_id_whatsapp")
        ),
        sa.UniqueConstraint(
            "telegram_code_hash", name=op.f("uq_app_user_telegram_code_hash")
        ),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_user_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_app_user_telegram_user_id"),
            ["telegram_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_app_user_whatsapp"), ["whatsapp"], unique=False
        )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_audit_event_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_business_time", ["business_id", "created_at"], unique=False
        )

    op.create_table(
        "cfdi_pdf",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_cfdi_pdf_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfdi_pdf")),
        sa.UniqueConstraint(
            "business_id", "uuid", name=op.f("uq_cfdi_pdf_business_id_uuid")
        ),
    )
    with op.batch_alter_table("cfdi_pdf", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cfdi_pdf_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "cfdi_pending_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("source_uuid", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("related_uuid", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=2), nullable=True),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_cfdi_pending_payment_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfdi_pending_payment")),
        sa.UniqueConstraint(
            "business_id",
            "source_uuid",
            "line",
            name=op.f("uq_cfdi_pending_payment_business_id_source_uuid_line"),
        ),
    )
    with op.batch_alter_table("cfdi_pending_payment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cfdi_pending_related", ["business_id", "related_uuid"], unique=False
        )

    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_conversation_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "channel", "sender", name=op.f("uq_conversation_channel_sender")
        ),
    )
    op.create_table(
        "financing_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_requested", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount_approved", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount_used", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("receivables", sa.JSON(), nullable=True),
        sa.Column("web_token_hash", sa.String(length=64), nullable=True),
        sa.Column("web_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_financing_application_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financing_application")),
        sa.UniqueConstraint(
            "web_token_hash", name=op.f("uq_financing_application_web_token_hash")
        ),
    )
    with op.batch_alter_table("financing_application", schema=None) as batch_op:
        batch_op.create_index(
            "ix_financing_business_status", ["business_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_financing_status_deadline", ["status", "deadline_at"], unique=False
        )

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_idempotency_record_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint(
            "business_id", "key", name=op.f("uq_idempotency_record_business_id_key")
        ),
    )
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_inbound_message_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
        sa.UniqueConstraint(
            "channel",
            "provider_message_id",
            name=op.f("uq_inbound_message_channel_provider_message_id"),
        ),
    )
    op.create_table(
        "reminder_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_reminder_run_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_run")),
        sa.UniqueConstraint(
            "business_id",
            "planned_on",
            name=op.f("uq_reminder_run_business_id_planned_on"),
        ),
    )
    with op.batch_alter_table("reminder_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_run_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "reminder_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("statement_every_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_reminder_set_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_set")),
        sa.UniqueConstraint(
            "business_id", "name", name=op.f("uq_reminder_set_business_id_name")
        ),
    )
    with op.batch_alter_table("reminder_set", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_set_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "sales_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("product_key", sa.String(length=8), nullable=False),
        sa.Column("unit_key", sa.String(length=3), nullable=False),
        sa.Column("unit_name", sa.String(length=20), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat", sa.String(length=8), nullable=True),
        sa.Column("tax_object", sa.String(length=2), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_sales_item_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_item")),
        sa.UniqueConstraint(
            "business_id",
            "description",
            name=op.f("uq_sales_item_business_id_description"),
        ),
    )
    with op.batch_alter_table("sales_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_item_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "sat_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rfc", sa.String(length=13), nullable=False),
        sa.Column("certificate_number", sa.String(length=40), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("key_encrypted", sa.Text(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_sat_credential_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sat_credential")),
        sa.UniqueConstraint(
            "business_id", "kind", name=op.f("uq_sat_credential_business_id_kind")
        ),
    )
    with op.batch_alter_table("sat_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sat_credential_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "sat_download_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("request_type", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("packages", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_sat_download_request_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sat_download_request")),
        sa.UniqueConstraint(
            "business_id",
            "request_id",
            name=op.f("uq_sat_download_request_business_id_request_id"),
        ),
    )
    with op.batch_alter_table("sat_download_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sat_download_request_business_id"),
            ["business_id"],
            unique=False,
        )

    op.create_table(
        "sat_upload_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_sat_upload_link_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sat_upload_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sat_upload_link_token_hash")),
    )
    with op.batch_alter_table("sat_upload_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sat_upload_link_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_webhook_endpoint_business_id_business"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
    )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoint_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rfc", sa.String(length=13), nullable=False),
        sa.Column("match_key", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("trade_name", sa.String(length=300), nullable=True),
        sa.Column("tax_regime", sa.String(length=3), nullable=True),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("emails", sa.Text(), nullable=True),
        sa.Column("whatsapp", sa.String(length=20), nullable=True),
        sa.Column("clabe", sa.String(length=18), nullable=True),
        sa.Column("virtual_clabe", sa.String(length=18), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("terms_days", sa.Integer(), nullable=True),
        sa.Column("invoices_hidden", sa.Boolean(), nullable=False),
        sa.Column("reminders_enabled", sa.Boolean(), nullable=False),
        sa.Column("email_reminders", sa.Boolean(), nullable=False),
        sa.Column("whatsapp_reminders", sa.Boolean(), nullable=False),
        sa.Column("whatsapp_opted_out", sa.Boolean(), nullable=False),
        sa.Column("reminder_set_id", sa.Integer(), nullable=True),
        sa.Column("portal_token_hash", sa.String(length=64), nullable=True),
        sa.Column("portal_token_nonce", sa.String(length=32), nullable=True),
        sa.Column("portal_token_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_statement_on", sa.Date(), nullable=True),
        sa.Column(
            "whatsapp_last_inbound_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_contact_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["reminder_set_id"],
            ["reminder_set.id"],
            name=op.f("fk_contact_reminder_set_id_reminder_set"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint(
            "business_id",
            "kind",
            "match_key",
            name=op.f("uq_contact_business_id_kind_match_key"),
        ),
        sa.UniqueConstraint(
            "business_id",
            "virtual_clabe",
            name=op.f("uq_contact_business_id_virtual_clabe"),
        ),
        sa.UniqueConstraint(
            "portal_token_hash", name=op.f("uq_contact_portal_token_hash")
        ),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            "ix_contact_business_rfc", ["business_id", "rfc"], unique=False
        )
        batch_op.create_index(
            "ix_contact_virtual_clabe", ["virtual_clabe"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_whatsapp"), ["whatsapp"], unique=False
        )

    op.create_table(
        "reminder_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_set_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("whatsapp", sa.Boolean(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("wording", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reminder_set_id"],
            ["reminder_set.id"],
            name=op.f("fk_reminder_rule_reminder_set_id_reminder_set"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_rule")),
        sa.UniqueConstraint(
            "reminder_set_id",
            "event",
            "offset_days",
            name=op.f("uq_reminder_rule_reminder_set_id_event_offset_days"),
        ),
    )
    with op.batch_alter_table("reminder_rule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_rule_reminder_set_id"),
            ["reminder_set_id"],
            unique=False,
        )

    op.create_table(
        "cfdi_complement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xml", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_cfdi_complement_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_cfdi_complement_contact_id_contact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfdi_complement")),
        sa.UniqueConstraint(
            "business_id", "uuid", name=op.f("uq_cfdi_complement_business_id_uuid")
        ),
    )
    with op.batch_alter_table("cfdi_complement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cfdi_complement_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cfdi_complement_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("cfdi_type", sa.String(length=1), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=True),
        sa.Column("series", sa.String(length=25), nullable=True),
        sa.Column("folio", sa.String(length=40), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exchange_rate", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("subtotal", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("paid", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("payment_method", sa.String(length=3), nullable=False),
        sa.Column("payment_form", sa.String(length=2), nullable=True),
        sa.Column("payment_terms", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("xml", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_invoice_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_invoice_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint(
            "business_id", "uuid", name=op.f("uq_invoice_business_id_uuid")
        ),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoice_folio", ["business_id", "folio"], unique=False
        )
        batch_op.create_index(
            "ix_invoice_open",
            ["business_id", "direction", "status", "due_date"],
            unique=False,
        )

    op.create_table(
        "outbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("delivery_status", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_outbound_message_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_outbound_message_contact_id_contact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_message")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbound_message_dedupe_key")),
    )
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbound_message_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=2), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("complement_status", sa.String(length=16), nullable=False),
        sa.Column("complement_uuid", sa.String(length=36), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_payment_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_payment_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint(
            "business_id",
            "idempotency_key",
            name=op.f("uq_payment_business_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "payment_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_payment_plan_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_payment_plan_contact_id_contact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan")),
    )
    with op.batch_alter_table("payment_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_plan_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_plan_status", ["business_id", "status"], unique=False
        )

    op.create_table(
        "dispute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_dispute_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_dispute_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_dispute_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
    )
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dispute_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "payment_allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("partial_number", sa.Integer(), nullable=True),
        sa.Column("previous_balance", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_payment_allocation_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_payment_allocation_payment_id_payment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocation")),
        sa.UniqueConstraint(
            "payment_id",
            "invoice_id",
            name=op.f("uq_payment_allocation_payment_id_invoice_id"),
        ),
    )
    with op.batch_alter_table("payment_allocation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_allocation_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_allocation_payment_id"), ["payment_id"], unique=False
        )

    op.create_table(
        "payment_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("proof_path", sa.String(length=500), nullable=True),
        sa.Column("proof_content_type", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_payment_report_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_payment_report_contact_id_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_payment_report_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_payment_report_payment_id_payment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_report")),
    )
    with op.batch_alter_table("payment_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_report_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_report_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "plan_instalment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("paid", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["payment_plan.id"],
            name=op.f("fk_plan_instalment_plan_id_payment_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_instalment")),
        sa.UniqueConstraint(
            "plan_id", "number", name=op.f("uq_plan_instalment_plan_id_number")
        ),
    )
    with op.batch_alter_table("plan_instalment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_instalment_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "plan_invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column(
            "balance_at_start", sa.Numeric(precision=18, scale=2), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_plan_invoice_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["payment_plan.id"],
            name=op.f("fk_plan_invoice_plan_id_payment_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_invoice")),
        sa.UniqueConstraint(
            "plan_id", "invoice_id", name=op.f("uq_plan_invoice_plan_id_invoice_id")
        ),
    )
    with op.batch_alter_table("plan_invoice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_invoice_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plan_invoice_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "promise",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_promise_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_promise_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_promise_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promise")),
    )
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promise_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promise_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "sat_cancellation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("motive", sa.String(length=2), nullable=False),
        sa.Column("substitute_uuid", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("acknowledgment", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_sat_cancellation_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_sat_cancellation_invoice_id_invoice"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sat_cancellation")),
        sa.UniqueConstraint(
            "business_id", "uuid", name=op.f("uq_sat_cancellation_business_id_uuid")
        ),
    )
    with op.batch_alter_table("sat_cancellation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sat_cancellation_business_id"), ["business_id"], unique=False
        )

    op.create_table(
        "stp_deposit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("stp_id", sa.String(length=32), nullable=True),
        sa.Column("clave_rastreo", sa.String(length=64), nullable=False),
        sa.Column("fecha_operacion", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("beneficiary_account", sa.String(length=20), nullable=False),
        sa.Column("payer_account", sa.String(length=20), nullable=True),
        sa.Column("payer_name", sa.String(length=120), nullable=True),
        sa.Column("payer_bank", sa.String(length=8), nullable=True),
        sa.Column("concept", sa.String(length=210), nullable=True),
        sa.Column("numeric_reference", sa.String(length=16), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_stp_deposit_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_stp_deposit_contact_id_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_stp_deposit_payment_id_payment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stp_deposit")),
        sa.UniqueConstraint(
            "clave_rastreo",
            "fecha_operacion",
            name=op.f("uq_stp_deposit_clave_rastreo_fecha_operacion"),
        ),
    )
    with op.batch_alter_table("stp_deposit", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stp_deposit_business", ["business_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_stp_deposit_status", ["status", "received_at"], unique=False
        )

    op.create_table(
        "supplier_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("clabe", sa.String(length=18), nullable=False),
        sa.Column("beneficiary_name", sa.String(length=300), nullable=False),
        sa.Column("concept", sa.String(length=40), nullable=False),
        sa.Column("allocations", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", sa.Date(), nullable=False),
        sa.Column("clave_rastreo", sa.String(length=30), nullable=True),
        sa.Column("fecha_operacion", sa.Date(), nullable=True),
        sa.Column("stp_order_id", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_supplier_payment_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_supplier_payment_contact_id_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_supplier_payment_payment_id_payment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_payment")),
        sa.UniqueConstraint(
            "clave_rastreo", name=op.f("uq_supplier_payment_clave_rastreo")
        ),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_supplier_payment_idempotency_key")
        ),
    )
    with op.batch_alter_table("supplier_payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supplier_payment_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supplier_payment_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            "ix_supplier_payment_due", ["status", "scheduled_for"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supplier_payment_stp_order_id"),
            ["stp_order_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("supplier_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_payment_stp_order_id"))
        batch_op.drop_index("ix_supplier_payment_due")
        batch_op.drop_index(batch_op.f("ix_supplier_payment_contact_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_payment_business_id"))

    op.drop_table("supplier_payment")
    with op.batch_alter_table("stp_deposit", schema=None) as batch_op:
        batch_op.drop_index("ix_stp_deposit_status")
        batch_op.drop_index("ix_stp_deposit_business")

    op.drop_table("stp_deposit")
    with op.batch_alter_table("sat_cancellation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sat_cancellation_business_id"))

    op.drop_table("sat_cancellation")
    with op.batch_alter_table("promise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promise_contact_id"))
        batch_op.drop_index(batch_op.f("ix_promise_business_id"))

    op.drop_table("promise")
    with op.batch_alter_table("plan_invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_invoice_plan_id"))
        batch_op.drop_index(batch_op.f("ix_plan_invoice_invoice_id"))

    op.drop_table("plan_invoice")
    with op.batch_alter_table("plan_instalment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_instalment_plan_id"))

    op.drop_table("plan_instalment")
    with op.batch_alter_table("payment_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_report_contact_id"))
        batch_op.drop_index(batch_op.f("ix_payment_report_business_id"))

    op.drop_table("payment_report")
    with op.batch_alter_table("payment_allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_allocation_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_allocation_invoice_id"))

    op.drop_table("payment_allocation")
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_contact_id"))
        batch_op.drop_index(batch_op.f("ix_dispute_business_id"))

    op.drop_table("dispute")
    with op.batch_alter_table("payment_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_plan_status")
        batch_op.drop_index(batch_op.f("ix_payment_plan_contact_id"))

    op.drop_table("payment_plan")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_contact_id"))
        batch_op.drop_index(batch_op.f("ix_payment_business_id"))

    op.drop_table("payment")
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_message_provider_id"))
        batch_op.drop_index("ix_outbound_due")

    op.drop_table("outbound_message")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_open")
        batch_op.drop_index("ix_invoice_folio")
        batch_op.drop_index(batch_op.f("ix_invoice_contact_id"))

    op.drop_table("invoice")
    with op.batch_alter_table("cfdi_complement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cfdi_complement_contact_id"))
        batch_op.drop_index(batch_op.f("ix_cfdi_complement_business_id"))

    op.drop_table("cfdi_complement")
    with op.batch_alter_table("reminder_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_rule_reminder_set_id"))

    op.drop_table("reminder_rule")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_whatsapp"))
        batch_op.drop_index("ix_contact_virtual_clabe")
        batch_op.drop_index("ix_contact_business_rfc")
        batch_op.drop_index(batch_op.f("ix_contact_business_id"))

    op.drop_table("contact")
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoint_business_id"))

    op.drop_table("webhook_endpoint")
    with op.batch_alter_table("sat_upload_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sat_upload_link_business_id"))

    op.drop_table("sat_upload_link")
    with op.batch_alter_table("sat_download_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sat_download_request_business_id"))

    op.drop_table("sat_download_request")
    with op.batch_alter_table("sat_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sat_credential_business_id"))

    op.drop_table("sat_credential")
    with op.batch_alter_table("sales_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_item_business_id"))

    op.drop_table("sales_item")
    with op.batch_alter_table("reminder_set", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_set_business_id"))

    op.drop_table("reminder_set")
    with op.batch_alter_table("reminder_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_run_business_id"))

    op.drop_table("reminder_run")
    op.drop_table("inbound_message")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("financing_application", schema=None) as batch_op:
        batch_op.drop_index("ix_financing_status_deadline")
        batch_op.drop_index("ix_financing_business_status")

    op.drop_table("financing_application")
    op.drop_table("conversation")
    with op.batch_alter_table("cfdi_pending_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_cfdi_pending_related")

    op.drop_table("cfdi_pending_payment")
    with op.batch_alter_table("cfdi_pdf", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cfdi_pdf_business_id"))

    op.drop_table("cfdi_pdf")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_business_time")

    op.drop_table("audit_event")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_whatsapp"))
        batch_op.drop_index(batch_op.f("ix_app_user_telegram_user_id"))
        batch_op.drop_index(batch_op.f("ix_app_user_business_id"))

    op.drop_table("app_user")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_business_id"))

    op.drop_table("api_key")
    op.drop_table("sender_rate")
    op.drop_table("install_secret")
    op.drop_table("business")
