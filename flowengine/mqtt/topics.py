"""MQTT topic name and topic filter rules (MQTT 3.1.1 section 4.7), checked before anything is sent."""

from __future__ import annotations

from flowengine.errors import LinkError

MAX_TOPIC_BYTES = 65535


def topic_problem(topic: object) -> str | None:
    """Why ``topic`` cannot be published to, or None when it can."""
    if not isinstance(topic, str) or not topic:
        return f"a topic must be a non-empty string (got {topic!r})"
    if "+" in topic or "#" in topic:
        return f"a publish topic must not contain '+' or '#' (got {topic!r})"
    return _common_problem(topic)


def filter_problem(topic_filter: object) -> str | None:
    """Why ``topic_filter`` cannot be subscribed to, or None when it can."""
    if not isinstance(topic_filter, str) or not topic_filter:
        return f"a topic filter must be a non-empty string (got {topic_filter!r})"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return f"'#' must be a whole level at the end of the filter (got {topic_filter!r})"
        if "+" in level and level != "+":
            return f"'+' must be a whole level of the filter (got {topic_filter!r})"
    return _common_problem(topic_filter)


def check_topic(topic: object) -> None:
    """Raise :class:`LinkError` unless ``topic`` is a valid publish topic."""
    problem = topic_problem(topic)
    if problem:
        raise LinkError(problem)


def check_filter(topic_filter: object) -> None:
    """Raise :class:`LinkError` unless ``topic_filter`` is a valid subscription filter."""
    problem = filter_problem(topic_filter)
    if problem:
        raise LinkError(problem)


def _common_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a topic must not contain NUL characters"
    if len(text.encode("utf-8")) > MAX_TOPIC_BYTES:
        return f"a topic must be at most {MAX_TOPIC_BYTES} bytes of UTF-8"
    return None
