"""Built-in sensitivities components (stage `sensitivities`)."""
