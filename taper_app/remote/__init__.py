"""The client side of the application server: the same use cases, called over HTTP."""
