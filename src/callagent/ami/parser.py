"""A sans-IO parser for the Asterisk Manager Interface: bytes in, messages out.

No sockets and no clock here (the shape of h11): the connection adapter feeds
whatever the socket gave it, in chunks cut at any byte, and gets back complete
messages and the frames it had to drop, each with the reason. Frames are
decoded only once complete, so a Cyrillic name split inside a UTF-8 character
between two TCP reads arrives whole.
"""

from __future__ import annotations

from dataclasses import dataclass

_BANNER_PREFIX = b"Asterisk Call Manager/"
_FRAME_END = b"\n\n"
_KINDS = ("Event", "Response", "Action")  # Action: frames a PBX (or our simulator) reads


class AmiMessage:
    """One AMI event or action response.

    ``headers`` keeps the first value of each header; headers that Asterisk
    repeats (``ChanVariable``, ``Variable``, command ``Output``) keep every value
    in order through :meth:`getall`.
    """

    __slots__ = ("_repeated", "headers")

    def __init__(
        self, headers: dict[str, str], repeated: dict[str, list[str]] | None = None
    ) -> None:
        self.headers = headers
        self._repeated = repeated

    @property
    def event(self) -> str:
        """The event name ('' for a response)."""
        return self.headers.get("Event", "")

    @property
    def response(self) -> str:
        """The response status ('' for an event)."""
        return self.headers.get("Response", "")

    @property
    def action(self) -> str:
        """The action name, for frames sent to a PBX ('' otherwise)."""
        return self.headers.get("Action", "")

    @property
    def action_id(self) -> str:
        """The ActionID this message answers ('' when none)."""
        return self.headers.get("ActionID", "")

    def get(self, key: str, default: str = "") -> str:
        """The first value of header ``key``."""
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def __contains__(self, key: object) -> bool:
        return key in self.headers

    def getall(self, key: str) -> list[str]:
        """Every value of a header that may be repeated, in wire order."""
        if self._repeated and key in self._repeated:
            return list(self._repeated[key])
        value = self.headers.get(key)
        return [] if value is None else [value]

    def __repr__(self) -> str:
        kind = f"Event={self.event!r}" if self.event else f"Response={self.response!r}"
        return f"<AmiMessage {kind} {len(self.headers)} headers>"


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """A frame the parser dropped, and why (never raised: the stream goes on)."""

    reason: str
    excerpt: str


ParsedItem = AmiMessage | MalformedFrame


def _excerpt(raw: bytes | str, limit: int = 80) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.replace("\n", "\\n")
    return text[:limit] + ("…" if len(text) > limit else "")


def parse_frame(text: str) -> ParsedItem:
    """Turn the text of one frame (lines joined by LF, no blank line) into a message."""
    lines = text.split("\n")
    try:
        headers = dict(line.split(": ", 1) for line in lines)
    except ValueError:
        return _parse_frame_slow(lines)
    if len(headers) != len(lines):
        return _parse_frame_slow(lines)
    if "Event" not in headers and "Response" not in headers and "Action" not in headers:
        return _parse_frame_slow(lines)
    return AmiMessage(headers)


def _is_header(line: str) -> bool:
    key, sep, _ = line.partition(":")
    return bool(sep and key and " " not in key)


