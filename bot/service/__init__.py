"""Human service: business hours, service levels, routing and the escalation queue."""
