"""Summaries of the books: totals by currency and the aging picture."""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

from flows.fmt import money
from storage.models import Invoice

BUCKET_LABELS = {
    "current": "Al corriente",
    "1-30": "1-30 días",
    "31-60": "31-60 días",
    "61-90": "61-90 días",
    "90+": "Más de 90",
}


def sum_by_currency(invoices: Iterable[Invoice]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal("0.00")) + (
            invoice.balance
        )
    return totals


def aging_summary(aging: dict[str, dict[str, Decimal]]) -> str:
    """Two lines a currency: what is owed and how much of it is late."""
    lines = []
    for currency, buckets in aging.items():
        total = sum(buckets.values(), Decimal("0.00"))
        late = total - buckets["current"]
        share = (late * 100 / total).quantize(Decimal("1")) if total else Decimal(0)
        oldest = buckets["90+"]
        lines.append(
            f"Te deben {money(total, currency)}; {money(late, currency)} ({share}%) "
            "ya está vencido."
        )
        if oldest:
            lines.append(
                f"Ojo: {money(oldest, currency)} tiene más de 90 días de vencido."
            )
        else:
            lines.append("Nada tiene más de 90 días de vencido. 👍")
    return "\n".join(lines)


def aging_chart_png(aging: dict[str, dict[str, Decimal]], *, title: str) -> bytes:
    """A bar chart of the aging buckets, one group of bars per currency."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = list(BUCKET_LABELS.values())
    colors = ["#2e7d32", "#f9a825", "#ef6c00", "#d84315", "#b71c1c"]
    fig, axes = plt.subplots(
        len(aging), 1, figsize=(6, 3.2 * len(aging)), squeeze=False, dpi=110
    )
    for axis, (currency, buckets) in zip(axes[:, 0], aging.items(), strict=True):
        # Bar heights are drawn in whole currency units; labels carry the exact text.
        values = [int(buckets[key]) for key in BUCKET_LABELS]
        bars = axis.bar(labels, values, color=colors)
        for bar, key in zip(bars, BUCKET_LABELS, strict=True):
            axis.annotate(
                money(buckets[key], currency),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        axis.set_title(f"{title} ({currency})", fontsize=10)
        axis.set_yticks([])
        for side in ("top", "right", "left"):
            axis.spines[side].set_visible(False)
        axis.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
