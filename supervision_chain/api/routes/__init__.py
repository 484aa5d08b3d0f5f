"""The API's routes, one module per audience: lenders, auditors, the regulator."""
