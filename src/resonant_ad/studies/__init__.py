"""The studies: their data (generation, reading, features), figures and glue."""
