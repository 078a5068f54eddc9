"""esimdesk: one desk console for four eSIM vendors."""

__version__ = "0.1.0"
