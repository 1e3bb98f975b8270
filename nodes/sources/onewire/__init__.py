"""The 1-wire source: temperature sensors and ROM-code devices on the Linux w1 bus (sysfs)."""
