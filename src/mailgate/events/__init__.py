"""Events: every policy change as a row, followed by each process to end closed sessions."""
