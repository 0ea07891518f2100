"""``python -m snnrepro`` is the CLI too (needed under ``torchrun``)."""

from snnrepro.cli import app

app(prog_name="snnrepro")
