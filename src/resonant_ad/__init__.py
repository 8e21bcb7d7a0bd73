"""resonant_ad: the shared package of the CATHODE / LaCATHODE enhanced-bump-hunt workflow.

Every computation of the Snakemake workflow lives here; the rules' scripts only read
their inputs and parameters and call one function of this package.
"""

__version__ = "0.1.0"
