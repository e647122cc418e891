"""Telegram's HTML parse mode: visible text and entities, refused as the Bot API refuses.

The rules follow TDLib's ``parse_html`` (what the Bot API runs), checked against its
published test cases: the same supported tags, the same error messages, byte offsets
counted in UTF-8, entity offsets in UTF-16 code units. Notably a bare ``&`` (or an
unknown reference such as ``&nbsp;``) is kept literally, exactly like Telegram; only
``strict_ampersand=True`` refuses it, which Telegram never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)

# TDLib's is_space counts NUL, and the parser reads past the end as NUL: a tag cut by
# the end of the text therefore stops exactly where a space would stop it.
_SPACES = frozenset(b" \t\r\n\x0b\x0c\x00")
_NAMED_REFERENCES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SIMPLE_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_SURROGATE_ERROR = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


class EntityParseError(ValueError):
    """The text is refused; str(error) is what follows "can't parse entities: "."""


@dataclass(frozen=True)
class ParsedText:
    text: str
    entities: tuple[dict[str, Any], ...] = ()


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    byte_start: int


@dataclass
class _HtmlReader:
    data: bytes
    strict_ampersand: bool
    pos: int = 0
    out: bytearray = field(default_factory=bytearray)
    utf16: int = 0
    stack: list[_OpenTag] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    decoded_surrogate: bool = False

    def at(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def here(self) -> int:
        return self.at(self.pos)

    def skip_spaces(self) -> None:
        while self.here() != 0 and self.here() in _SPACES:
            self.pos += 1

    def run(self) -> ParsedText:
        while self.pos < len(self.data):
            char = self.data[self.pos]
            if char == ord("&") and self.read_reference():
                continue
            if char != ord("<"):
                self.append_byte(char)
            elif self.at(self.pos + 1) == ord("/"):
                self.end_tag()
            else:
                self.start_tag()
        return self.finish()

    def read_reference(self) -> bool:
        """Decode the character reference at `pos`; False for a bare "&" (kept as text,
        unless strict)."""
        reference = decode_reference(self.data, self.pos)
        if reference is not None:
            code, self.pos = reference
            self.append_code_point(code)
            return True
        if self.strict_ampersand:
            raise EntityParseError(f'Unescaped "&" at byte offset {self.pos}')
        return False

    def append_byte(self, char: int) -> None:
        self.out.append(char)
        if char & 0xC0 != 0x80:  # the first byte of a UTF-8 sequence
            self.utf16 += 2 if char >= 0xF0 else 1
        self.pos += 1

    def finish(self) -> ParsedText:
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        if self.decoded_surrogate:
            raise EntityParseError(_SURROGATE_ERROR)
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return ParsedText(self.out.decode("utf-8"), tuple(entities))

    def append_code_point(self, code: int) -> None:
        if 0xD800 <= code <= 0xDFFF:
            self.decoded_surrogate = True
            self.utf16 += 1
            return
        self.out += chr(code).encode("utf-8")
        self.utf16 += 2 if code > 0xFFFF else 1

    def start_tag(self) -> None:
        begin = self.pos
        self.pos += 1
        while self.here() not in _SPACES and self.here() != ord(">"):
            self.pos += 1
        if self.here() == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        name = self.data[begin + 1 : self.pos].decode("utf-8", "replace").lower()
        if name not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
        argument = self.read_attributes(name, begin)
        self.pos += 1  # the '>'
        if name == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_OpenTag(name, argument, self.utf16, len(self.out)))

    def read_attributes(self, name: str, begin: int) -> str:
        """Read the tag's attributes up to its ">"; the argument they give the entity."""
        argument = ""
        while self.here() != ord(">"):
            self.skip_spaces()
            if self.here() == ord(">"):
                break
            attribute = self.attribute_name(name, begin)
            self.skip_spaces()
            if self.here() != ord("="):
                argument = self.bare_attribute(name, attribute, begin)
                continue
            self.pos += 1
            self.skip_spaces()
            if self.here() == 0:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
            value = self.attribute_value()
            if self.here() == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            argument = _tag_argument(name, attribute, value, argument)
        return argument

    def attribute_name(self, name: str, begin: int) -> str:
        attribute_start = self.pos
        while self.here() not in _SPACES and self.here() not in b"=>":
            self.pos += 1
        attribute = self.data[attribute_start : self.pos].decode("utf-8", "replace").lower()
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{name}" at byte offset {begin}'
            )
        return attribute

    def bare_attribute(self, name: str, attribute: str, begin: int) -> str:
        """An attribute without a value: only <blockquote expandable> has one."""
        if self.here() == 0:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
        if name == "blockquote" and attribute == "expandable":
            return "1"
        raise EntityParseError(
            "Expected equal sign in declaration of an attribute of the tag "
            f'"{name}" at byte offset {begin}'
        )

    def attribute_value(self) -> str:
        quote = self.here()
        if quote not in b"'\"":
            token_start = self.pos
            while chr(self.here()).isascii() and (
                chr(self.here()).isalnum() or self.here() in b".-"
            ):
                self.pos += 1
            if self.here() not in _SPACES and self.here() != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_start}")
            return self.data[token_start : self.pos].decode("ascii").lower()
        self.pos += 1
        value = bytearray()
        while self.here() != quote and self.here() != 0:
            if self.here() == ord("&"):
                reference = decode_reference(self.data, self.pos)
                if reference is not None:
                    code, self.pos = reference
                    if not 0xD800 <= code <= 0xDFFF:
                        value += chr(code).encode("utf-8")
                    continue
            value.append(self.here())
            self.pos += 1
        if self.here() == quote:
            self.pos += 1
        return value.decode("utf-8", "replace")

    def end_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        self.pos += 2
        while self.here() not in _SPACES and self.here() != ord(">"):
            self.pos += 1
        end_name = self.data[begin + 2 : self.pos].decode("utf-8", "replace").lower()
        self.skip_spaces()
        if self.here() != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        self.pos += 1
        opened = self.stack.pop()
        if end_name and end_name != opened.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.name}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > opened.utf16_start:
            self.close_entity(opened, self.utf16 - opened.utf16_start)

    def close_entity(self, opened: _OpenTag, length: int) -> None:
        offset = opened.utf16_start
        kind = _SIMPLE_ENTITY.get(opened.name)
        if kind is not None:
            self.entities.append({"type": kind, "offset": offset, "length": length})
        elif opened.name == "blockquote":
            kind = "expandable_blockquote" if opened.argument else "blockquote"
            self.entities.append({"type": kind, "offset": offset, "length": length})
        elif opened.name == "a":
            url = opened.argument or self.out[opened.byte_start :].decode("utf-8")
            if url:
                self.entities.append(
                    {"type": "text_link", "offset": offset, "length": length, "url": url}
                )
        elif opened.name == "tg-emoji":
            if not opened.argument.isdigit() or int(opened.argument) <= 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": length,
                    "custom_emoji_id": opened.argument,
                }
            )
        elif opened.name in ("pre", "code"):
            self.close_code(opened, offset, length)

    def close_code(self, opened: _OpenTag, offset: int, length: int) -> None:
        """<pre><code class="language-x"> over the same text is one `pre` with a language."""
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == length
        if opened.name == "pre":
            if last is not None and same_span and last["type"] == "code" and "language" in last:
                last["type"] = "pre"
            else:
                self.entities.append({"type": "pre", "offset": offset, "length": length})
        elif last is not None and same_span and last["type"] == "pre" and opened.argument:
            last["language"] = opened.argument
        else:
            code: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                code["language"] = opened.argument
            self.entities.append(code)


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    if tag == "blockquote" and attribute == "expandable":
        return "1"
    return current


