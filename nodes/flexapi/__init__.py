"""The FlexAPI device agent as node types: groups, request handling, durable state.

Pure parts (parameter table, topics, envelope, settings, payload views) have no
I/O and are tested directly; the node modules wire them into the flow graph.
"""

NODE_TYPES: dict[str, str] = {
    "flexapi in": "nodes.flexapi.in_node:FlexApiInNode",
    "flexapi request": "nodes.flexapi.request_node:RequestNode",
    "flexapi out": "nodes.flexapi.out_node:FlexApiOutNode",
    "flexapi group": "nodes.flexapi.group_node:GroupNode",
    "flexapi userdata": "nodes.flexapi.userdata_node:UserdataNode",
    "flexapi custom groups": "nodes.flexapi.custom_groups:CustomGroupsNode",
    "flexapi custom group": "nodes.flexapi.custom_group_node:CustomGroupNode",
    "flexapi io control": "nodes.flexapi.io_control:IoControlNode",
    "flexapi app": "nodes.flexapi.app_node:AppNode",
    "app hook": "nodes.flexapi.app_hook:AppHookNode",
    "flexapi values": "nodes.flexapi.values_node:ValuesNode",
    "flexapi filter": "nodes.flexapi.filter_node:FilterNode",
    "flexapi event": "nodes.flexapi.event_node:EventNode",
    "flexapi di detector": "nodes.flexapi.detector_di:DiDetectorNode",
    "flexapi ignition detector": "nodes.flexapi.detector_ignition:IgnitionDetectorNode",
    "flexapi overspeed detector": "nodes.flexapi.detector_overspeed:OverspeedDetectorNode",
    "flexapi idle detector": "nodes.flexapi.detector_idle:IdleDetectorNode",
    "flexapi motion detector": "nodes.flexapi.detector_motion:MotionDetectorNode",
    "flexapi dtc detector": "nodes.flexapi.detector_dtc:DtcDetectorNode",
    "flexapi report": "nodes.flexapi.report_node:ReportNode",
    "flexapi forward": "nodes.flexapi.forward_node:ForwardNode",
}
