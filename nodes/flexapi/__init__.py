"""The FlexAPI device agent as node types: groups, request handling, durable state.

Pure parts (parameter table, topics, envelope, settings, payload views) have no
I/O and are tested directly; the node modules wire them into the flow graph.
"""
