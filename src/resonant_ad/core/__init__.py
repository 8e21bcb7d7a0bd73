"""The numerical core: flows (MAF, RQ splines, preprocessing), classifiers, epoch
ensembling, the estimator convention, seeding, devices, I/O, regions, plotting style.

Imports nothing above it."""
