"""FlexAPI topic names: the root, the request topics the agent subscribes to, and their limits."""

from __future__ import annotations

#: Minimum retry interval per request topic in seconds (reference 2.3; decision 2).
RETRY_INTERVAL = 1.0
CONTROL_RETRY_INTERVAL = 5.0


def topic_root(client_id: str, prefix: str = "") -> str:
    """``v1/{client_id}``, or ``{prefix}/v1/{client_id}`` with a custom topic prefix (decision 10)."""
    prefix = prefix.strip("/")
    return f"{prefix}/v1/{client_id}" if prefix else f"v1/{client_id}"


def request_filters(root: str) -> list[str]:
    """The agent's own request topics, and nothing else.

    ``+/set`` and ``+/refresh`` are needed so a request for a group that does not
    exist still gets its ``not_found`` answer; response topics (``.../resp``) never match.
    """
    return [
        f"{root}/+/set",
        f"{root}/+/refresh",
        f"{root}/group/get",
        f"{root}/io/control",
        f"{root}/io/toggle",
        f"{root}/app/control",
    ]


def parse_request_topic(root: str, topic: str) -> tuple[str, str] | None:
    """``{root}/{group}/{op}`` -> (group, op); None for any other topic. The group may be empty
    (``{root}//set``): such a request still gets its answer (no such group)."""
    if not topic.startswith(root + "/"):
        return None
    parts = topic[len(root) + 1 :].split("/")
    if len(parts) != 2 or parts[1] not in ("set", "refresh", "get", "control", "toggle"):
        return None
    return parts[0], parts[1]


#: The requests that drive the digital outputs: they share one minimum retry interval.
OUTPUT_REQUESTS = (("io", "control"), ("io", "toggle"))


def retry_interval(group: str, op: str) -> float:
    return CONTROL_RETRY_INTERVAL if (group, op) in OUTPUT_REQUESTS else RETRY_INTERVAL


def retry_key(topic: str, group: str, op: str) -> str:
    """What a minimum retry interval counts per: the topic, except that ``io/control`` and
    ``io/toggle`` share one (both drive the same outputs, and a pulse is a control)."""
    return topic.removesuffix("/toggle") + "/control" if (group, op) == ("io", "toggle") else topic


def info_topic(root: str, group: str) -> str:
    return f"{root}/{group}/info"


def response_topic(request_topic: str) -> str:
    return f"{request_topic}/resp"
