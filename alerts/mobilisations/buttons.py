"""The data an answer button carries: `mb:<call>:<action>[:<need>]`. Everything read
back is checked: a forged or mangled press names nothing and is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alerts.mobilisations.needs import Need

PREFIX = "mb"
Action = Literal["going", "cannot", "withdraw", "still"]
_CODES: dict[Action, str] = {"going": "g", "cannot": "c", "withdraw": "w", "still": "s"}
_ACTIONS = {code: action for action, code in _CODES.items()}
_MAX_ID = 10**15


@dataclass(frozen=True)
class Press:
    call: int
    action: Action
    need: Need | None = None


def press_data(call: int, action: Action, need: Need | None = None) -> str:
    data = f"{PREFIX}:{call}:{_CODES[action]}"
    return f"{data}:{need.value}" if need is not None else data


def is_ours(data: str) -> bool:
    return data.startswith(PREFIX + ":")


def read_press(data: str) -> Press | None:
    """The press the data names, or None when it is not one we could have sent."""
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    call = int(parts[1])
    action = _ACTIONS.get(parts[2])
    if action is None or not 0 < call < _MAX_ID:
        return None
    need = None
    if len(parts) == 4:
        if action != "going":
            return None
        try:
            need = Need(parts[3])
        except ValueError:
            return None
    return Press(call, action, need)
