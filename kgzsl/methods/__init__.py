"""ZSL methods: each takes seen-class features and class semantics, and scores all classes.

One file per method, named after it. Registered methods are listed by ``kgzsl list methods``.
"""

from kgzsl.methods.base import ZSLMethod, ZSLTask

__all__ = ["ZSLMethod", "ZSLTask"]
