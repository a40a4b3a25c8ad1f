"""Slack messages (incoming webhooks): the one formatter for what leadflow posts to Slack — the sync's hot-lead
announcement and the quality gate's alert.

It keeps Block Kit's limits (a header of 150 characters, section and context text of 3,000, a field of
2,000, at most 10 fields), so no long value of a caller's makes Slack refuse the message.
"""

from __future__ import annotations

from collections.abc import Sequence

HEADER_CHARS = 150
TEXT_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10


def labelled(label: str, value: str) -> str:
    """``*label*`` over its value, as Slack shows a field or a section."""
    return f"*{label}*\n{value}"


def bulleted(title: str, lines: Sequence[str], limit: int = 20) -> str:
    """A bold title over one bullet per line, the first ``limit`` lines and how many more there were."""
    text = f"*{title}*\n" + "\n".join(f"• {line}" for line in lines[:limit])
    if len(lines) > limit:
        text += f"\n… and {len(lines) - limit} more"
    return text


def message(
    text: str,
    *,
    header: str | None = None,
    fields: Sequence[tuple[str, str]] = (),
    sections: Sequence[tuple[str, str]] = (),
    context: str | None = None,
) -> dict:
    """The webhook body: ``text`` (the notification and the fallback), then Block Kit blocks when any are given —
    a header, one section of labelled ``fields``, one section per labelled ``sections`` entry, a context line."""
    blocks: list[dict] = []
    if header:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header[:HEADER_CHARS]}})
    if fields:
        items = [{"type": "mrkdwn", "text": labelled(label, value)[:FIELD_CHARS]} for label, value in fields]
        blocks.append({"type": "section", "fields": items[:MAX_FIELDS]})
    for label, value in sections:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": labelled(label, value)[:TEXT_CHARS]}})
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context[:TEXT_CHARS]}]})
    return {"text": text, "blocks": blocks} if blocks else {"text": text}
