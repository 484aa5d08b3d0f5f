"""The court portal: judges verify evidence by deposit code, in batch (API first; the web page builds on it)."""
