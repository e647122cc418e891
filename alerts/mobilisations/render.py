"""A call as every channel shows it: the alert's rendering (header `Mobilisation #12`,
place, text, themes) with its start, its live count and its answer buttons — or, once
closed, its outcome and no buttons."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.i18n import Translator
from alerts.messages import Button, OutboundMessage, Paragraph, Span
from alerts.mobilisations.buttons import press_data
from alerts.mobilisations.counts import NeedCount, Translate, count_line, need_label
from alerts.rendering import AlertRenderer, AlertView


@dataclass(frozen=True)
class CallView:
    alert: AlertView
    counts: tuple[NeedCount, ...]
    starts_at: datetime | None
    closed: bool = False
    outcome: str | None = None


class CallRenderer:
    def __init__(self, alerts: AlertRenderer, translate: Translator, timezone: str) -> None:
        self._alerts = alerts
        self._t = translate
        self._zone = ZoneInfo(timezone)

    def render(self, call: CallView, language: str, share_location: bool) -> OutboundMessage:
        base = self._alerts.render(call.alert, language, share_location)

        def t(key: str, /, **params: object) -> str:
            return self._t(language, key, **params)

        extra: list[Paragraph] = []
        if call.starts_at is not None:
            extra.append(
                Paragraph((Span(t("mob.starts", when=self.when(call.starts_at)), "bold"),))
            )
        extra.append(Paragraph((Span(count_line(list(call.counts), t)),)))
        if call.closed:
            outcome = call.outcome or t("mob.no_outcome")
            extra.append(Paragraph((Span(t("mob.closed", outcome=outcome), "bold"),)))
            return replace(base, paragraphs=base.paragraphs + tuple(extra), buttons=())
        extra.append(Paragraph((Span(t("mob.answer_hint"), "italic"),)))
        return replace(
            base,
            paragraphs=base.paragraphs + tuple(extra),
            buttons=self.buttons(call.alert.id, call.counts, t),
        )

    def when(self, moment: datetime) -> str:
        return moment.astimezone(self._zone).strftime("%d/%m %H:%M")

    @staticmethod
    def buttons(
        call_id: int, counts: tuple[NeedCount, ...], t: Translate
    ) -> tuple[tuple[Button, ...], ...]:
        going: tuple[tuple[Button, ...], ...]
        if len(counts) == 1:
            going = ((Button(t("mob.button.going"), press_data(call_id, "going")),),)
        else:  # one row per need: the labels stay readable on a phone
            going = tuple(
                (
                    Button(
                        t("mob.button.going_for", need=need_label(c.need, 1, t)),
                        press_data(call_id, "going", c.need),
                    ),
                )
                for c in counts
            )
        return (
            *going,
            (
                Button(t("mob.button.cannot"), press_data(call_id, "cannot")),
                Button(t("mob.button.withdraw"), press_data(call_id, "withdraw")),
            ),
        )
