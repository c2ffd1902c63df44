"""Customers' orders, one concern a module.

statuses (every status, its group, its words from data/order_labels.yml),
tracking (who may see which order: the one lookup, under the lockout), card (the
status card, pure), proof and lockout (what tracking checks), numbers, queries,
formatting (dates and amounts per language), importer and demo (getting orders
in), tokens (signed customer tokens).
"""
