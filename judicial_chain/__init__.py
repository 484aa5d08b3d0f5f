"""The judicial chain (司法链): anchors supervision blocks and issues deposit codes (存证编码)."""
