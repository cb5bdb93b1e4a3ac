"""The scheduler: timed rules acting by themselves, once per item, in a process of its own."""
