"""The guided alert's steps: which one comes next, and what an answer (a button's value,
typed text, a shared location) does to the draft's state. No I/O: the conversation
(`guided`) asks, answers and stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alerts.messages import Location
from alerts.types import Urgency
from alerts.vocabulary import Vocabulary

STEPS = ("border", "place", "what", "people", "minors", "themes", "urgency", "confirm")
MAX_COUNT = 9999
_MAX_PLACE = 120

# What a press does: ask the next question, redraw the themes in place, raise the alert.
Pressed = Literal["next", "redraw", "send"]


@dataclass(frozen=True)
class Answer:
    """What to say about an answer; `stay`: the question is asked no further."""

    key: str | None = None
    params: dict[str, object] = field(default_factory=dict)
    stay: bool = False


def next_step(state: dict[str, Any]) -> str:
    if not state.get("border"):
        return "border"
    if "place" not in state:
        return "place"
    if not state.get("text"):
        return "what"
    for step in ("people", "minors"):
        if step not in state:
            return step
    if not state.get("themes_done"):
        return "themes"
    if "urgency" not in state:
        return "urgency"
    return "confirm"


def set_border(state: dict[str, Any], border_id: str) -> None:
    if state.get("border") != border_id:
        state.pop("place", None)
    state["border"] = border_id


def count(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    number = int(text)
    return number if number <= MAX_COUNT else None


def index(items: tuple[Any, ...], value: str) -> Any:
    if not value.isdigit():
        return None
    position = int(value)
    return items[position] if position < len(items) else None


def _choose_urgency(state: dict[str, Any], value: str) -> bool:
    if value not in {u.value for u in Urgency}:
        return False
    state["urgency"] = value
    return True


class GuidedSteps:
    def __init__(self, *, vocabulary: Vocabulary, location_radius_km: float) -> None:
        self._vocabulary = vocabulary
        self.radius = location_radius_km

    def next_step(self, state: dict[str, Any]) -> str:
        """The step to ask; a border without known places skips "place"."""
        step = next_step(state)
        if step == "place":
            border = self._vocabulary.border(state["border"])
            if border is None or not border.places:
                state["place"] = None
                step = next_step(state)
        return step

    def press(self, state: dict[str, Any], step: str, value: str) -> Pressed | None:
        """Apply a button's value; None when it names nothing this step offered."""
        if step == "themes":
            return self._toggle_theme(state, value)
        if step == "confirm":
            return "send" if value == "send" else None
        choose = {
            "border": self._choose_border,
            "place": self._choose_place,
            "people": lambda chosen, number: self._set_count(chosen, "people", number),
            "minors": lambda chosen, number: self._set_count(chosen, "minors", number),
            "urgency": _choose_urgency,
        }.get(step)
        return "next" if choose is not None and choose(state, value) else None

    def _choose_border(self, state: dict[str, Any], value: str) -> bool:
        border = index(self._vocabulary.borders, value)
        if border is None:
            return False
        set_border(state, border.id)
        return True

    def _choose_place(self, state: dict[str, Any], value: str) -> bool:
        if value == "-":
            state["place"] = None
            return True
        border = self._vocabulary.border(state.get("border") or "")
        place = index(border.places if border else (), value)
        if place is None:
            return False
        state["place"] = place.name
        return True

    def _set_count(self, state: dict[str, Any], step: str, value: str) -> bool:
        number = None if value == "?" else count(value)
        if value != "?" and number is None:
            return False
        state[step] = number
        if step == "minors" and number and "mineurs" in self._vocabulary.theme_ids:
            themes = state.setdefault("themes", [])
            if "mineurs" not in themes:
                themes.append("mineurs")
        return True

    def _toggle_theme(self, state: dict[str, Any], value: str) -> Pressed | None:
        if value == "ok":
            state["themes_done"] = True
            return "next"
        theme = index(self._vocabulary.themes, value)
        if theme is None:
            return None
        themes = state.setdefault("themes", [])
        if theme.id in themes:
            themes.remove(theme.id)
        else:
            themes.append(theme.id)
        return "redraw"

    def typed(self, state: dict[str, Any], step: str, text: str) -> Answer:
        """Typed text at `step` (cleaned, not empty; "what" is the caller's: its length is
        checked there)."""
        if step == "border":
            return self._typed_border(state, text)
        if step == "place":
            place = self._vocabulary.place_by_name(text)
            state["place"] = place.name if place is not None else text[:_MAX_PLACE]
            if place is not None and place.border_id != state.get("border"):
                set_border(state, place.border_id)
            return Answer()
        if step in ("people", "minors"):
            number = count(text)
            if number is None:
                return Answer("guided.not_a_number", stay=True)
            self._set_count(state, step, str(number))
            return Answer()
        return Answer("guided.use_buttons", stay=True)

    def _typed_border(self, state: dict[str, Any], text: str) -> Answer:
        border = self._vocabulary.border_by_label(text)
        place = self._vocabulary.place_by_name(text)
        if place is not None:
            set_border(state, place.border_id)
            state["place"] = place.name
        elif border is not None:
            set_border(state, border.id)
        else:
            return Answer("guided.use_buttons", stay=True)
        return Answer()

    def described(self, state: dict[str, Any], text: str, message_id: str | None) -> None:
        """The "what happened" answer (length already checked), its themes guessed."""
        state["text"] = text
        state["what_message"] = message_id
        themes = state.setdefault("themes", [])
        for theme_id in self._vocabulary.themes_in(text):
            if theme_id not in themes:
                themes.append(theme_id)

    def located(self, state: dict[str, Any], location: Location) -> Answer:
        """A shared position: kept for channels that opted in, named by the nearest place."""
        state["location"] = [location.latitude, location.longitude]
        match = self._vocabulary.nearest_place(location.latitude, location.longitude, self.radius)
        if match is None:
            return Answer("guided.place_far", {"radius": int(self.radius)})
        set_border(state, match.place.border_id)
        state["place"] = match.place.name
        return Answer(
            "guided.place_found", {"place": match.place.name, "km": f"{match.distance_km:.0f}"}
        )
