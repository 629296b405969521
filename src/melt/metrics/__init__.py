"""Pure functions from traces (and samples) to numbers: one definition for every framework."""
