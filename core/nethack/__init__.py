"""NetHack for every tool: the text rendering of observations (``text``), the one seeded
environment factory (``env``), the symbolic agent, the game's facts it plays by and its strategy
table (``agent``, ``facts``, ``strategies``) and the recorded-games dataset format and loader
(``dataset``).

Importing this package is cheap: nle is imported by the submodules that need it.
"""
