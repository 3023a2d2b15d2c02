"""The sans-IO AMI parser: any chunking, CRLF or LF, garbage, oversize frames."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callagent.ami.parser import AmiMessage, AmiParser, MalformedFrame, _is_header
from callagent.tracker.records import build_record
from callagent.tracker.tracker import Tracker
from tests.conftest import trace_bytes

CYRILLIC = (
    "Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: 79261112233\r\n"
    "CallerIDName: Иванова Мария Петровна\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
).encode()


def parse_all(chunks: list[bytes]) -> list[object]:
    parser = AmiParser()
    out: list[object] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def headers(items: list[object]) -> list[dict[str, str]]:
    return [i.headers for i in items if isinstance(i, AmiMessage)]


def test_a_trace_split_at_every_byte_boundary_parses_the_same() -> None:
    data = trace_bytes("outbound_notify_busy")
    whole = headers(AmiParser().feed(data))
    assert len(whole) == 31 + 3  # the README: 31 events, 3 action responses
    for cut in range(1, len(data)):
        parser = AmiParser()
        got = headers(parser.feed(data[:cut]) + parser.feed(data[cut:]))
        assert got == whole, f"split at byte {cut}"
    assert headers(parse_all([bytes([b]) for b in data])) == whole
    longer = trace_bytes("inbound_answered_caller_hangs_up")
    assert headers(parse_all([bytes([b]) for b in longer])) == headers(AmiParser().feed(longer))


def test_cyrillic_name_split_inside_a_character() -> None:
    index = CYRILLIC.index("Мария".encode()) + 1  # in the middle of "М" (2 bytes)
    items = parse_all([CYRILLIC[:index], CYRILLIC[index:]])
    (message,) = items
    assert isinstance(message, AmiMessage)
    assert message["CallerIDName"] == "Иванова Мария Петровна"


def test_lf_only_and_crlf_give_the_same_messages() -> None:
    crlf = trace_bytes("hold_unhold")
    lf = crlf.replace(b"\r\n", b"\n")
    assert headers(parse_all([lf])) == headers(parse_all([crlf]))


def test_banner_is_read_and_not_an_event() -> None:
    parser = AmiParser()
    items = parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert headers(items) == [{"Response": "Success", "ActionID": "1"}]


def test_repeated_headers_are_all_kept() -> None:
    data = (
        b"Event: Status\r\nChannel: PJSIP/op1001-1\r\nChanVariable: A=1\r\n"
        b"ChanVariable: B=2\r\nChanVariable: C=\r\n\r\n"
    )
    (message,) = parse_all([data])
    assert isinstance(message, AmiMessage)
    assert message["ChanVariable"] == "A=1"
    assert message.getall("ChanVariable") == ["A=1", "B=2", "C="]
    assert message.getall("Channel") == ["PJSIP/op1001-1"]


def test_unknown_events_parse_like_any_other() -> None:
    (message,) = parse_all([b"Event: SomethingNew\r\nFoo: bar\r\n\r\n"])
    assert isinstance(message, AmiMessage)
    assert message.event == "SomethingNew"


def test_garbage_and_truncated_frames_are_reported_and_skipped() -> None:
    data = (
        b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n"
        b"\x00\xff garbage without structure\r\n\r\n"
        b"Event: Hangup\r\nUnique\r\n\r\n"  # truncated mid-line
        b"Event: Hangup\r\nUniqueid: 1.2\r\n\r\n"
    )
    parser = AmiParser()
    items = parser.feed(data)
    assert [i["Uniqueid"] for i in items if isinstance(i, AmiMessage)] == ["1.1", "1.2"]
    bad = [i for i in items if isinstance(i, MalformedFrame)]
    assert [b.reason for b in bad] == [
        "no Event, Response or Action header",
        "1 line(s) without 'Name: value' in a 'Event: Hangup' frame",
    ]
    assert parser.malformed == 2 and parser.frames == 2


def test_a_garbage_line_before_a_frame_does_not_lose_the_frame() -> None:
    (message,) = parse_all([b"%%%noise%%%\r\nEvent: Hangup\r\nUniqueid: 9.9\r\n\r\n"])
    assert isinstance(message, AmiMessage) and message["Uniqueid"] == "9.9"


def test_a_frame_that_never_ends_is_cut_at_the_limit() -> None:
    parser = AmiParser(max_frame_bytes=4096)
    out = parser.feed(b"Event: Flood\r\n")
    for _ in range(100):
        out += parser.feed(b"X-Filler: " + b"y" * 1000 + b"\r\n")
    assert len(parser._buffer) <= 4096 + 1100  # bounded, never the whole flood
    out += parser.feed(b"\r\nEvent: Hangup\r\nUniqueid: 2.2\r\n\r\n")
    assert [type(i).__name__ for i in out] == ["MalformedFrame", "AmiMessage"]
    assert out[-1]["Uniqueid"] == "2.2"  # type: ignore[index]
    assert "longer than 4096 bytes" in out[0].reason  # type: ignore[union-attr]


_noise = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda s: "Event" not in s and "Response" not in s and "Action" not in s)
# Noise is what is not a header: a 'Name: value' line before Event: belongs to the frame.
_noise = _noise.filter(lambda s: not _is_header(s))


@settings(max_examples=150, deadline=None)
@given(
    noise=st.lists(st.tuples(st.integers(0, 200), _noise, st.booleans()), max_size=8),
    cuts=st.lists(st.integers(1, 60_000), max_size=6),
)
def test_interleaved_garbage_never_loses_the_valid_events(
    noise: list[tuple[int, str, bool]], cuts: list[int]
) -> None:
    data = trace_bytes("inbound_abandoned")
    frames = data.split(b"\r\n\r\n")
    expected = headers(AmiParser().feed(data))
    for index, text, own_frame in sorted(noise, reverse=True):
        at = min(index, len(frames) - 1)
        junk = text.encode() + (b"\r\n\r\n" if own_frame else b"\r\n")
        frames[at] = junk + frames[at] if at else frames[at]
    mangled = b"\r\n\r\n".join(frames)
    chunks, start = [], 0
    for cut in sorted(set(c % len(mangled) for c in cuts)):
        chunks.append(mangled[start:cut])
        start = cut
    chunks.append(mangled[start:])
    parsed = parse_all(chunks)
    assert headers(parsed) == expected
    # ... and the tracker fed the mangled stream gives the records of the clean one.
    clean, dirty = Tracker(), Tracker()
    for tracker, items in ((clean, AmiParser().feed(data)), (dirty, parsed)):
        for item in items:
            if isinstance(item, AmiMessage):
                tracker.feed("pbx1", item, 0.0)
    assert [build_record(c) for c in dirty._finished_records.values()] == [
        build_record(c) for c in clean._finished_records.values()
    ]
    assert len(clean._finished_records) == 1


_DIAL_BEGIN = [
    ("Event", "DialBegin"),
    ("Channel", "PJSIP/trunk-00000001"),
    ("CallerIDNum", "79261112233"),
    ("CallerIDName", "Иванова Мария"),
    ("Uniqueid", "1.1"),
    ("Linkedid", "1.1"),
    ("DestChannel", "PJSIP/op1001-00000002"),
    ("DestUniqueid", "1.2"),
    ("DialString", "op1001"),
]


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(_DIAL_BEGIN), crlf=st.booleans(), colon_space=st.booleans())
def test_headers_in_any_order_are_all_kept(
    order: list[tuple[str, str]], crlf: bool, colon_space: bool
) -> None:
    """cacofonisk's fixtures store headers alphabetically: Event: is not first."""
    eol = "\r\n" if crlf else "\n"
    sep = ": " if colon_space else ":"
    frame = eol.join(f"{k}{sep}{v}" for k, v in order) + eol + eol
    parser = AmiParser()
    (message,) = parser.feed(frame.encode())
    assert isinstance(message, AmiMessage)
    assert message.headers == dict(_DIAL_BEGIN)
    assert message.event == "DialBegin"
    assert parser.frames == 1 and parser.malformed == 0


def test_a_response_not_first_keeps_its_headers_and_repeats() -> None:
    data = b"ActionID: 7\r\nMessage: ok\r\nOutput: a\r\nResponse: Success\r\nOutput: b\r\n\r\n"
    (message,) = parse_all([data])
    assert isinstance(message, AmiMessage)
    assert message.response == "Success" and message.action_id == "7"
    assert message["Message"] == "ok"
    assert message.getall("Output") == ["a", "b"]


def test_noise_before_headers_before_event_is_skipped_but_headers_kept() -> None:
    (message,) = parse_all([b"%%%noise%%%\r\nUniqueid: 9.9\r\nEvent: Hangup\r\n\r\n"])
    assert isinstance(message, AmiMessage)
    assert message.headers == {"Uniqueid": "9.9", "Event": "Hangup"}
