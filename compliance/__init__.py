"""Compliance: weekly adherence metrics per team, their drift, and evidence for an audit period.

Pure computations over decoded events and rule hits (the engine feeds them): no rules,
detectors or dataflow imported here.
"""
