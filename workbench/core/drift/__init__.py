"""Data drift: reference profiles, two-sample statistics and checks (pure numpy and scipy)."""
