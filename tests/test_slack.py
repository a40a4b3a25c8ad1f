"""leadflow.slack: the one formatter of Slack messages keeps Block Kit's shapes and limits for every caller."""

from __future__ import annotations

from leadflow import slack


def test_an_alert_is_a_bold_title_over_bullets_and_says_how_many_more() -> None:
    assert slack.message(slack.bulleted("gate failed", ["a", "b"])) == {"text": "*gate failed*\n• a\n• b"}
    text = slack.bulleted("gate failed", [f"check {i}" for i in range(23)])
    assert text.count("• ") == 20 and text.endswith("• check 19\n… and 3 more")


def test_blocks_come_in_order_and_long_values_are_cut_to_block_kit_limits() -> None:
    long = "x" * 5000
    body = slack.message(
        "fallback",
        header=long,
        fields=[("Who", long), ("SLA", "in 5 min")] + [(f"f{i}", "v") for i in range(12)],
        sections=[("Why", long)],
        context=long,
    )
    assert body["text"] == "fallback"
    header, fields, why, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "x" * slack.HEADER_CHARS}}
    assert len(fields["fields"]) == slack.MAX_FIELDS
    assert fields["fields"][0]["text"] == ("*Who*\n" + long)[: slack.FIELD_CHARS]
    assert fields["fields"][1] == {"type": "mrkdwn", "text": "*SLA*\nin 5 min"}
    assert why == {"type": "section", "text": {"type": "mrkdwn", "text": ("*Why*\n" + long)[: slack.TEXT_CHARS]}}
    assert context["type"] == "context" and len(context["elements"][0]["text"]) == slack.TEXT_CHARS
