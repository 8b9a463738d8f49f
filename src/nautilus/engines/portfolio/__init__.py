"""The Portfolio engine: paper-trading accounts, orders, simulated fills, positions, optimisation."""
