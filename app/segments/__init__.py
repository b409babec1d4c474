"""Customer segments: who is likely to come back, and what they are likely to be worth."""