def decode_reference(data: bytes, start: int) -> tuple[int, int] | None:
    """Decode the character reference at data[start] == '&': (code point, end) or None.

    Like Telegram: &lt; &gt; &amp; &quot; and numeric references, the ';' optional;
    anything else is not a reference and stays literal.
    """

    def at(index: int) -> int:
        return data[index] if index < len(data) else 0

    end = start + 1
    if at(end) == ord("#"):
        end += 1
        hexadecimal = at(end) == ord("x")
        if hexadecimal:
            end += 1
        digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
        code = 0
        while at(end) != 0 and at(end) in digits:
            code = code * (16 if hexadecimal else 10) + int(chr(at(end)), 16)
            end += 1
            if code >= 0x10FFFF:
                return None
        if code == 0:
            return None
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        name = data[start + 1 : end]
        if name not in _NAMED_REFERENCES:
            return None
        code = ord(_NAMED_REFERENCES[name])
    if at(end) == ord(";"):
        end += 1
    return code, end


def parse_html(source: str, *, strict_ampersand: bool = False) -> ParsedText:
    """Parse Telegram HTML; raise EntityParseError with Telegram's message when refused."""
    return _HtmlReader(source.encode("utf-8"), strict_ampersand).run()


def strip_text(parsed: ParsedText) -> ParsedText:
    """Trim leading/trailing whitespace as Telegram does, shifting and clipping entities."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_length(text[: len(text) - len(text.lstrip())])
    size = utf16_length(stripped)
    entities: list[dict[str, Any]] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, tuple(entities))
