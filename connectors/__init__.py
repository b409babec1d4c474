"""Platform connectors: the only code that knows a platform."""
