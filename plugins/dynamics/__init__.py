"""Built-in dynamics components (stage `dynamics`)."""
