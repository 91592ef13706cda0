"""One module per verb: the logic behind each CLI and TUI command, free of any front end.

Below cli and tui, above everything else: may import the engine adapters (compute, serving,
packaging, interop), owner, artifacts, catalogue and core; never textual or click.
"""
