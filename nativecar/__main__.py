"""`python -m nativecar`: the same as the `nativecar` command."""

from nativecar.cli import run

run()
