"""The service chain (服务链): pool authenticity certificates, the encumbrance registry, the chain of title."""
