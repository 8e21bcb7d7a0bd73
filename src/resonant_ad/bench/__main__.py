"""``python -m resonant_ad.bench``: the benchmarks' command line."""

from resonant_ad.bench.cli import main

raise SystemExit(main())
