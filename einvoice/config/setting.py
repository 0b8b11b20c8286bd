"""One entry of the settings catalogue (`Setting`) and how its values are read and shown.

A setting has one environment variable (``EINVOICE_…``) and one key in one section of the TOML file
(``[mail.relay] host``). Values come as text from the environment and as TOML values from the file;
`Setting.parse_text` and `Setting.parse_toml` turn both into the same typed value or raise
``ValueError`` with a sentence that says what is expected (the caller adds where the value came from).
`as_text` turns a TOML value into the text the same value would have in the environment, so code that
reads settings as strings (`einvoice.config.setting`) sees no difference between the two sources.

Kinds: ``str``, ``int``, ``float``, ``bool``, ``path``, ``url``, ``list`` (comma-separated in the
environment, a TOML array or string in the file) and ``choice`` (one of ``choices``). A *secret*
(``secret=True``) is never printed, and like any entry with ``from_file=True`` it may be given as the
name of a file holding it: ``EINVOICE_X_FILE`` / ``x_file`` (its content without surrounding blanks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("str", "int", "float", "bool", "path", "url", "list", "choice")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
FILE_SUFFIX = "_FILE"


@dataclass(frozen=True)
class Setting:
    env: str  # EINVOICE_…
    section: str  # TOML table, dotted: "mail.relay"
    key: str  # key in that table
    kind: str
    help: str  # one line for admins
    default: Any = None  # typed; a callable computes it (machine-dependent defaults)
    default_text: str | None = None  # shown instead of the default (computed or derived defaults)
    example: str | None = None  # TOML literal for the example file (secrets: the path for x_file)
    secret: bool = False
    from_file: bool = False  # also EINVOICE_X_FILE / x_file (always for secrets)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    case: str | None = None  # "upper" / "lower": normalise text values (choices compare after it)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.env}: unknown kind {self.kind!r}")

    # ------------------------------------------------------------------ names
    @property
    def file_capable(self) -> bool:
        return self.secret or self.from_file

    @property
    def file_env(self) -> str:
        return self.env + FILE_SUFFIX

    @property
    def file_key(self) -> str:
        return self.key + "_file"

    @property
    def toml_name(self) -> str:
        return f"[{self.section}] {self.key}"

    # ------------------------------------------------------------------ defaults
    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def describe_default(self) -> str:
        if self.default_text is not None:
            return self.default_text
        value = self.default_value()
        if value is None or value == () or value == "":
            return "not set"
        return self.display(value)

    # ------------------------------------------------------------------ parsing
    def parse_text(self, text: str) -> Any:
        """The typed value of an environment text (already known to be non-blank)."""
        text = text.strip()
        if self.kind == "int":
            try:
                return self._range(int(text))
            except ValueError:
                raise ValueError(f"must be a whole number{self._range_text()}, got {text!r}") from None
        if self.kind == "float":
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"must be a number{self._range_text()}, got {text!r}") from None
            return self._range(number)
        if self.kind == "bool":
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise ValueError(f"must be true or false (1/0, yes/no), got {text!r}")
        if self.kind == "list":
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return self._text(text)

    def parse_toml(self, raw: Any) -> Any:
        """The typed value of a TOML value; wrong TOML types are refused (``port = "587"`` is an error)."""
        if self.kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError(f"must be a whole number{self._range_text()} (without quotes), got {_shown(raw)}")
            return self._range(raw)
        if self.kind == "float":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"must be a number{self._range_text()} (without quotes), got {_shown(raw)}")
            return self._range(float(raw))
        if self.kind == "bool":
            if not isinstance(raw, bool):
                raise ValueError(f"must be true or false (without quotes), got {_shown(raw)}")
            return raw
        if self.kind == "list":
            if isinstance(raw, str):
                return self.parse_text(raw)
            if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                raise ValueError(f"must be a list of texts, e.g. [\"a\", \"b\"], got {_shown(raw)}")
            return tuple(item.strip() for item in raw if item.strip())
        if not isinstance(raw, str):
            raise ValueError(f"must be a text in quotes, got {_shown(raw)}")
        return self._text(raw.strip()) if raw.strip() else None

    def _text(self, text: str) -> Any:
        if self.case == "upper":
            text = text.upper()
        elif self.case == "lower":
            text = text.lower()
        if self.choices and text not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {text!r}")
        if self.kind == "path":
            return Path(text).expanduser()
        if self.kind == "url" and "://" not in text:
            raise ValueError(f"must be a URL like https://host/…, got {text!r}")
        return text

    def _range(self, number):
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            raise ValueError(f"must be a {'whole ' if self.kind == 'int' else ''}number{self._range_text()}, "
                             f"got {number!r}")
        return number

    def _range_text(self) -> str:
        low, high = _num(self.minimum), _num(self.maximum)
        if low is not None and high is not None:
            return f" from {low} to {high}"
        if low is not None:
            return f" of at least {low}"
        return f" of at most {high}" if high is not None else ""

    # ------------------------------------------------------------------ showing
    def display(self, value: Any) -> str:
        """A value as shown to admins (secrets never; passwords in URLs hidden)."""
        if value is None or value == ():
            return "not set"
        if self.secret:
            return "set (hidden)"
        if isinstance(value, tuple):
            return ", ".join(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if self.kind == "url":
            return hide_password(str(value))
        return str(value)


def as_text(raw: Any) -> str:
    """A TOML value as the environment would carry it."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return ",".join(str(item) for item in raw)
    return str(raw)


def hide_password(url: str) -> str:
    """``scheme://user:secret@host/…`` → ``scheme://user:***@host/…`` (anything else unchanged)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def _num(value: float | None):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _shown(raw: Any) -> str:
    if isinstance(raw, str):
        return f"the text {raw!r}"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, dict):
        return "a table"
    return repr(raw)

