"""Node types shipped with flowengine, by Node-RED type name.

``core`` keeps Node-RED's names and properties; ``flexapi`` builds the device
agent; ``sources`` are the hardware drivers with their simulated backends.
"""

BUILTIN_TYPES: dict[str, str] = {
    # core (Node-RED compatible)
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
    "function": "nodes.core.function_node:FunctionNode",
    # flexapi (the device agent)
    "flexapi in": "nodes.flexapi.in_node:FlexApiInNode",
    "flexapi request": "nodes.flexapi.request_node:RequestNode",
    "flexapi out": "nodes.flexapi.out_node:FlexApiOutNode",
    "flexapi store": "nodes.flexapi.store_node:StoreNode",
    "flexapi group": "nodes.flexapi.group_node:GroupNode",
    "flexapi userdata": "nodes.flexapi.userdata_node:UserdataNode",
    "flexapi custom groups": "nodes.flexapi.custom_groups:CustomGroupsNode",
    "flexapi custom group": "nodes.flexapi.custom_group_node:CustomGroupNode",
    "flexapi io control": "nodes.flexapi.io_control:IoControlNode",
    "flexapi app": "nodes.flexapi.app_node:AppNode",
    "app hook": "nodes.flexapi.app_hook:AppHookNode",
    "flexapi values": "nodes.flexapi.values_node:ValuesNode",
    # sources (hardware drivers with simulated backends)
    "gnss source": "nodes.sources.gnss.node:GnssSourceNode",
    "obd source": "nodes.sources.obd.node:ObdSourceNode",
    "motion source": "nodes.sources.motion.node:MotionSourceNode",
    "io source": "nodes.sources.io.node:IoSource",
    "cellular source": "nodes.sources.cellular.node:CellularSource",
    "sysinfo source": "nodes.sources.sysinfo.node:SysinfoSource",
    "1-wire source": "nodes.sources.onewire.node:OneWireSource",
}
