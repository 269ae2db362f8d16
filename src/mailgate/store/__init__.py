"""The mail store: folders, messages, flags, UIDs/MODSEQ, durable blobs, Recoverable Items."""
