"""The names ``--precision`` and the API's ``precision`` accept, defined once for every command; what each means on
which hardware is ``srgan.runtime``'s policy. No torch here: the command line is built without it."""

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
