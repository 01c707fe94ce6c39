"""Built-in drivers components (stage `drivers`)."""
