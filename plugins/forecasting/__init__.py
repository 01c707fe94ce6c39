"""Built-in forecasting components (stage `forecasting`)."""
