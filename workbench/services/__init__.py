"""One module per verb: the logic behind each CLI and TUI command, free of any front end."""
