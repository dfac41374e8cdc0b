"""Pipeline stages, one per file, in data-flow order.

discover (driver) -> fetch -> probe -> cuts -> clips -> [later stages] -> shards (driver).
Each module says at the top what it reads, what it adds and what it needs.
"""
