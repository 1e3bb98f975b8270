"""Node-RED's core node types (same names, properties and messages), plus ``expression``."""

NODE_TYPES: dict[str, str] = {
    "inject": "nodes.core.inject:InjectNode",
    "debug": "nodes.core.debug:DebugNode",
    "change": "nodes.core.change:ChangeNode",
    "switch": "nodes.core.switch:SwitchNode",
    "delay": "nodes.core.delay:DelayNode",
    "trigger": "nodes.core.trigger:TriggerNode",
    "json": "nodes.core.json_node:JsonNode",
    "catch": "nodes.core.catch:CatchNode",
    "status": "nodes.core.status:StatusNode",
    "link in": "nodes.core.link:LinkInNode",
    "link out": "nodes.core.link:LinkOutNode",
    "link call": "nodes.core.link:LinkCallNode",
    "mqtt-broker": "nodes.core.mqtt_broker:MqttBrokerNode",
    "mqtt in": "nodes.core.mqtt_in:MqttInNode",
    "mqtt out": "nodes.core.mqtt_out:MqttOutNode",
    "expression": "nodes.core.expression:ExpressionNode",
}
