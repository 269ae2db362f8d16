"""Authentication: password hashing, SASL mechanisms and the one gate every door calls."""
