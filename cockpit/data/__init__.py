"""Data shipped with cockpit: the offline price catalogue (gpu_prices.csv, with its provenance in
gpu_prices_README.md)."""
