"""The application server: the services run here, on PostgreSQL; laptops call use cases."""
