"""`python -m workbench.serving`: the standalone scoring server."""

from workbench.serving.standalone import main

main()
