"""The final recipe (``train --final``, ``scalesearch.train(..., final=True)``): how the model to
deploy is trained once the search has picked its configuration.

A search ranks configurations on a short schedule and holds the validation split out to rank
them; the configuration it picks is then trained on every image the search may use (train +
validation) for ``FINAL_EPOCHS_FACTOR`` times the searched epochs, as NAS papers train their
final architecture longer than their search did. Fine-tuning after pruning scales with the
epochs, as in the search. The export's interval states the search's protocol, not this one.
Measured in docs/benchmarks.md ("Small models"). A light module: the CLI's help reads it.
"""

FINAL_FIT = "train+val"
FINAL_EPOCHS_FACTOR = 3
