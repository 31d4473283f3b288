from service.core.helpers.caches.base.backend import CacheBackend, CacheUnavailableError, Lookup
from service.core.helpers.caches.base.key_maker import KeyMaker

__all__ = ["CacheBackend", "CacheUnavailableError", "KeyMaker", "Lookup"]
