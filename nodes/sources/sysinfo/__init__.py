"""The sysinfo source: identity of the device (names, versions, MAC addresses, time zone)."""
