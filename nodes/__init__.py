"""Node types shipped with flowengine, one package each, registered like any other package's.

``core`` keeps Node-RED's names and properties; ``flexapi`` is the FlexAPI device
agent; ``sources`` are the hardware drivers with their simulated backends. Each
package lists its types in ``NODE_TYPES``, registered in the ``flowengine.nodes``
entry-point group (``pyproject.toml``).
"""
