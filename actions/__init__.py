"""Custom actions, one module per feature. rasa-sdk imports every submodule.

rasa-sdk instantiates every non-abstract ``Action`` subclass with no arguments,
so actions keep no state and fetch what they need when they run.
"""
