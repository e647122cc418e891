"""What the rest of Tocsin needs to know about Telegram, without building a relay: the
composition root reads it even in a process that runs no Telegram relay (a worker),
because deliveries to Telegram written there must still be split right."""

from __future__ import annotations

from alerts.platforms import PlatformTraits
from alerts.splitting import TextBudget, utf16_length

# Telegram counts 4,096 characters (UTF-16 units) after entity parsing.
TRAITS = PlatformTraits(
    name="telegram",
    command_prefix="/",
    text_budget=TextBudget(4096, utf16_length, reserve=0),
    buttons=True,
    user_id_is_private_chat=True,
)
