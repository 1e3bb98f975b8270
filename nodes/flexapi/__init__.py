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
}
