"""A Bot API request's parameters, read as the real server reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import errors


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Params:
    """A request's parameters: strings from forms and query strings, values from JSON."""

    values: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return json.dumps(value)
        raise errors.bad_request(f"{name} must be a string")

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise errors.bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise errors.bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float:
        value = self.values.get(name)
        if value in (None, ""):
            raise errors.bad_request(f"{name} is empty")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def object(self, name: str, *, error: str | None = None) -> Any:
        """A nested object: JSON-decoded when it came as a string (forms, multipart)."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise errors.bad_request(error or f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> Upload | None:
        """The uploaded file for a field: a part of that name, or an attach://<part>."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            part = self.files.get(value.removeprefix("attach://"))
            if part is None:
                raise errors.bad_request(f"file attached as {value} is not found")
            return part
        return None
