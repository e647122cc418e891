"""The digest's texts (fr default, en), merged into the Translator by the composition root.
A language without a catalogue falls back to French (the Translator's rule)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "digest.title": "🗞 Synthèse de la semaine",
        "digest.title_network": "Synthèse du réseau",
        "digest.period": "Du {start} au {end}",
        "digest.date": "%d/%m/%Y %H:%M",
        "digest.day": "%d/%m/%Y",
        "digest.empty": "Rien à signaler sur vos frontières et thèmes pendant cette période.",
        "digest.counts": "Alertes par frontière et thème",
        "digest.total": "{total} alerte(s), {previous} la période précédente",
        "digest.count_line": "{border} · {theme} : {count} (avant : {previous})",
        "digest.no_border": "sans frontière",
        "digest.no_theme": "sans thème",
        "digest.urgent": "Alertes les plus urgentes",
        "digest.more": "… et {more} autre(s)",
        "digest.follow_ups": "{count} suite(s)",
        "digest.status.open": "en cours",
        "digest.status.closed": "clôturée",
        "digest.outcome": "issue : {outcome}",
        "digest.mobilisations": "Mobilisations",
        "digest.answers": (
            "{going} présent·e(s), {cannot} indisponible(s), {withdrawn} désisté·e(s)"
        ),
        "digest.need": "{need} {going}/{wanted}",
        "digest.need.observers": "observateur·ices",
        "digest.need.interpreter": "interprète",
        "digest.need.lawyer": "avocat·e",
        "digest.need.medical": "médical",
        "digest.need.transport": "transport",
        "digest.need.shelter": "hébergement",
        "digest.need.other": "autre",
        "digest.announcements": "Annonces : {theme}",
        "digest.failing_feeds": "Flux en échec",
        "digest.feed_failures": "{name} : {failures} échec(s) de suite",
        "digest.feed_paused": "{name} : en pause après {failures} échecs",
        "digest.unreachable": "Canaux injoignables",
        "digest.channel_line": "{channel} ({platform}) : {reason}",
        "digest.channel_line_short": "{channel} ({platform})",
        "digest.archive_index": "Archives des synthèses",
        "digest.archive_periods": "Périodes",
        "digest.archive_feed": "Flux Atom",
        "digest.archive_back": "← Toutes les périodes",
        "digest.chart": "Alertes par frontière et thème",
        "digest.col.border": "Frontière",
        "digest.col.theme": "Thème",
        "digest.col.count": "Alertes",
        "digest.col.previous": "Avant",
        "digest.chart_none": "Aucune alerte pendant cette période.",
        "digest.entry_summary": "{total} alerte(s), {mobilisations} mobilisation(s), "
        "{announcements} annonce(s).",
        "digest.command.not_channel": (
            "Cette conversation n'est pas un canal de Tocsin : il n'y a pas de synthèse à "
            "prévisualiser ici."
        ),
        "digest.command.bad_since": (
            "Durée non comprise : {value}. Exemple : {prefix}digest 7d (jours) ou 48h."
        ),
        "digest.command.preview": "Aperçu (non envoyé aux autres canaux, non enregistré) :",
        "digest.command.not_subscribed": (
            "Ce canal n'est pas abonné à la synthèse (type « digest ») : rien à prévisualiser."
        ),
        "help.digest": "{prefix}digest [7d] — aperçu de la synthèse de ce canal (admin)",
    },
    "en": {
        "digest.title": "🗞 Weekly digest",
        "digest.title_network": "Network digest",
        "digest.period": "From {start} to {end}",
        "digest.date": "%Y-%m-%d %H:%M",
        "digest.day": "%Y-%m-%d",
        "digest.empty": "Nothing to report on your borders and themes in this period.",
        "digest.counts": "Alerts by border and theme",
        "digest.total": "{total} alert(s), {previous} in the previous period",
        "digest.count_line": "{border} · {theme}: {count} (before: {previous})",
        "digest.no_border": "no border",
        "digest.no_theme": "no theme",
        "digest.urgent": "Most urgent alerts",
        "digest.more": "… and {more} more",
        "digest.follow_ups": "{count} follow-up(s)",
        "digest.status.open": "open",
        "digest.status.closed": "closed",
        "digest.outcome": "outcome: {outcome}",
        "digest.mobilisations": "Mobilisations",
        "digest.answers": "{going} going, {cannot} cannot, {withdrawn} withdrew",
        "digest.need": "{need} {going}/{wanted}",
        "digest.need.observers": "observers",
        "digest.need.interpreter": "interpreter",
        "digest.need.lawyer": "lawyer",
        "digest.need.medical": "medical",
        "digest.need.transport": "transport",
        "digest.need.shelter": "shelter",
        "digest.need.other": "other",
        "digest.announcements": "Announcements: {theme}",
        "digest.failing_feeds": "Failing feeds",
        "digest.feed_failures": "{name}: {failures} failure(s) in a row",
        "digest.feed_paused": "{name}: paused after {failures} failures",
        "digest.unreachable": "Unreachable channels",
        "digest.channel_line": "{channel} ({platform}): {reason}",
        "digest.channel_line_short": "{channel} ({platform})",
        "digest.archive_index": "Digest archive",
        "digest.archive_periods": "Periods",
        "digest.archive_feed": "Atom feed",
        "digest.archive_back": "← All periods",
        "digest.chart": "Alerts by border and theme",
        "digest.col.border": "Border",
        "digest.col.theme": "Theme",
        "digest.col.count": "Alerts",
        "digest.col.previous": "Before",
        "digest.chart_none": "No alert in this period.",
        "digest.entry_summary": "{total} alert(s), {mobilisations} mobilisation(s), "
        "{announcements} announcement(s).",
        "digest.command.not_channel": (
            "This conversation is not a Tocsin channel: there is no digest to preview here."
        ),
        "digest.command.bad_since": (
            "Duration not understood: {value}. Example: {prefix}digest 7d (days) or 48h."
        ),
        "digest.command.preview": "Preview (not sent to other channels, not recorded):",
        "digest.command.not_subscribed": (
            "This channel does not take the digest (kind “digest”): nothing to preview."
        ),
        "help.digest": "{prefix}digest [7d] — preview this channel's digest (admin)",
    },
}
