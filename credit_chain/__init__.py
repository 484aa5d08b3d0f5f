"""The credit chain (征信链): private borrower pseudonyms, consent-bound multi-head borrowing checks, the borrower's own record."""