def _parse_frame_slow(lines: list[str]) -> ParsedItem:
    """The careful path: repeated headers, ``Key:`` with no space, garbage lines.

    A frame is a set of headers: ``Event:``/``Response:`` may stand anywhere in
    it (Asterisk sends it first; recordings such as cacofonisk's fixtures store
    headers in alphabetical order), and every header before it is kept. Only
    lines that are not headers at all before the first header (noise a
    reconnect left on the wire) are skipped as not part of the frame.
    """
    kind_at = next((i for i, line in enumerate(lines) if line.partition(":")[0] in _KINDS), None)
    if kind_at is None:
        return MalformedFrame("no Event, Response or Action header", _excerpt("\n".join(lines)))
    start = 0
    while start < kind_at and not _is_header(lines[start]):
        start += 1
    kind_line = lines[kind_at]
    follows = (
        kind_line.partition(":")[0] == "Response"
        and kind_line.partition(":")[2].strip() == "Follows"
    )
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    bad_lines = 0
    for line in lines[start:]:
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            if follows:
                # Old-style command output: body lines without a header name.
                repeated = repeated or {}
                repeated.setdefault("Output", []).append(line)
                continue
            bad_lines += 1
            continue
        if value.startswith(" "):
            value = value[1:]
        if key in headers:
            repeated = repeated or {}
            repeated.setdefault(key, [headers[key]]).append(value)
        else:
            headers[key] = value
    if bad_lines:
        return MalformedFrame(
            f"{bad_lines} line(s) without 'Name: value' in a {kind_line!r} frame",
            _excerpt("\n".join(lines)),
        )
    return AmiMessage(headers, repeated)


class AmiParser:
    """Incremental AMI parser. Call :meth:`feed` with each chunk read from the socket."""

    def __init__(self, max_frame_bytes: int = 1_048_576, *, expect_banner: bool = True) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.banner: str | None = None
        self.frames = 0
        self.malformed = 0
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already searched for a frame end
        self._pending_cr = False
        self._expect_banner = expect_banner
        self._discarding = False

    def feed(self, data: bytes) -> list[ParsedItem]:
        """Add bytes read from the wire; return every message they complete."""
        if not data:
            return []
        # Normalise CRLF to LF once, in C, carrying a CR split from its LF.
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._pending_cr = True
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        buffer = self._buffer
        buffer += data
        out: list[ParsedItem] = []
        pos = 0
        if self._expect_banner:
            pos = self._take_banner()
            if self._expect_banner:
                return out
        if self._discarding:
            end = buffer.find(_FRAME_END, max(self._scanned - 1, pos))
            if end < 0:
                del buffer[:-1]  # keep one byte: a blank line may straddle the next read
                self._scanned = len(buffer)
                return out
            pos = end + 2
            self._discarding = False
            self._scanned = pos
        find = buffer.find
        scan_from = max(self._scanned - 1, pos)
        while True:
            end = find(_FRAME_END, scan_from)
            if end < 0:
                break
            if end > pos:
                raw = bytes(buffer[pos:end])
                item = parse_frame(raw.decode("utf-8", "replace").strip("\n"))
                if isinstance(item, MalformedFrame):
                    self.malformed += 1
                else:
                    self.frames += 1
                out.append(item)
            pos = end + 1
            # A run of blank lines: skip every extra LF.
            while pos < len(buffer) and buffer[pos] == 10:
                pos += 1
            scan_from = pos
        if pos:
            del buffer[:pos]
        self._scanned = len(buffer)
        self._check_size(0, out)
        return out

    def _take_banner(self) -> int:
        buffer = self._buffer
        if len(buffer) < len(_BANNER_PREFIX) and _BANNER_PREFIX.startswith(bytes(buffer)):
            return 0
        if not buffer.startswith(_BANNER_PREFIX):
            self._expect_banner = False  # attached without a banner (replay, tests)
            return 0
        end = buffer.find(b"\n")
        if end < 0:
            return 0
        self.banner = buffer[:end].decode("utf-8", "replace").strip()
        self._expect_banner = False
        return end + 1

    def _check_size(self, pos: int, out: list[ParsedItem]) -> None:
        pending = len(self._buffer) - pos
        if pending > self.max_frame_bytes:
            out.append(
                MalformedFrame(
                    f"frame longer than {self.max_frame_bytes} bytes without a blank line; "
                    "dropped until the next blank line",
                    _excerpt(bytes(self._buffer[pos : pos + 80])),
                )
            )
            self.malformed += 1
            del self._buffer[:]
            self._scanned = 0
            self._discarding = True
