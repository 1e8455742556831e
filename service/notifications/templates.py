"""The subscribe-message templates as configured (``NOTIFY_TEMPLATES``, docs/contract.md §8).

Every mini-program picks its own templates from WeChat's library, so each kind
of message is configured, not coded: its template id, the page it opens and
which of the message's named values goes into which keyword of the template.
``config.notify_templates`` checks the setting at start; this module applies it.
"""
from __future__ import annotations

import logging

from flask import current_app

from service.notifications.formatting import format_value

log = logging.getLogger(__name__)


class _Blanks(dict):
    """A message's values for its page: a value the caller did not give is blank
    (and logged), so that a page never fails the change that owes the message."""

    def __missing__(self, name: str) -> str:
        log.warning("notification page: no value %r given", name)
        return ""


def _template(kind: str) -> dict | None:
    return current_app.config["NOTIFY_TEMPLATES"].get(kind)


def template_ids() -> dict[str, str]:
    """``{kind: template_id}``: what the mini-program asks the worker to accept
    (``wx.requestSubscribeMessage``) before the action that will need it."""
    return {kind: entry["template_id"] for kind, entry in current_app.config["NOTIFY_TEMPLATES"].items()}


def page_for(kind: str, values: dict) -> str | None:
    """The page a message of ``kind`` opens, its ``{name}`` parts filled from ``values``;
    None for a kind without a template (the sender then fails the message, logged)."""
    template = _template(kind)
    return None if template is None else template["page"].format_map(_Blanks(values))


def render(kind: str, values: dict) -> tuple[str, dict] | None:
    """``(template_id, {"thing1": {"value": "…"}, …})`` for WeChat, each named value put in
    its keyword and cut or formatted to the keyword type's rules; None without a template.

    A message queued by an earlier release holds its values under the keywords
    themselves; a value missing by name is looked up by its keyword."""
    template = _template(kind)
    if template is None:
        return None
    data = {keyword: {"value": format_value(keyword, values.get(name, values.get(keyword)))}
            for keyword, name in template["data"].items()}
    return template["template_id"], data
