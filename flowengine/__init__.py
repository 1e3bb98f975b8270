"""flowengine: a Node-RED-style flow runtime; its default flow is a FlexAPI device agent."""

__version__ = "0.1.0"
