"""User-facing text, French by default with English available. One catalogue for the bot
and for rendered facts, so a message is translated in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

DEFAULT_LANGUAGE: Final = "fr"
LANGUAGES: Final = ("fr", "en")

_FR: dict[str, str] = {
    "urgency.info": "info",
    "urgency.normal": "normale",
    "urgency.urgent": "URGENT",
    "urgency.vital": "VITAL — une vie en danger",
    "kind.alert": "Alerte",
    "kind.mobilisation": "Mobilisation",
    "kind.announcement": "Annonce",
    "kind.digest": "Synthèse",
    "alert.header": "{icon} {kind} #{id} · {urgency}",
    "alert.where": "📍 {place}{border}",
    "alert.where_border": "📍 {border}",
    "alert.people": "👥 {people} personne(s)",
    "alert.people_minors": "👥 {people} personne(s) dont {minors} mineur(s)",
    "alert.minors": "👥 {minors} mineur(s)",
    "alert.themes": "Thèmes : {themes}",
    "alert.footer": "Relayé par {organisation}",
    "alert.followup": "↪ Suite de l'alerte #{parent}",
    "alert.coordinates": "Position : {lat:.4f}, {lon:.4f}",
    "receipt": "✅ {kind} #{id} relayée à {count} canal(aux).",
    "receipt.none": (
        "⚠️ {kind} #{id} enregistrée, mais aucun canal n'est abonné à cette frontière "
        "et ces thèmes. Un·e coordinateur·ice peut ajouter un abonnement."
    ),
    "receipt.followup": " Rattachée à l'alerte #{parent} (même lieu).",
    "receipt.held": " {held} canal(aux) la recevront plus tard (heures calmes ou sourdine).",
    "error.empty": "L'alerte est vide. Exemple : /alert 12 personnes refoulées à Menton !urgent",
    "error.too_long": (
        "L'alerte est trop longue ({length} caractères, maximum {maximum}). Raccourcissez-la."
    ),
    "error.unknown_command": "Commande inconnue : {command}. Tapez {prefix}help pour la liste.",
    "error.not_member": (
        "Bonjour ! Ce service est réservé aux membres des associations partenaires. "
        "Pour rejoindre, demandez à l'administrateur·ice de votre association de vous "
        "ajouter (votre identifiant : {user}). Rien n'a été relayé."
    ),
    "error.forbidden": "Cette commande demande le rôle {role} (vous êtes {current}).",
    "hint.alert": (
        "Pour lancer une alerte, tapez {prefix}alert et répondez aux questions, ou "
        "{prefix}alert suivi du message, par exemple : {prefix}alert 12 personnes refoulées "
        "à Menton. {prefix}help pour les autres commandes."
    ),
    "error.internal": (
        "Désolé, ce message n'a pas pu être traité à cause d'une erreur interne : il n'a "
        "pas été relayé, et l'envoyer de nouveau à l'identique échouerait sans doute de même. "
        "Reformulez-le, ou prévenez un·e coordinateur·ice."
    ),
    "error.transient": (
        "Désolé, la base de données était momentanément indisponible : ce message n'a pas "
        "été traité ni relayé. Renvoyez-le dans un instant."
    ),
    "ask.border": (
        "Je n'ai pas reconnu la frontière. Répondez avec {prefix}alert et un lieu ou "
        "une frontière, par exemple #{example}. Frontières : {borders}."
    ),
    "ask.border_choice": (
        "Plusieurs frontières sont citées ({borders}). Précisez-en une avec #frontière."
    ),
    "help.title": "Tocsin — commandes",
    "help.alert": "{prefix}alert <texte> — relayer une alerte (ajoutez !urgent ou !vital)",
    "help.urgent": "{prefix}urgent <texte> — alerte urgente",
    "help.mobilise": ("{prefix}mobilise <texte> — appel à mobilisation (coordinateur·ice)"),
    "help.borders": "{prefix}borders — frontières et lieux connus",
    "help.whoami": "{prefix}whoami — votre compte et votre rôle",
    "help.help": "{prefix}help — cette aide",
    "help.language": "{prefix}lang fr|en — langue des réponses",
    "help.footer": "Les messages sont relayés aux canaux abonnés à la frontière et aux thèmes.",
    "borders.title": "Frontières connues :",
    "whoami": "Compte {user} ({platform}) · {organisation} · rôle {role}",
    "language.name": "français",
    "language.set": "Langue des réponses : français.",
    "language.current": (
        "Langue des réponses : français. Langues disponibles : {choices}. "
        "Pour changer : {prefix}lang suivi du code, par exemple {prefix}lang {example}."
    ),
    "language.unknown": "Langue non disponible : {wanted}. Langues disponibles : {choices}.",
    "notice.channel_gone": (
        "⚠️ Le canal {channel} ({platform}) ne reçoit plus les messages : {reason}. "
        "Il a été désactivé ; réinvitez le bot puis réactivez-le."
    ),
    "notice.dead": (
        "⚠️ Un message pour le canal {channel} n'a pas pu être remis après {attempts} "
        "tentatives : {reason}."
    ),
}

_EN: dict[str, str] = {
    "urgency.info": "info",
    "urgency.normal": "normal",
    "urgency.urgent": "URGENT",
    "urgency.vital": "VITAL — a life at risk",
    "kind.alert": "Alert",
    "kind.mobilisation": "Mobilisation",
    "kind.announcement": "Announcement",
    "kind.digest": "Digest",
    "alert.header": "{icon} {kind} #{id} · {urgency}",
    "alert.where": "📍 {place}{border}",
    "alert.where_border": "📍 {border}",
    "alert.people": "👥 {people} person(s)",
    "alert.people_minors": "👥 {people} person(s) including {minors} minor(s)",
    "alert.minors": "👥 {minors} minor(s)",
    "alert.themes": "Themes: {themes}",
    "alert.footer": "Relayed by {organisation}",
    "alert.followup": "↪ Follow-up of alert #{parent}",
    "alert.coordinates": "Position: {lat:.4f}, {lon:.4f}",
    "receipt": "✅ {kind} #{id} relayed to {count} channel(s).",
    "receipt.none": (
        "⚠️ {kind} #{id} saved, but no channel subscribes to this border and these themes. "
        "A coordinator can add a subscription."
    ),
    "receipt.followup": " Attached to alert #{parent} (same place).",
    "receipt.held": " {held} channel(s) will get it later (quiet hours or muted).",
    "error.empty": "The alert is empty. Example: /alert 12 people pushed back at Menton !urgent",
    "error.too_long": "The alert is too long ({length} characters, at most {maximum}).",
    "error.unknown_command": "Unknown command: {command}. Type {prefix}help for the list.",
    "error.not_member": (
        "Hello! This service is for members of the partner associations. To join, ask your "
        "association's admin to add you (your id: {user}). Nothing was relayed."
    ),
    "error.forbidden": "This command needs the {role} role (you are {current}).",
    "hint.alert": (
        "To raise an alert, type {prefix}alert and answer the questions, or {prefix}alert "
        "followed by the message, e.g. {prefix}alert 12 people pushed back at Menton. "
        "{prefix}help for the other commands."
    ),
    "error.internal": (
        "Sorry, this message could not be handled because of an internal error: it was not "
        "relayed, and sending it again unchanged would probably fail the same way. Rephrase "
        "it, or tell a coordinator."
    ),
    "error.transient": (
        "Sorry, the database was briefly unavailable: this message was not handled or "
        "relayed. Send it again in a moment."
    ),
    "ask.border": (
        "I did not recognise the border. Reply with {prefix}alert and a place or a border, "
        "for example #{example}. Borders: {borders}."
    ),
    "ask.border_choice": "Several borders are named ({borders}). Pick one with #border.",
    "help.title": "Tocsin — commands",
    "help.alert": "{prefix}alert <text> — relay an alert (add !urgent or !vital)",
    "help.urgent": "{prefix}urgent <text> — urgent alert",
    "help.mobilise": "{prefix}mobilise <text> — call for mobilisation (coordinator)",
    "help.borders": "{prefix}borders — known borders and places",
    "help.whoami": "{prefix}whoami — your account and role",
    "help.help": "{prefix}help — this help",
    "help.language": "{prefix}lang fr|en — reply language",
    "help.footer": "Messages go to the channels subscribed to the border and themes.",
    "borders.title": "Known borders:",
    "whoami": "Account {user} ({platform}) · {organisation} · role {role}",
    "language.name": "English",
    "language.set": "Reply language: English.",
    "language.current": (
        "Reply language: English. Available languages: {choices}. "
        "To change it: {prefix}lang followed by the code, e.g. {prefix}lang {example}."
    ),
    "language.unknown": "Language not available: {wanted}. Available languages: {choices}.",
    "notice.channel_gone": (
        "⚠️ Channel {channel} ({platform}) no longer receives messages: {reason}. It was "
        "deactivated; invite the bot again, then re-enable it."
    ),
    "notice.dead": (
        "⚠️ A message for channel {channel} could not be delivered after {attempts} "
        "attempts: {reason}."
    ),
}

_CATALOGUES: Final = {"fr": _FR, "en": _EN}

# A module's texts: language → key → template. Each feature module declares one as `TEXTS`
# and the composition root hands them all to the one `Translator` it builds.
TextTable = Mapping[str, Mapping[str, str]]


class TextDefinedTwice(ValueError):
    """Two modules give one key different texts: one would silently win."""

    def __init__(self, language: str, key: str) -> None:
        super().__init__(f"text {language}:{key} is defined twice, differently")


class Translator:
    """Looks up a key in a language, falling back to French, then to the key itself."""

    def __init__(self, *tables: TextTable) -> None:
        """The base texts above plus `tables`. A key two modules define differently is a
        mistake: it raises `TextDefinedTwice`."""
        self._catalogues = {lang: dict(texts) for lang, texts in _CATALOGUES.items()}
        for table in tables:
            for lang, texts in table.items():
                catalogue = self._catalogues.setdefault(lang, {})
                for key, template in texts.items():
                    if catalogue.get(key, template) != template:
                        raise TextDefinedTwice(lang, key)
                    catalogue[key] = template

    def __call__(self, language: str | None, key: str, /, **params: object) -> str:
        # Positional-only: a text may have a {language} parameter ("language.unknown").
        # French (with every module's texts) for a language or a key without a catalogue.
        french = self._catalogues[DEFAULT_LANGUAGE]
        catalogue = self._catalogues.get(language or DEFAULT_LANGUAGE, french)
        template = catalogue.get(key) or french.get(key) or key
        return template.format(**params) if params else template

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the bot can answer in: those whose catalogue names itself."""
        return tuple(lang for lang, texts in self._catalogues.items() if "language.name" in texts)
