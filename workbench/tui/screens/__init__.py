"""One module per screen; each is a `DataScreen` (see base.py)."""
