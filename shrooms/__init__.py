"""shrooms: see what pretrained music auto-taggers have learned."""

__version__ = "0.1.0"
