"""The risk-control chain (风控链): indicators over the supervision chain's reports, a scorecard, warnings."""
