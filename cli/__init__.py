"""papertools command-line tools: one package per paper, plus the root group in main.py."""
