"""The command line: the GUI when no subcommand is given, scriptable commands otherwise."""
