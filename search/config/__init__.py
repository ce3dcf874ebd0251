"""The study spec and what it is made of: metrics, constraints, the ss.* attribute names."""
