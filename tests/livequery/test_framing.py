"""The websocket framing LiveQuery writes and reads itself (livequery/framing.py)."""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.livequery.live_helpers import client_frame
from parsnip.livequery.framing import (
    BINARY, CLOSE, PING, TEXT, FrameReader, ProtocolError, accept_key, frame, handshake_response,
)


def test_accept_key_is_the_rfc_6455_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in handshake_response("dGhlIHNhbXBsZSBub25jZQ==")


@pytest.mark.parametrize("n, header_len", [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_server_frames_use_the_shortest_length_form(n, header_len):
    data = frame(b"x" * n)
    assert len(data) == header_len + n
    assert data[0] == 0x80 | TEXT and not data[1] & 0x80  # final, text, unmasked


@settings(max_examples=200)
@given(messages=st.lists(st.binary(max_size=70_000), min_size=1, max_size=4), pieces=st.integers(1, 9),
       split=st.integers(1, 5000))
def test_messages_survive_masking_fragmentation_and_any_split_of_the_bytes(messages, pieces, split):
    wire = b""
    for m in messages:
        parts = [m[i * len(m) // pieces:(i + 1) * len(m) // pieces] for i in range(pieces)]
        for i, part in enumerate(parts):
            wire += client_frame(part, TEXT if i == 0 else 0, fin=i == len(parts) - 1)
    wire += client_frame(b"p", PING)
    reader = FrameReader(max_message=1 << 20)
    got = []
    for i in range(0, len(wire), split):
        got += reader.feed(wire[i:i + split])
    assert got == [(TEXT, m) for m in messages] + [(PING, b"p")]


def test_a_ping_between_fragments_is_delivered_at_once():
    reader = FrameReader()
    got = reader.feed(client_frame(b"hel", TEXT, fin=False) + client_frame(b"!", PING) + client_frame(b"lo", 0))
    assert got == [(PING, b"!"), (TEXT, b"hello")]


@pytest.mark.parametrize("wire, code", [
    (bytes((0x81, 0x02)) + b"hi", 1002),                                  # unmasked client frame
    (client_frame(b"x", 0), 1002),                                           # continuation of nothing
    (client_frame(b"a", TEXT, fin=False) + client_frame(b"b", BINARY), 1002),  # new message inside one
    (client_frame(b"x" * 200, PING), 1002),                                  # control frame over 125 bytes
    (client_frame(b"x", CLOSE, fin=False), 1002),                            # fragmented control frame
    (bytes((0xC1,)) + client_frame(b"x")[1:], 1002),                          # reserved bit (compression) set
    (client_frame(b"x" * 2000), 1009),                                       # over the size limit
])
def test_protocol_violations_close_with_the_right_code(wire, code):
    with pytest.raises(ProtocolError) as e:
        FrameReader(max_message=1000).feed(wire)
    assert e.value.code == code


def test_fragments_adding_up_past_the_limit_are_refused():
    reader = FrameReader(max_message=1000)
    reader.feed(client_frame(b"x" * 600, TEXT, fin=False))
    with pytest.raises(ProtocolError) as e:
        reader.feed(client_frame(b"x" * 600, 0))
    assert e.value.code == 1009
