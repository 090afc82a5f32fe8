"""Transports: TCP, serial, PC/SC and NFC readers. They move bytes, nothing else."""
