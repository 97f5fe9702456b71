"""One router per audience or resource, assembled in ``api.app``."""
