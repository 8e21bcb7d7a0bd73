"""The two-dimensional toy study of the LaCATHODE paper (its Section III)."""
