"""Rasa's NLG client: asks the web service for each bot response, sending only what it needs.

Runs inside the Rasa server (endpoints.yml ``nlg: type: bot.rasa_nlg.CompactCallbackNLG``),
so it imports only Rasa, aiohttp and the standard library.

Rasa's stock callback NLG posts the conversation's whole tracker with every response:
the body grows with every message (megabytes after a long chat) and the web service
parsed it on its event loop. The web service reads only the response name, its
arguments, the conversation's slots and the sender: that is all this client sends, so
a request stays a few hundred bytes however long the conversation. The shared secret
goes in a header (``X-NLG-Token``), never in the URL, so it is not in any access log.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

#: The header that carries the NLG token (bot/web/app.py checks it).
TOKEN_HEADER = "X-NLG-Token"
#: Longest slot text sent: response templates use short values (an order number, a
#: name); a buyer's pasted text in a slot must not make the request grow again.
MAX_SLOT_TEXT = 500


def compact_request(
    utter_action: str, tracker: DialogueStateTracker, output_channel: str, **kwargs: Any
) -> dict[str, Any]:
    """The body of one NLG request: response, arguments, scalar slots, sender and channel."""
    response_id = kwargs.pop("response_id", None)
    slots: dict[str, Any] = {}
    for name, value in tracker.current_slot_values().items():
        if isinstance(value, str):
            slots[name] = value[:MAX_SLOT_TEXT]
        elif isinstance(value, (bool, int, float)):
            slots[name] = value
    return {
        "response": utter_action,
        "id": response_id,
        "arguments": kwargs,
        "slots": slots,
        "sender_id": tracker.sender_id,
        "channel": {"name": output_channel},
    }


class CompactCallbackNLG(CallbackNaturalLanguageGenerator):  # type: ignore[misc]  # Rasa is Any here
    """The callback NLG with a small, constant-size body and the token in a header.

    The token is endpoints.yml's ``token`` field. Rasa's own ``EndpointConfig`` would
    put it in the query string, so it is taken out of the config here and sent as a
    header instead.
    """

    def __init__(self, endpoint_config: EndpointConfig, domain: Domain | None = None) -> None:
        token = endpoint_config.token or ""
        config = endpoint_config.copy()
        config.token = None
        config.headers = {**config.headers, TOKEN_HEADER: token} if token else dict(config.headers)
        super().__init__(config)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Ask the web service for ``utter_action`` in the conversation's language."""
        domain_responses = kwargs.pop("domain_responses", None)
        kwargs["response_id"] = self.fetch_response_id(
            utter_action, tracker, output_channel, domain_responses
        )
        body = compact_request(utter_action, tracker, output_channel, **kwargs)
        response = await self.nlg_endpoint.request(method="post", json=body, timeout=DEFAULT_REQUEST_TIMEOUT)
        if isinstance(response, dict) and self.validate_response(response):
            return response
        raise RasaException(f"NLG endpoint returned an invalid response for {utter_action}.")
