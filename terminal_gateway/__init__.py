"""terminal-gateway: decides club-credit card transactions for a clinic chain's loyalty club.

Bytes arrive in ``drivers/``, become typed requests in ``protocols/``, are decided by the
pure rule core in ``rules/``, are made durable in ``store/`` and leave through the codec.
"""

__version__ = "0.1.0"
