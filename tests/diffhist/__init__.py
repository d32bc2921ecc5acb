"""diffhist: diff histories of NetHack (and other text) observations."""
