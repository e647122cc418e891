"""What the rest of the house needs to know about a chat platform, declared by its relay
and handed out by the composition root, so no platform name is compared outside relays/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerts.splitting import TextBudget


@dataclass(frozen=True)
class PlatformTraits:
    name: str
    command_prefix: str  # "/" on Telegram and the console, "!" on Matrix
    text_budget: TextBudget  # how long one message may be, measured as the platform does
    buttons: bool  # inline buttons; without them, choices are numbered and typed back
    # A user's own id is their private chat (Telegram, console); otherwise the relay
    # records a direct room per user in the platform state.
    user_id_is_private_chat: bool


# platform name → its traits; built once by the composition root from the relays.
PlatformCatalogue = Mapping[str, PlatformTraits]
