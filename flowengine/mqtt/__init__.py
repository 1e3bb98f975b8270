"""MQTT for flowengine: the device's own connection (:class:`MqttLink`) and what it is made of."""

from flowengine.mqtt.backoff import Backoff
from flowengine.mqtt.link import LinkStats, MqttLink, StateListener, Will
from flowengine.mqtt.offline import OfflineStats
from flowengine.mqtt.outbox import DEFAULT_QUEUE_LIMIT, MemoryOutbox, Outbox, Outgoing
from flowengine.mqtt.subscriptions import MessageCallback, Received, Subscription
from flowengine.mqtt.topics import check_filter, check_topic, filter_problem, topic_problem

__all__ = [
    "DEFAULT_QUEUE_LIMIT",
    "Backoff",
    "LinkStats",
    "MemoryOutbox",
    "MessageCallback",
    "MqttLink",
    "OfflineStats",
    "Outbox",
    "Outgoing",
    "Received",
    "StateListener",
    "Subscription",
    "Will",
    "check_filter",
    "check_topic",
    "filter_problem",
    "topic_problem",
]
