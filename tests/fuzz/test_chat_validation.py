"""``RoomConsumer``'s ``chat.message`` validation over hostile fields, against a model of it.

What is accepted is exactly what the model accepts (no false refusals either), and nothing
accepted can fail in the database: no NUL, no lone surrogate, within the limits.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.chat import ChatConsumer
from tests.fuzz.strategies import chat_contents, chat_model, examples, generated
from tests.wsapp.helpers import FakeServer
from wsapp.exceptions import InvalidMessage


@pytest.fixture(scope="module")
def consumer() -> ChatConsumer:
    return ChatConsumer(FakeServer().socket())


MESSAGES = {
    '"body" must be a non-empty string.',
    '"client_id" must be a string of at most 64 characters.',
    '"body" must not contain NUL characters.',
    '"client_id" must not contain NUL characters.',
    '"body" holds a lone surrogate, which is not Unicode text.',
    '"client_id" holds a lone surrogate, which is not Unicode text.',
}


@examples(1_500)
@given(st.lists(chat_contents, min_size=8, max_size=8))
def test_chat_message_validation_matches_its_model(
    consumer: ChatConsumer, contents: list[dict[str, Any]]
) -> None:
    generated("validation: chat.message", len(contents))
    for content in contents:
        try:
            cleaned = consumer.clean_message(content)
            consumer.check_storable(cleaned)
        except InvalidMessage as exc:
            assert chat_model(content, consumer.max_body_length) is None
            if exc.error_code == "too_large":
                assert exc.message == (
                    f'"body" is {len(content["body"])} characters; the limit is 2000.'
                )
            else:
                assert (exc.error_code, exc.message in MESSAGES) == ("invalid_message", True)
            continue
        assert cleaned == chat_model(content, consumer.max_body_length)
        (cleaned["body"] + cleaned["client_id"]).encode("utf-8")
