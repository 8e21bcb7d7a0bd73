"""Statistics on scores: SIC, the sculpting χ², and the dijet-function bump hunt."""
