"""`python -m mailgate` runs the operator CLI."""

from mailgate.cli.main import main

main()
