"""Thin command-line front end: parse, call a service, render. Heavy imports stay in commands."""
