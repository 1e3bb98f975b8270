"""The cellular source: a modem over AT commands plus its network interface from the OS."""
