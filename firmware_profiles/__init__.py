"""Firmware profiles: one TOML file per terminal family; a new family is a new file."""
