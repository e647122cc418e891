"""What the rest of Tocsin needs to know about Matrix, without building a relay (see
`relays.telegram.traits`)."""

from __future__ import annotations

from alerts.platforms import PlatformTraits
from alerts.splitting import TextBudget, utf8_length

# A Matrix event is 64 KiB in all and carries the text twice (body + HTML formatted_body,
# which escapes can grow): 24,000 bytes of visible text per event keeps it well under.
TRAITS = PlatformTraits(
    name="matrix",
    command_prefix="!",  # "/" is the Matrix client's own
    text_budget=TextBudget(24_000, utf8_length),
    buttons=False,  # choices are numbered and typed back
    user_id_is_private_chat=False,  # the relay records a direct room per user
)
