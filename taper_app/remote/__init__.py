"""The client side of the application server: the same use cases, called over HTTP.

Importing this package imports nothing else: a window on a file asks
:func:`is_server_address` without loading the HTTP client.
"""


def is_server_address(location: str) -> bool:
    """Whether ``--db`` names the application server rather than a file or a database."""
    return location.startswith(("https://", "http://"))
