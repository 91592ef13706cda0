"""Pure domain: entities, rules and parsers. No engines, no I/O beyond the environment.

The bottom layer: every other package may import it, it imports nothing else of workbench
and none of textual, click, ray, docker, pynvml, mlflow, duckdb or pyarrow.
"""
