"""What a command does end to end: read its inputs, check them against the config,
compute, write. Each function here is the work of one command (the command module
itself only parses its arguments)."""
