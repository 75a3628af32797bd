"""A backtest's report: one self-contained HTML file (`spanwatch replay --report`), and the
comparison of two rule sets on the same history (`spanwatch rules diff`)."""
