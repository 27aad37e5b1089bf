"""xltransfer: does task similarity predict zero-shot cross-lingual transfer gains?"""

__version__ = "0.1.0"
