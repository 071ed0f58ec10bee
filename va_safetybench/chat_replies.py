"""A chat.completion reply checked before its text is used, by the model backend and the judges alike.

The openai client builds its reply objects without validating them, so a 200 reply that is not UTF-8, whose
`content` is a number, or whose `choices` hold an empty object surfaces as a traceback somewhere downstream,
taking the whole batch with it. Read from the raw body instead, each such reply is a `MalformedReply` naming
what is wrong, which the caller turns into an error for that one item.
"""

from __future__ import annotations

import json
from typing import Any


class MalformedReply(Exception):
    """A reply that is not a usable chat.completion; the message says why, never quoting the body."""


def chat_text(body: bytes) -> str | None:
    """The assistant's text in a chat.completion body: `choices[0].message.content`, or its `refusal` when the
    content is null (None when both are). MalformedReply for anything else."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedReply(f"the reply is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MalformedReply(f"the reply is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise MalformedReply(f"the reply is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("the reply has no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise MalformedReply("choices[0] has no message object")
    content = message.get("content")
    if content is None:
        content = message.get("refusal")
        if content is None:
            return None
        field = "refusal"
    else:
        field = "content"
    if not isinstance(content, str):
        raise MalformedReply(f"choices[0].message.{field} is a {type(content).__name__}, not a string")
    return content
