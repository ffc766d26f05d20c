"""The bad-input corpus of issue #11: its case table (cases.py) and the good rows it copies."""
