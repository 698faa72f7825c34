"""webinar-ops: the logistics of online webinars, from definition to reminder."""

__version__ = "0.1.0"
