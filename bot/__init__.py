"""The storefront support assistant: web service, shared core and Rasa components.

Importing this package does nothing: each process imports what it needs.
"""
