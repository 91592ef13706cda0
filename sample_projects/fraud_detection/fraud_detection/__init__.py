"""Card-fraud sample project: generated transactions, a random forest, drift knobs."""
