"""OBD source: OBD-II (SAE J1979) over CAN (codec in :mod:`.pids`, bus client in :mod:`.client`)."""
