"""The POP3 door: a sans-IO protocol core (`core`) and its asyncio listener (`listener`).

`backend` is the one interface the door needs from the rest of mailgate.
"""
