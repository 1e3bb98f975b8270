"""Hardware sources: one node type per kind of device, each with a simulated backend."""

NODE_TYPES: dict[str, str] = {
    "gnss source": "nodes.sources.gnss.node:GnssSourceNode",
    "obd source": "nodes.sources.obd.node:ObdSourceNode",
    "motion source": "nodes.sources.motion.node:MotionSourceNode",
    "io source": "nodes.sources.io.node:IoSource",
    "cellular source": "nodes.sources.cellular.node:CellularSource",
    "sysinfo source": "nodes.sources.sysinfo.node:SysinfoSource",
    "1-wire source": "nodes.sources.onewire.node:OneWireSource",
    "sim control": "nodes.sources.sim.control_node:SimControlNode",
}
