"""pytest plugin for mutation runs: Hypothesis stops at the first failing example.

A mutant is killed by any failure; shrinking it to a minimal example (a minute per mutant on
tests/test_plan.py) buys nothing. The tests' own @settings (max_examples, deadline) still apply:
they set no `phases`, so this profile's phases win.
"""

from hypothesis import Phase, settings

settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("mutation")
