"""The supervision chain (监管链): lenders deposit digests of every loan record in real time."""
