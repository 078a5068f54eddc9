"""One function per subcommand; each returns the exit status. Filled in by the issues that wire them."""
