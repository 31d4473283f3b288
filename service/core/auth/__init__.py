from service.core.auth.authenticator import Authenticator
from service.core.auth.principal import Principal

__all__ = ["Authenticator", "Principal"]
