"""The mobilisations' user-facing texts, merged into the Translator by the composition
root."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "mob.need.observers.one": "observateur·ice",
        "mob.need.observers.many": "observateur·ices",
        "mob.need.interpreter.one": "interprète",
        "mob.need.interpreter.many": "interprètes",
        "mob.need.lawyer.one": "avocat·e / juriste",
        "mob.need.lawyer.many": "avocat·es / juristes",
        "mob.need.medical.one": "soignant·e",
        "mob.need.medical.many": "soignant·es",
        "mob.need.transport.one": "transport",
        "mob.need.transport.many": "transports",
        "mob.need.shelter.one": "hébergement",
        "mob.need.shelter.many": "hébergements",
        "mob.need.other.one": "bénévole",
        "mob.need.other.many": "bénévoles",
        "mob.complete": "complet ✅",
        "mob.missing": "manque : {needs}",
        "mob.starts": "🕒 Rendez-vous : {when}",
        "mob.closed": "🔒 Mobilisation close. Bilan : {outcome}",
        "mob.no_outcome": "(close automatiquement)",
        "mob.answer_hint": "Répondez avec les boutons ; on peut changer d'avis.",
        "mob.button.going": "✋ J'y vais",
        "mob.button.going_for": "✋ J'y vais ({need})",
        "mob.button.cannot": "Je ne peux pas",
        "mob.button.withdraw": "Je me retire",
        "mob.button.still_yes": "👍 Oui, toujours",
        "mob.button.still_no": "Non, je me retire",
        "mob.error.no_need": (
            "De quoi avez-vous besoin ? Écrivez les besoins avec leur nombre, par exemple : "
            "{prefix}mobilise 2 observateurs, 1 interprète gare d'Hendaye 18h. Besoins "
            "possibles : observateurs, interprète, avocat ou juriste, médical, transport, "
            "hébergement, autre. Rien n'a été envoyé."
        ),
        "mob.error.start_past": (
            "L'heure de rendez-vous est déjà passée. Indiquez une heure à venir "
            "(18h, 18:00, demain 9h, dans 1h). Rien n'a été envoyé."
        ),
        "mob.error.start_bad": "Cette heure n'existe pas (ex. : 18h, 18:00). Rien n'a été envoyé.",
        "mob.error.escalate_bad": (
            "Délai d'escalade illisible : « {value} » (ex. : !escalate=15m). Rien n'a été envoyé."
        ),
        "mob.receipt": (
            "✅ Mobilisation #{id} envoyée à {count} canal(aux). Vous serez prévenu·e de chaque "
            "réponse. {prefix}mobilisation {id} pour la liste, {prefix}close {id} <bilan> "
            "pour la clore."
        ),
        "mob.ask_border": (
            "Où est-ce ? Ajoutez un lieu connu ou une frontière ({borders}), par exemple "
            "#{example}. Rien n'a été envoyé."
        ),
        "mob.guide.start": (
            "Nouvelle mobilisation. Écrivez en une ligne les besoins, le lieu et l'heure, "
            "par exemple : 2 observateurs, 1 interprète gare d'Hendaye 18h. Ou choisissez un "
            "besoin :"
        ),
        "mob.guide.need_chosen": (
            "Besoin : {need}. Écrivez maintenant le lieu et l'heure (ex. : gare d'Hendaye 18h)."
        ),
        "mob.guide.cancelled": "Mobilisation abandonnée, rien n'a été envoyé.",
        "mob.guide.cancel": "Annuler",
        "mob.guide.stale": (
            "Ce bouton appartient à une mobilisation qui n'est plus en préparation. "
            "Tapez {prefix}mobilise pour en commencer une."
        ),
        "mob.edit_refused": (
            "La mobilisation #{id} est déjà partie : modifier votre message ne la change pas. "
            "Pour corriger, {prefix}close {id} <raison> puis lancez-en une nouvelle."
        ),
        "mob.answer.going": "✅ Noté : vous allez à la mobilisation #{id} ({need}). Merci !",
        "mob.answer.cannot": "Noté : vous ne pouvez pas pour la mobilisation #{id}.",
        "mob.answer.withdrawn": "Noté : vous vous retirez de la mobilisation #{id}.",
        "mob.answer.not_going": "Vous n'aviez pas annoncé venir à la mobilisation #{id}.",
        "mob.answer.closed": "La mobilisation #{id} est close : réponse non enregistrée.",
        "mob.answer.unknown": "Ce bouton ne correspond à aucune mobilisation en cours.",
        "mob.answer.stranger": (
            "Bonjour ! Seul·es les membres des associations partenaires peuvent répondre à "
            "une mobilisation. Demandez à votre association de vous ajouter."
        ),
        "mob.notice.answers": "📬 Mobilisation #{id} : {count} réponse(s)",
        "mob.notice.line": "• {name} ({organisation}) — {answer}",
        "mob.notice.more": "• … et {count} autre(s)",
        "mob.notice.going": "y va ({need})",
        "mob.notice.cannot": "ne peut pas",
        "mob.notice.withdrawn": "se retire",
        "mob.notice.escalated": (
            "⏫ Mobilisation #{id} : besoins encore non couverts, rappel envoyé à {count} "
            "canal(aux) de plus, urgence relevée à « {urgency} »."
        ),
        "mob.notice.closed_auto": "🔒 Mobilisation #{id} close automatiquement (délai passé).",
        "mob.reminder": ("⏰ Rappel : mobilisation #{id} à {when}{place}. Toujours partant·e ?"),
        "mob.reminder.yes": "Merci ! À tout à l'heure.",
        "mob.list.title": "Mobilisation #{id} — {state}",
        "mob.list.open": "ouverte",
        "mob.list.closed": "close ({outcome})",
        "mob.list.need": "{need} {covered}/{wanted} : {names}",
        "mob.list.cannot": "Ne peuvent pas : {names}",
        "mob.list.nobody": "personne",
        "mob.list.usage": (
            "Usage : {prefix}mobilisation <numéro>, par exemple {prefix}mobilisation 12."
        ),
        "mob.unknown": "Aucune mobilisation ni alerte n°{id}.",
        "mob.not_yours": (
            "Seul·es l'auteur·ice de #{id}, les admins de son association et les admins "
            "peuvent faire cela."
        ),
        "close.usage": (
            "Usage : {prefix}close <numéro> <bilan>, par exemple "
            "{prefix}close 12 3 personnes accompagnées."
        ),
        "close.already": "#{id} est déjà close.",
        "close.done": "🔒 #{id} close avec son bilan ; {count} copie(s) mise(s) à jour.",
        "close.alert_followup": "🔒 Suite de l'alerte #{id} — bilan : {outcome}",
        "agenda.title": "Mobilisations à venir :",
        "agenda.none": "Aucune mobilisation ouverte avec une heure de rendez-vous.",
        "agenda.line": "#{id} — {when} — {place} — {count}",
        "help.mobilise_call": (
            "{prefix}mobilise <besoins, lieu, heure> — appel à mobilisation (coordinateur·ice)"
        ),
        "help.mobilisation": "{prefix}mobilisation <n°> — qui vient, qui ne peut pas",
        "help.close": "{prefix}close <n°> <bilan> — clore une mobilisation ou une alerte",
        "help.agenda": "{prefix}agenda — les mobilisations à venir",
        "help.answer": "{prefix}answer <n°> — la mobilisation et ses boutons, pour répondre ici",
        "mob.answer.usage": "Usage : {prefix}answer <numéro>, par exemple {prefix}answer 12.",
    },
    "en": {
        "mob.need.observers.one": "observer",
        "mob.need.observers.many": "observers",
        "mob.need.interpreter.one": "interpreter",
        "mob.need.interpreter.many": "interpreters",
        "mob.need.lawyer.one": "lawyer / legal",
        "mob.need.lawyer.many": "lawyers / legal",
        "mob.need.medical.one": "medic",
        "mob.need.medical.many": "medics",
        "mob.need.transport.one": "transport",
        "mob.need.transport.many": "transports",
        "mob.need.shelter.one": "shelter",
        "mob.need.shelter.many": "shelters",
        "mob.need.other.one": "volunteer",
        "mob.need.other.many": "volunteers",
        "mob.complete": "complete ✅",
        "mob.missing": "missing: {needs}",
        "mob.starts": "🕒 Meeting time: {when}",
        "mob.closed": "🔒 Mobilisation closed. Outcome: {outcome}",
        "mob.no_outcome": "(closed automatically)",
        "mob.answer_hint": "Answer with the buttons; you can change your mind.",
        "mob.button.going": "✋ I'm going",
        "mob.button.going_for": "✋ I'm going ({need})",
        "mob.button.cannot": "I can't",
        "mob.button.withdraw": "I withdraw",
        "mob.button.still_yes": "👍 Yes, still going",
        "mob.button.still_no": "No, I withdraw",
        "mob.error.no_need": (
            "What do you need? Write the needs with their counts, e.g. {prefix}mobilise "
            "2 observers, 1 interpreter Hendaye station 6pm. Needs: observers, interpreter, "
            "lawyer or legal, medical, transport, shelter, other. Nothing was sent."
        ),
        "mob.error.start_past": (
            "That meeting time is already past. Give a time ahead (6pm, 18:00, tomorrow 9am, "
            "in 1h). Nothing was sent."
        ),
        "mob.error.start_bad": "That time does not exist (e.g. 6pm, 18:00). Nothing was sent.",
        "mob.error.escalate_bad": (
            'Unreadable escalation delay: "{value}" (e.g. !escalate=15m). Nothing was sent.'
        ),
        "mob.receipt": (
            "✅ Mobilisation #{id} sent to {count} channel(s). You will be told of every "
            "answer. {prefix}mobilisation {id} lists them, {prefix}close {id} <outcome> "
            "closes it."
        ),
        "mob.ask_border": (
            "Where is it? Add a known place or a border ({borders}), e.g. #{example}. "
            "Nothing was sent."
        ),
        "mob.guide.start": (
            "New mobilisation. Write the needs, place and time in one line, e.g. 2 observers, "
            "1 interpreter Hendaye station 6pm. Or choose a need:"
        ),
        "mob.guide.need_chosen": "Need: {need}. Now write the place and time (e.g. Hendaye 6pm).",
        "mob.guide.cancelled": "Mobilisation dropped, nothing was sent.",
        "mob.guide.cancel": "Cancel",
        "mob.guide.stale": (
            "This button belongs to a mobilisation no longer being prepared. "
            "Type {prefix}mobilise to start one."
        ),
        "mob.edit_refused": (
            "Mobilisation #{id} has gone out: editing your message does not change it. "
            "To correct it, {prefix}close {id} <reason> and call again."
        ),
        "mob.answer.going": "✅ Noted: you are going to mobilisation #{id} ({need}). Thank you!",
        "mob.answer.cannot": "Noted: you cannot make mobilisation #{id}.",
        "mob.answer.withdrawn": "Noted: you withdraw from mobilisation #{id}.",
        "mob.answer.not_going": "You had not said you were going to mobilisation #{id}.",
        "mob.answer.closed": "Mobilisation #{id} is closed: answer not recorded.",
        "mob.answer.unknown": "This button belongs to no current mobilisation.",
        "mob.answer.stranger": (
            "Hello! Only members of the partner associations can answer a mobilisation. "
            "Ask your association to add you."
        ),
        "mob.notice.answers": "📬 Mobilisation #{id}: {count} answer(s)",
        "mob.notice.line": "• {name} ({organisation}) — {answer}",
        "mob.notice.more": "• … and {count} more",
        "mob.notice.going": "going ({need})",
        "mob.notice.cannot": "cannot",
        "mob.notice.withdrawn": "withdrew",
        "mob.notice.escalated": (
            "⏫ Mobilisation #{id}: needs still uncovered, sent again to {count} more "
            'channel(s), urgency raised to "{urgency}".'
        ),
        "mob.notice.closed_auto": "🔒 Mobilisation #{id} closed automatically (time is up).",
        "mob.reminder": "⏰ Reminder: mobilisation #{id} at {when}{place}. Still going?",
        "mob.reminder.yes": "Thank you! See you there.",
        "mob.list.title": "Mobilisation #{id} — {state}",
        "mob.list.open": "open",
        "mob.list.closed": "closed ({outcome})",
        "mob.list.need": "{need} {covered}/{wanted}: {names}",
        "mob.list.cannot": "Cannot: {names}",
        "mob.list.nobody": "nobody",
        "mob.list.usage": "Usage: {prefix}mobilisation <number>, e.g. {prefix}mobilisation 12.",
        "mob.unknown": "No mobilisation or alert #{id}.",
        "mob.not_yours": (
            "Only the author of #{id}, their organisation's admins and admins can do that."
        ),
        "close.usage": (
            "Usage: {prefix}close <number> <outcome>, e.g. {prefix}close 12 3 people helped."
        ),
        "close.already": "#{id} is already closed.",
        "close.done": "🔒 #{id} closed with its outcome; {count} copy(ies) updated.",
        "close.alert_followup": "🔒 Follow-up of alert #{id} — outcome: {outcome}",
        "agenda.title": "Upcoming mobilisations:",
        "agenda.none": "No open mobilisation with a meeting time.",
        "agenda.line": "#{id} — {when} — {place} — {count}",
        "help.mobilise_call": (
            "{prefix}mobilise <needs, place, time> — call for mobilisation (coordinator)"
        ),
        "help.mobilisation": "{prefix}mobilisation <no.> — who is going, who cannot",
        "help.close": "{prefix}close <no.> <outcome> — close a mobilisation or an alert",
        "help.agenda": "{prefix}agenda — upcoming mobilisations",
        "help.answer": "{prefix}answer <no.> — the mobilisation and its buttons, to answer here",
        "mob.answer.usage": "Usage: {prefix}answer <number>, e.g. {prefix}answer 12.",
    },
}
