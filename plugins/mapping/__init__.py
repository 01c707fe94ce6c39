"""Built-in mapping components (stage `mapping`)."""
