"""The operator CLI (SPEC §10): parse arguments, call the directory or store, print."""
