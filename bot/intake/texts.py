"""What the intake says to volunteers (guided alert, photos, locations, groups, edits,
delivery reports, the intake limit): French first, English too. The composition root
hands them to the Translator."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "guided.start": "🆕 Nouvelle alerte — répondez aux questions, ou {prefix}cancel pour "
        "abandonner.",
        "guided.border": "({step}/7) Quelle frontière ?",
        "guided.place": "({step}/7) Où exactement ? Choisissez un lieu, tapez-le, ou partagez "
        "votre position (seul le lieu connu le plus proche sera relayé).",
        "guided.place_none": "Pas de lieu précis",
        "guided.place_found": "📍 Position reçue : lieu le plus proche, {place} (à {km} km). "
        "Les coordonnées exactes ne sont transmises qu'aux canaux qui l'ont demandé.",
        "guided.place_far": "📍 Position reçue, mais aucun lieu connu à moins de {radius} km. "
        "Choisissez un lieu ou tapez-le.",
        "guided.what": "({step}/7) Que se passe-t-il ? Décrivez en un message (une photo avec "
        "légende est possible).",
        "guided.people": "({step}/7) Combien de personnes concernées ? (boutons, ou tapez un "
        "nombre)",
        "guided.unknown": "Je ne sais pas",
        "guided.minors": "({step}/7) Parmi elles, des mineur·es ? (boutons, ou tapez un nombre)",
        "guided.no_minors": "Aucun",
        "guided.themes": "({step}/7) Thèmes (plusieurs choix possibles), puis « Valider ».",
        "guided.themes_done": "Valider ➡️",
        "guided.urgency": "({step}/7) Quelle urgence ?",
        "guided.urgency.info": "ℹ️ Info",
        "guided.urgency.normal": "📣 Normale",
        "guided.urgency.urgent": "🚨 Urgente",
        "guided.urgency.vital": "🆘 Vitale (une vie en danger)",
        "guided.confirm": "Vérifiez puis envoyez :",
        "guided.send": "✅ Envoyer",
        "guided.cancel_button": "❌ Annuler",
        "guided.summary.border": "Frontière : {border}",
        "guided.summary.place": "Lieu : {place}",
        "guided.summary.people": "Personnes : {people}",
        "guided.summary.minors": "Mineur·es : {minors}",
        "guided.summary.themes": "Thèmes : {themes}",
        "guided.summary.urgency": "Urgence : {urgency}",
        "guided.summary.photo": "📷 Photo jointe (ses métadonnées seront retirées)",
        "guided.summary.location": "📍 Position jointe (transmise aux seuls canaux qui l'ont "
        "demandé)",
        "guided.none": "—",
        "guided.cancelled": "Alerte abandonnée : rien n'a été relayé.",
        "guided.nothing_to_cancel": "Aucune alerte en cours.",
        "guided.use_buttons": "Répondez avec les boutons ci-dessus (ou {prefix}cancel).",
        "guided.not_a_number": "Tapez un nombre (par exemple 12), ou utilisez les boutons.",
        "guided.stale_button": "Ce bouton ne correspond plus à une alerte en cours (elle a été "
        "envoyée, annulée ou a expiré). Rien n'a été relayé. Tapez {prefix}alert pour "
        "recommencer.",
        "guided.old_question": "Cette question a déjà eu sa réponse ; répondez à la dernière.",
        "guided.expired": "Votre alerte en cours a expiré après {minutes} min sans réponse : "
        "rien n'a été relayé. Tapez {prefix}alert pour recommencer.",
        "guided.in_group": "Pour une alerte pas à pas, écrivez-moi en message privé ; ici, "
        "utilisez {prefix}alert suivi du texte.",
        "guided.text_updated": "✏️ Texte de l'alerte en cours mis à jour.",
        "intake.unsupported.sticker": "Je ne peux pas lire les autocollants.",
        "intake.unsupported.voice": "Je ne peux pas écouter les messages vocaux.",
        "intake.unsupported.audio": "Je ne peux pas écouter les fichiers audio.",
        "intake.unsupported.document": "Je ne lis pas les documents joints.",
        "intake.unsupported.video": "Je ne peux pas regarder les vidéos.",
        "intake.unsupported.other": "Je ne peux pas lire ce type de message.",
        "intake.unsupported.hint": " Écrivez le texte de l'alerte (ou envoyez une photo avec "
        "légende). Rien n'a été relayé.",
        "stale.button": "Ce bouton n'est plus valable. Rien n'a été relayé.",
        "group.hello_member": "👋 Bonjour ! Je suis Tocsin, le relais d'alertes des associations "
        "partenaires. Un·e administrateur·ice peut abonner ce groupe avec {prefix}subscribe "
        "<frontière|*> [thèmes…].",
        "group.hello_stranger": "👋 Bonjour ! Je suis Tocsin, le relais d'alertes des "
        "associations partenaires aux frontières intérieures. Rien de ce qui est écrit ici "
        "n'est relayé. Si aucun·e administrateur·ice d'une association partenaire ne "
        "revendique ce groupe avec {prefix}subscribe d'ici {minutes} min, je le quitterai.",
        "group.leaving": "👋 Personne n'a revendiqué ce groupe : je le quitte. Rien n'a été "
        "relayé.",
        "edit.applied": "✏️ Correction appliquée à l'alerte #{id} : {count} message(s) "
        "modifié(s). La frontière, les thèmes et l'urgence restent ceux d'origine.",
        "edit.partly": " {skipped} canal(aux) gardent la version d'origine (message trop long "
        "pour être modifié).",
        "edit.too_late": "✏️ Votre modification n'a pas été appliquée : l'alerte #{id} a été "
        "relayée il y a plus de {minutes} min. Envoyez une nouvelle alerte pour compléter.",
        "edit.border_changed": "✏️ Votre modification n'a pas été appliquée : elle change la "
        "frontière de l'alerte #{id}. Envoyez une nouvelle alerte.",
        "edit.invalid": "✏️ Votre modification n'a pas été appliquée à l'alerte #{id} : {error}",
        "edit.ignored": "✏️ Les messages modifiés ne sont pas relus : envoyez plutôt un "
        "nouveau message.",
        "limit.refused": (
            "⏸ Limite atteinte : {limit} alertes par minute. Cette alerte n'est pas "
            "relayée, ni celles que vous enverrez avant {until} UTC (sans autre réponse). "
            "Une alerte !vital passe toujours. Chaque alerte relayée reçoit un accusé ✅ : "
            "renvoyez ensuite ce qui doit encore l'être."
        ),
        "limit.reported": (
            " ⏸ {count} alerte(s) envoyée(s) entre {first} et {last} UTC n'ont pas été "
            "relayées (limite de {limit} par minute)."
        ),
        "help.cancel": "{prefix}cancel — abandonner l'alerte en cours",
        "report.failed": "⚠️ Alerte #{id} : {failed} canal(aux) sur {total} n'ont pas pu être "
        "atteints ({channels}). Les autres l'ont reçue ou la recevront.",
    },
    "en": {
        "guided.start": "🆕 New alert — answer the questions, or {prefix}cancel to give up.",
        "guided.border": "({step}/7) Which border?",
        "guided.place": "({step}/7) Where exactly? Pick a place, type it, or share your "
        "location (only the nearest known place is relayed).",
        "guided.place_none": "No precise place",
        "guided.place_found": "📍 Location received: nearest place {place} ({km} km away). "
        "Exact coordinates only go to channels that asked for them.",
        "guided.place_far": "📍 Location received, but no known place within {radius} km. "
        "Pick a place or type it.",
        "guided.what": "({step}/7) What is happening? Describe it in one message (a photo with "
        "a caption works too).",
        "guided.people": "({step}/7) How many people are concerned? (buttons, or type a number)",
        "guided.unknown": "I don't know",
        "guided.minors": "({step}/7) Any minors among them? (buttons, or type a number)",
        "guided.no_minors": "None",
        "guided.themes": "({step}/7) Themes (several allowed), then “Done”.",
        "guided.themes_done": "Done ➡️",
        "guided.urgency": "({step}/7) How urgent?",
        "guided.urgency.info": "ℹ️ Info",
        "guided.urgency.normal": "📣 Normal",
        "guided.urgency.urgent": "🚨 Urgent",
        "guided.urgency.vital": "🆘 Vital (a life at risk)",
        "guided.confirm": "Check, then send:",
        "guided.send": "✅ Send",
        "guided.cancel_button": "❌ Cancel",
        "guided.summary.border": "Border: {border}",
        "guided.summary.place": "Place: {place}",
        "guided.summary.people": "People: {people}",
        "guided.summary.minors": "Minors: {minors}",
        "guided.summary.themes": "Themes: {themes}",
        "guided.summary.urgency": "Urgency: {urgency}",
        "guided.summary.photo": "📷 Photo attached (its metadata will be removed)",
        "guided.summary.location": "📍 Location attached (only for channels that asked for it)",
        "guided.none": "—",
        "guided.cancelled": "Alert cancelled: nothing was relayed.",
        "guided.nothing_to_cancel": "No alert in progress.",
        "guided.use_buttons": "Answer with the buttons above (or {prefix}cancel).",
        "guided.not_a_number": "Type a number (for example 12), or use the buttons.",
        "guided.stale_button": "This button no longer belongs to an alert in progress (it was "
        "sent, cancelled or expired). Nothing was relayed. Type {prefix}alert to start again.",
        "guided.old_question": "That question was already answered; answer the latest one.",
        "guided.expired": "Your alert in progress expired after {minutes} min without an "
        "answer: nothing was relayed. Type {prefix}alert to start again.",
        "guided.in_group": "For a step-by-step alert, write to me privately; here, use "
        "{prefix}alert followed by the text.",
        "guided.text_updated": "✏️ Text of the alert in progress updated.",
        "intake.unsupported.sticker": "I cannot read stickers.",
        "intake.unsupported.voice": "I cannot listen to voice messages.",
        "intake.unsupported.audio": "I cannot listen to audio files.",
        "intake.unsupported.document": "I do not read attached documents.",
        "intake.unsupported.video": "I cannot watch videos.",
        "intake.unsupported.other": "I cannot read this kind of message.",
        "intake.unsupported.hint": " Write the alert as text (or send a photo with a caption). "
        "Nothing was relayed.",
        "stale.button": "This button is no longer valid. Nothing was relayed.",
        "group.hello_member": "👋 Hello! I am Tocsin, the partner associations' alert relay. An "
        "admin can subscribe this group with {prefix}subscribe <border|*> [themes…].",
        "group.hello_stranger": "👋 Hello! I am Tocsin, the alert relay of the partner "
        "associations at internal borders. Nothing written here is relayed. Unless an admin "
        "of a partner association claims this group with {prefix}subscribe within {minutes} "
        "min, I will leave.",
        "group.leaving": "👋 Nobody claimed this group: I am leaving. Nothing was relayed.",
        "edit.applied": "✏️ Correction applied to alert #{id}: {count} message(s) edited. The "
        "border, themes and urgency stay as they were.",
        "edit.partly": " {skipped} channel(s) keep the original (message too long to edit).",
        "edit.too_late": "✏️ Your edit was not applied: alert #{id} was relayed more than "
        "{minutes} min ago. Send a new alert to add to it.",
        "edit.border_changed": "✏️ Your edit was not applied: it changes the border of alert "
        "#{id}. Send a new alert.",
        "edit.invalid": "✏️ Your edit was not applied to alert #{id}: {error}",
        "edit.ignored": "✏️ Edited messages are not read again: send a new message instead.",
        "limit.refused": (
            "⏸ Limit reached: {limit} alerts a minute. This alert is not relayed, nor are "
            "those you send before {until} UTC (without another answer). A !vital alert "
            "always goes through. Every relayed alert gets a ✅ receipt: send again "
            "afterwards what still needs relaying."
        ),
        "limit.reported": (
            " ⏸ {count} alert(s) sent between {first} and {last} UTC were not relayed "
            "(limit of {limit} a minute)."
        ),
        "help.cancel": "{prefix}cancel — give up the alert in progress",
        "report.failed": "⚠️ Alert #{id}: {failed} of {total} channel(s) could not be reached "
        "({channels}). The others got it or will get it.",
    },
}
