"""Thin command-line front end: parse, call a service, render. Heavy imports stay in commands.

The top layer, beside tui (neither imports the other): may import click, services and the
layers below them; nothing imports it. A command that needs no engine loads no Ray or MLflow.
"""
