"""`python -m aiinfra.catalog.rules` regenerates the README's list of cloud rules."""

from aiinfra.catalog.rules import main

raise SystemExit(main())
