"""Custom Rasa NLU components. Imported only inside the Rasa process (Rasa's env)."""
