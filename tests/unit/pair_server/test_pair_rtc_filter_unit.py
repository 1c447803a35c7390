"""Which RTC frames a read-only connection may send."""

from __future__ import annotations

import json

from pycrdt import Doc, Encoder, Text, create_awareness_message, create_sync_message, \
    create_update_message
from pycrdt._sync import create_sync_step2_message

from peerplatform_ext.rtc_filter import awareness_client_ids, read_only_frame_allowed


def awareness(*ids):
    enc = Encoder()
    enc.write_var_uint(len(ids))
    for i in ids:
        enc.write_var_uint(i)
        enc.write_var_uint(1)
        enc.write_var_string(json.dumps({"user": {"name": str(i)}}))
    return create_awareness_message(enc.to_bytes())


def raw(text):
    enc = Encoder()
    enc.write_var_uint(2)
    enc.write_var_string(text)
    return enc.to_bytes()


def test_asking_for_the_document_and_presence_are_allowed():
    doc = Doc()
    assert read_only_frame_allowed(create_sync_message(doc))  # SYNC_STEP1
    assert read_only_frame_allowed(awareness(7))


def test_every_change_or_save_is_dropped():
    doc = Doc()
    doc["t"] = text = Text()
    text += "x"
    update = doc.get_update()
    assert not read_only_frame_allowed(create_update_message(update))
    assert not read_only_frame_allowed(create_sync_step2_message(update))
    assert not read_only_frame_allowed(raw("save"))
    assert not read_only_frame_allowed(b"")
    assert not read_only_frame_allowed(b"\x00")
    assert not read_only_frame_allowed(bytes([125, 1, 2]))  # CHAT and unknown types


def test_awareness_client_ids():
    assert awareness_client_ids(awareness(7)) == [7]
    assert awareness_client_ids(awareness(7, 300000)) == [7, 300000]
    assert awareness_client_ids(b"\x01\x05\x01") is None
