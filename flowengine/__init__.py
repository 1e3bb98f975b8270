"""flowengine: a Node-RED-style flow runtime; node packages plug into it (see ``flowengine.plugins``)."""

__version__ = "0.1.0"
