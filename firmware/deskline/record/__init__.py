"""The call record: the SQLite journal and the recorder that writes each call into it."""
