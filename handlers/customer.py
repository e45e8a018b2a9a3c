"""What a customer can ask Cobra about their own invoices with one business."""

from __future__ import annotations

INTENTS: dict = {}
STEPS: dict = {}
