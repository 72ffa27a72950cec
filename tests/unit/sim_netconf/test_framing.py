"""NETCONF framing: end-of-message and chunked decoding, including arbitrary splits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.sim.netconf.framing import FrameDecoder, FramingError, frame


def drain(decoder: FrameDecoder) -> list[bytes]:
    out = []
    while (message := decoder.next_message()) is not None:
        out.append(message)
    return out


def test_eom_messages_split_across_feeds() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"<a/>]]>")
    assert drain(decoder) == []
    decoder.feed(b"]]><b/>]]>]]><c")
    assert drain(decoder) == [b"<a/>", b"<b/>"]
    assert decoder.pending() == b"<c"


def test_chunked_message_of_several_chunks() -> None:
    decoder = FrameDecoder()
    decoder.use_chunked()
    decoder.feed(b"\n#4\n<rpc\n#17\n message-id='1'/>\n##\n")
    assert drain(decoder) == [b"<rpc message-id='1'/>"]


def test_chunked_waits_for_partial_header_and_body() -> None:
    decoder = FrameDecoder()
    decoder.use_chunked()
    for piece in (b"\n", b"#1", b"0\n01234", b"56789", b"\n#", b"#\n"):
        assert drain(decoder) == []
        decoder.feed(piece)
    assert drain(decoder) == [b"0123456789"]


@pytest.mark.parametrize(
    "wire",
    [b"\n#0\nx\n##\n", b"\n#abc\n", b"garbage here!!", b"\n##\n", b"\n#01\nx\n##\n"],
)
def test_chunked_rejects_bad_framing(wire: bytes) -> None:
    decoder = FrameDecoder()
    decoder.use_chunked()
    decoder.feed(wire)
    with pytest.raises(FramingError):
        drain(decoder)


def test_frame_refuses_empty_chunked_message() -> None:
    with pytest.raises(ValueError, match="empty"):
        frame(b"", chunked=True)


@given(
    messages=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_chunked_round_trip_any_split(messages: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(frame(m, chunked=True) for m in messages)
    decoder = FrameDecoder()
    decoder.use_chunked()
    out: list[bytes] = []
    start = 0
    for cut in [*sorted({c % (len(wire) + 1) for c in cuts}), len(wire)]:
        decoder.feed(wire[start:cut])
        out.extend(drain(decoder))
        start = cut
    assert out == messages


@given(
    messages=st.lists(
        st.binary(min_size=0, max_size=100).filter(lambda m: b"]]>" not in m and b">]" not in m),
        min_size=1,
        max_size=5,
    ),
    cut=st.integers(min_value=0),
)
def test_eom_round_trip_any_split(messages: list[bytes], cut: int) -> None:
    wire = b"".join(frame(m, chunked=False) for m in messages)
    cut %= len(wire) + 1
    decoder = FrameDecoder()
    decoder.feed(wire[:cut])
    out = drain(decoder)
    decoder.feed(wire[cut:])
    out.extend(drain(decoder))
    assert out == messages
