"""Codecs: bytes to typed requests and outcomes to bytes, sans-I/O."""
