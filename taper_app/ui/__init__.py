"""The desktop window (Qt only lives here); every Qt name comes in through :mod:`.qt`."""
