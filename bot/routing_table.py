"""`tocsin check`: the routing table, per channel, as an operator reads it."""

from __future__ import annotations

from config.schema import Settings


def routing_table(settings: Settings) -> list[str]:
    lines = [
        f"{len(settings.borders)} borders, {len(settings.themes)} themes, "
        f"{len(settings.organisations)} organisations, {len(settings.members)} members, "
        f"{len(settings.channels)} channels, {len(settings.feeds)} feeds",
        "",
    ]
    header = ("channel", "platform", "organisation", "kinds", "borders", "themes", "min urgency")
    rows = [header]
    for channel in settings.channels:
        rows.append(
            (
                channel.id,
                f"{channel.platform}:{channel.address}",
                channel.organisation,
                ",".join(channel.kinds),
                ",".join(channel.borders),
                ",".join(channel.themes),
                channel.min_urgency + (f" (quiet {channel.quiet})" if channel.quiet else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if not settings.channels:
        lines.append("(no channel: nothing will be relayed)")
    lines.extend(["", "by border (alerts and mobilisations, any theme):"])
    for border in settings.borders:
        receivers = [
            c.id
            for c in settings.channels
            if ("*" in c.borders or border.id in c.borders)
            and {"alert", "mobilisation"}.intersection(c.kinds)
        ]
        lines.append(f"  {border.id} → {', '.join(receivers) if receivers else '(nobody)'}")
    return lines
