"""`python -m promoter` runs the CLI."""

from promoter.cli import main

raise SystemExit(main())
