"""Customers' orders: normalising numbers, verifying who asks, formatting, importing."""
