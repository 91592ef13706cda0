"""Pure domain: entities, rules and parsers. No engines, no I/O beyond the environment."""
