"""Club-8583 codec and framing tests: bytes in, bytes out, no reactor."""
