"""``python -m leadflow_demo.generator --out DIR --leads N``: the demo landing zone, from the command line."""

from leadflow_demo.generator import main

main()
