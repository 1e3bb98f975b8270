"""GNSS source: NMEA 0183 over a serial port (codec in :mod:`.nmea`, node in :mod:`.node`)."""
