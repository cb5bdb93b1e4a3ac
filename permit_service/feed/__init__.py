"""The regulators' event feed: events in commit order, regulator platform clients, the stable payload."""
