"""Random run names in MLflow's ``adjective-noun-N`` shape (at most 20 characters)."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "daring", "eager",
    "fancy", "fast", "fierce", "gentle", "glad", "grand", "happy", "honest", "jolly", "keen",
    "kind", "lively", "loud", "lucky", "merry", "mighty", "neat", "nimble", "noble", "plucky",
    "polite", "proud", "quick", "quiet", "rapid", "rare", "rustic", "sharp", "shiny", "silent",
    "smart", "snappy", "solid", "steady", "stellar", "sunny", "swift", "tidy", "vivid", "witty",
)
_NOUNS = (
    "ant", "bass", "bat", "bear", "bee", "bison", "boar", "carp", "cat", "colt", "crab", "crow",
    "deer", "dove", "duck", "eel", "elk", "finch", "fox", "frog", "gnat", "goat", "hare", "hawk",
    "ibis", "jay", "koala", "lark", "lion", "lynx", "mole", "moth", "newt", "owl", "panda",
    "perch", "pike", "puma", "quail", "ram", "seal", "shrew", "snail", "swan", "toad", "trout",
    "vole", "wasp", "wolf", "wren", "yak", "zebra",
)


def random_run_name() -> str:
    return (f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-"
            f"{secrets.randbelow(1000)}")
