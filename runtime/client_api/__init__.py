"""The Client API (``import fljob.client as flare``) and the :class:`FLModel` it exchanges."""

from fljob.runtime.client_api.model import FLModel, MetaKey, ParamsType

__all__ = ["FLModel", "MetaKey", "ParamsType"]
