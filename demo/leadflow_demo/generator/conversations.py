"""Conversations (chat, chatbot, webinar Q&A and sales calls) behind the conversations REST API."""

from __future__ import annotations

import json
import random

from leadflow_demo.generator.clock import DAY, HOUR, MINUTE, iso
from leadflow_demo.generator.core import COLUMNS, Core, _between, _invalid_email, _poisson
from leadflow_demo.generator.identity import _Lead, _messy

NEED_TOPICS = ("pricing", "integration", "security", "onboarding", "budget", "timeline", "decision_maker", "use_case")


class ConversationsSource(Core):
    """Conversations: chats before a deal and, once a deal exists, sales calls (planned in ``crm``)."""

    def _plan_conversations(self, r: random.Random, L: _Lead) -> None:
        persona, p, T = L.persona, L.p, self.T
        rate = {"champion": 1.2 + p, "evaluator": 0.8 + p, "prospect": 0.2 + p, "customer": 0.8,
                "tire_kicker": 0.35, "student": 0.3, "competitor": 0.3}.get(persona, 0.1)  # fmt: skip
        for _ in range(_poisson(r, rate)):
            channel = r.choices(("live_chat", "chatbot", "webinar_qna"), (40, 45, 15))[0]
            base = {"live_chat": 1 + 8 * p, "chatbot": 0.5 + 4 * p, "webinar_qna": 0.3 + 2 * p}[channel]
            visitor = 1 + _poisson(r, base)
            agent = max(0 if channel == "webinar_qna" else 1, visitor + r.randint(-1, 2))
            per_msg = {"live_chat": 45, "chatbot": 15, "webinar_qna": 60}[channel]
            duration = visitor * per_msg + _between(r, 20, 240)
            t = _between(r, L.created, max(L.created, L.active_end - duration))
            t = min(t, T - duration - MINUTE)
            q = 0.04 + (0.45 if persona in ("champion", "evaluator") else 0.3) * p
            topics = [topic for topic in NEED_TOPICS if r.random() < q]
            if persona == "customer" or r.random() < 0.12:
                topics.append("support")
            if persona == "student" and r.random() < 0.6 or persona == "tire_kicker" and r.random() < 0.15:
                topics.append("careers")
            need = any(topic in NEED_TOPICS for topic in topics)
            meaningful = need and (visitor >= 4 or duration >= 5 * MINUTE)
            if meaningful and r.random() < 0.25 + 0.5 * p:
                outcome = r.choice(("demo_booked", "meeting_booked"))
            elif "careers" in topics:
                outcome = "unqualified"
            else:
                outcome = r.choice(("resolved", "resolved", "no_response", "handed_off"))
            if meaningful and persona != "customer":  # a customer's support chat is no buying signal
                L.meaningful_conv_t = min(t, L.meaningful_conv_t or t)
            L.convs.append(self._conversation(r, L, channel, t, duration, visitor, agent, topics, outcome))

    def _conversation(self, r, L, channel, t, duration, visitor, agent, topics, outcome) -> dict:
        ended = t + duration
        return {
            "conversation_id": self._id("C", 7),
            "email": _messy(L.email, r),
            "channel": channel,
            "started_at": t,
            "ended_at": ended,
            "visitor_message_count": visitor,
            "agent_message_count": agent,
            "topics": topics,
            "outcome": outcome,
            "updated_at": min(self.T, ended + _between(r, 0, 2 * HOUR)),
        }

    def _emit_conversations(self, r: random.Random, L: _Lead) -> None:
        cols = COLUMNS["conversations.conversation"]
        for conv in L.convs:
            props = {c: conv[c] for c in cols}
            for c in ("started_at", "ended_at", "updated_at"):
                props[c] = iso(conv[c])
            for c in ("visitor_message_count", "agent_message_count"):
                props[c] = str(conv[c])
            props["topics"] = json.dumps(conv["topics"])
            self._api_row(self.conversations, props["conversation_id"], props, conv["started_at"], conv["updated_at"])
            self.counts["conversations.conversation"] += 1
            kind = self.faults.due("conversations.conversation")
            if not kind:
                continue
            bad = dict(props)
            bad["conversation_id"] = self._id("C", 7)
            if kind == "invalid_email":
                bad["email"] = _invalid_email(L.email, r)
            elif kind == "non_numeric":
                bad["visitor_message_count"] = r.choice(("12 messages", "many", "N/A"))
            elif kind == "unparseable_json":
                bad["topics"] = "[pricing, integration"
            else:
                bad["updated_at"] = iso(self.T + _between(r, 2 * DAY, 400 * DAY))
            self._api_row(self.conversations, bad["conversation_id"], bad, conv["started_at"], None, bad["updated_at"])
            self.counts["conversations.conversation"] += 1
            self.faults.record(
                "conversations.conversation", "conversations_api/conversations.jsonl", bad["conversation_id"], kind
            )
