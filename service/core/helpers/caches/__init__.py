from service.core.helpers.caches.base import CacheBackend, CacheUnavailableError, KeyMaker, Lookup
from service.core.helpers.caches.cache_manager import CacheManager
from service.core.helpers.caches.cache_tag import CacheTag
from service.core.helpers.caches.key_maker import FunctionKeyMaker
from service.core.helpers.caches.redis_backend import RedisCacheBackend

__all__ = [
    "CacheBackend",
    "CacheManager",
    "CacheTag",
    "CacheUnavailableError",
    "FunctionKeyMaker",
    "KeyMaker",
    "Lookup",
    "RedisCacheBackend",
]
