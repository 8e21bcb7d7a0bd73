"""The LHCO R&D dijet study: the real files, the calibrated surrogate, figures."""
