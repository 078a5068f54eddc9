"""Use cases shared by the GUI and the command line: configuration, sync, orders, look-ups."""
