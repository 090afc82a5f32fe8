"""The running gateway: the dispatcher between codecs and the rule core, the group-commit
writer between the rule core and the store, and the service tree that starts and stops them."""
