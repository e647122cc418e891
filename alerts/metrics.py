"""What the working parts report for the operator's metrics, in neutral terms.

The dispatcher, the feed watcher and the alert service call these methods on the object
the composition root gives them; `bot.web.metrics` turns them into Prometheus series.
Nothing passed here names a person, a chat or a message: platform, kind and outcome only.
"""

from __future__ import annotations

from typing import Protocol

from typing_extensions import override

from alerts.messages import DeliveryResult


class Metrics(Protocol):
    def delivery_reported(
        self, platform: str, kind: str, result: DeliveryResult, since_accepted: float
    ) -> None:
        """A relay's report on one send; `since_accepted` is seconds since the row was
        written (with the fact that caused it)."""

    def delivery_dead(self, platform: str, kind: str) -> None:
        """The dispatcher gave up on a delivery (failed for good, or retried too long)."""

    def alert_received(self, platform: str, kind: str) -> None:
        """An alert or mobilisation was accepted (called once its transaction committed)."""

    def feed_polled(self, outcome: str) -> None:
        """One poll of one feed ended (`feeds.polls.PollStatus`)."""


class NoMetrics(Metrics):
    """Counts nothing: the default for parts built without the composition root."""

    @override
    def delivery_reported(
        self, platform: str, kind: str, result: DeliveryResult, since_accepted: float
    ) -> None:
        return None

    @override
    def delivery_dead(self, platform: str, kind: str) -> None:
        return None

    @override
    def alert_received(self, platform: str, kind: str) -> None:
        return None

    @override
    def feed_polled(self, outcome: str) -> None:
        return None
