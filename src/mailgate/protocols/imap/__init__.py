"""The IMAP door's protocol layer, sans-IO: bytes in, whole commands out (h11 style).

`framer.CommandFramer` frames received bytes into commands with their literals.
"""
