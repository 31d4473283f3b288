from service.core.auth.principal import Principal

__all__ = ["Principal"]
